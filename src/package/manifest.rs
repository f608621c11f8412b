//! `generated/dist/manifest.json`: what was packaged, for the renderer, CI and the next run.
//!
//! Deterministic: no timestamps and no absolute paths, so two clean builds of the same sources
//! in different directories write the same manifest.

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::elf::GlibcVersion;
use super::Architecture;

/// Bumped when the manifest's shape or the zip layout changes (a new format rebuilds).
pub const FORMAT: u32 = 1;
/// File name of the manifest in the output directory.
pub const FILE_NAME: &str = "manifest.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: u32,
    /// Lambda `architectures` value of every function.
    pub architecture: Architecture,
    /// Rust target the binaries were built for.
    pub target: String,
    /// The glibc every binary was checked against (Amazon Linux 2023: 2.34).
    pub glibc_ceiling: GlibcVersion,
    /// SHA-256 (hex) of everything the zips are made from: sources, lock file, toolchain and
    /// tool versions, target, flags. Equal inputs and verified zips mean nothing to rebuild.
    pub inputs: String,
    /// One entry per function, in `contract::functions::ALL` order.
    pub functions: Vec<FunctionZip>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionZip {
    /// Function (and binary) name, e.g. `ingest-api`.
    pub function: String,
    /// The zip, relative to the manifest's directory: `<function>.zip`.
    pub zip: String,
    /// Size of the zip in bytes.
    pub size: u64,
    /// `base64(sha256(zip))`, equal to Terraform's `filebase64sha256(<zip>)`.
    pub sha256: String,
    /// Lambda architecture of the binary.
    pub architecture: Architecture,
    /// The newest glibc the binary needs (`null` when it needs none); `<= glibc_ceiling`.
    pub glibc_required: Option<GlibcVersion>,
    /// Size of `bootstrap` before compression, in bytes.
    pub binary_size: u64,
    /// SHA-256 (hex) of `bootstrap`.
    pub binary_sha256: String,
}

impl Manifest {
    /// Reads a manifest; `Ok(None)` when there is none or it is of another format.
    pub fn load(path: &Path) -> anyhow::Result<Option<Manifest>> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
        };
        match serde_json::from_str::<Manifest>(&text) {
            Ok(manifest) if manifest.format == FORMAT => Ok(Some(manifest)),
            // An older or foreign manifest is simply out of date.
            _ => Ok(None),
        }
    }

    pub fn to_json(&self) -> String {
        let mut json = serde_json::to_string_pretty(self).expect("manifest serializes");
        json.push('\n');
        json
    }
}
