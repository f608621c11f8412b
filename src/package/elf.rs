//! What a Linux binary needs from glibc, read from its ELF version requirements.
//!
//! The dynamic loader refuses to start a binary when one of its `.gnu.version_r` entries names a
//! glibc version the system's libc does not define, so those entries (not the symbol names) are
//! the ground truth. Each symbol that pulls in a version is attributed to it for the error message.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use anyhow::{bail, Context};
use object::elf;
use object::read::elf::{ElfFile64, FileHeader, Sym};
use object::{Endianness, SymbolIndex};

/// A glibc release, e.g. `2.34` or `2.2.5`; ordered numerically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GlibcVersion {
    major: u32,
    minor: u32,
    patch: u32,
}

impl GlibcVersion {
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        GlibcVersion {
            major,
            minor,
            patch,
        }
    }
}

impl FromStr for GlibcVersion {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Self> {
        let parts = s
            .split('.')
            .map(|part| {
                if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                    bail!("`{s}` is not a glibc version like 2.34");
                }
                part.parse::<u32>()
                    .with_context(|| format!("`{s}` is not a glibc version"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        match parts[..] {
            [major, minor] => Ok(GlibcVersion::new(major, minor, 0)),
            [major, minor, patch] => Ok(GlibcVersion::new(major, minor, patch)),
            _ => bail!("`{s}` is not a glibc version like 2.34"),
        }
    }
}

impl fmt::Display for GlibcVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)?;
        if self.patch != 0 {
            write!(f, ".{}", self.patch)?;
        }
        Ok(())
    }
}

impl serde::Serialize for GlibcVersion {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for GlibcVersion {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What one binary asks of the system it runs on.
#[derive(Debug, Clone)]
pub struct BinaryInfo {
    /// ELF `e_machine` (`EM_X86_64`, `EM_AARCH64`, ...).
    pub machine: u16,
    /// Every glibc version requirement (`GLIBC_2.34`, `GLIBC_ABI_DT_RELR`, ...), by name.
    pub glibc: BTreeMap<String, Requirement>,
}

/// One `.gnu.version_r` entry of glibc and the imported symbols that use it.
#[derive(Debug, Clone, Default)]
pub struct Requirement {
    /// The libraries the version is required from (`libc.so.6`, `libm.so.6`, ...).
    pub libraries: BTreeSet<String>,
    /// Undefined dynamic symbols bound to this version (empty for ABI markers).
    pub symbols: BTreeSet<String>,
}

/// The glibc release that introduced a version name, or `None` for a name whose release is not
/// known (`GLIBC_PRIVATE`, a future ABI marker): those never pass a ceiling check.
pub fn release_of(version_name: &str) -> Option<GlibcVersion> {
    match version_name {
        // Added by `ld -z pack-relative-relocs`; only glibc 2.36+ defines it.
        "GLIBC_ABI_DT_RELR" => Some(GlibcVersion::new(2, 36, 0)),
        _ => version_name.strip_prefix("GLIBC_")?.parse().ok(),
    }
}

impl BinaryInfo {
    /// Reads a 64-bit ELF executable.
    pub fn parse(data: &[u8]) -> anyhow::Result<BinaryInfo> {
        let file = ElfFile64::<Endianness>::parse(data)
            .context("not a 64-bit ELF executable (a Lambda bootstrap must be one)")?;
        let endian = file.endian();
        let header = file.elf_header();
        match header.e_type(endian) {
            elf::ET_EXEC | elf::ET_DYN => {}
            other => bail!("ELF type {other} is not an executable"),
        }
        let sections = file.elf_section_table();

        let mut glibc: BTreeMap<String, Requirement> = BTreeMap::new();
        if let Some((mut needs, link)) = sections.gnu_verneed(endian, data)? {
            let strings = sections.strings(endian, data, link)?;
            while let Some((need, mut auxes)) = needs.next()? {
                let library = String::from_utf8_lossy(need.file(endian, strings)?).into_owned();
                while let Some(aux) = auxes.next()? {
                    let name = String::from_utf8_lossy(aux.name(endian, strings)?).into_owned();
                    if name.starts_with("GLIBC_") {
                        glibc
                            .entry(name)
                            .or_default()
                            .libraries
                            .insert(library.clone());
                    }
                }
            }
        }

        if let Some(versions) = sections.versions(endian, data)? {
            let symbols = file.elf_dynamic_symbol_table();
            let strings = symbols.strings();
            for (index, symbol) in symbols.iter().enumerate() {
                if !symbol.is_undefined(endian) {
                    continue;
                }
                let version_index = versions.version_index(endian, SymbolIndex(index));
                let Some(version) = versions.version(version_index)? else {
                    continue;
                };
                let version_name = String::from_utf8_lossy(version.name());
                if let Some(requirement) = glibc.get_mut(version_name.as_ref()) {
                    let name = symbol.name(endian, strings)?;
                    requirement
                        .symbols
                        .insert(String::from_utf8_lossy(name).into_owned());
                }
            }
        }

        Ok(BinaryInfo {
            machine: header.e_machine(endian),
            glibc,
        })
    }

    /// The newest glibc release the binary needs, `None` when it needs no versioned glibc symbol
    /// (static or musl binaries). Unknown version names are ignored here; see [`Self::violations`].
    pub fn required_glibc(&self) -> Option<GlibcVersion> {
        self.glibc.keys().filter_map(|name| release_of(name)).max()
    }

    /// Human-readable reasons the binary would not load on a glibc of version `ceiling`, empty
    /// when it does.
    pub fn violations(&self, ceiling: GlibcVersion) -> Vec<String> {
        let mut problems = Vec::new();
        for (name, requirement) in &self.glibc {
            let libraries = requirement
                .libraries
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            let used_by = if requirement.symbols.is_empty() {
                String::new()
            } else {
                let shown = requirement
                    .symbols
                    .iter()
                    .take(8)
                    .cloned()
                    .collect::<Vec<_>>();
                let more = requirement.symbols.len() - shown.len();
                let more = if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                };
                format!(", used by {}{more}", shown.join(", "))
            };
            match release_of(name) {
                Some(release) if release <= ceiling => {}
                Some(release) => problems.push(format!(
                    "needs {name} from {libraries} (glibc {release} > {ceiling}){used_by}"
                )),
                None => problems.push(format!(
                    "needs {name} from {libraries}, which no glibc release guarantees{used_by}"
                )),
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_order_numerically_not_lexically() {
        let v = |s: &str| s.parse::<GlibcVersion>().unwrap();
        assert!(v("2.2.5") < v("2.17"));
        assert!(v("2.17") < v("2.34"));
        assert!(v("2.34") < v("2.35"));
        assert_eq!(v("2.34").to_string(), "2.34");
        assert_eq!(v("2.2.5").to_string(), "2.2.5");
    }

    #[test]
    fn rejects_malformed_versions() {
        for bad in ["", "2", "2.", "2.x", "v2.34", "2.34.1.1", "2.-1"] {
            assert!(bad.parse::<GlibcVersion>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn abi_markers_and_private_symbols_have_known_or_no_release() {
        assert_eq!(release_of("GLIBC_2.34"), Some(GlibcVersion::new(2, 34, 0)));
        assert_eq!(release_of("GLIBC_2.2.5"), Some(GlibcVersion::new(2, 2, 5)));
        assert_eq!(
            release_of("GLIBC_ABI_DT_RELR"),
            Some(GlibcVersion::new(2, 36, 0))
        );
        assert_eq!(release_of("GLIBC_PRIVATE"), None);
        assert_eq!(release_of("GLIBC_ABI_SOMETHING_NEW"), None);
    }

    #[test]
    fn private_glibc_abi_is_a_violation_at_any_ceiling() {
        let mut info = BinaryInfo {
            machine: elf::EM_X86_64,
            glibc: BTreeMap::new(),
        };
        info.glibc
            .insert("GLIBC_2.2.5".into(), Requirement::default());
        assert!(info.violations(GlibcVersion::new(2, 34, 0)).is_empty());
        info.glibc
            .insert("GLIBC_PRIVATE".into(), Requirement::default());
        let problems = info.violations(GlibcVersion::new(9, 99, 0));
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("GLIBC_PRIVATE"), "{problems:?}");
    }

    #[test]
    fn reads_the_glibc_requirements_of_this_test_binary() {
        // The test executable itself is a dynamically linked glibc binary.
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let info = BinaryInfo::parse(&exe).unwrap();
        assert_eq!(info.machine, elf::EM_X86_64);
        let required = info.required_glibc().expect("links glibc");
        assert!(required >= GlibcVersion::new(2, 2, 5), "{required}");
        assert!(info
            .glibc
            .values()
            .any(|r| r.libraries.contains("libc.so.6")));
        assert!(info.glibc.values().any(|r| !r.symbols.is_empty()));
    }

    #[test]
    fn rejects_non_elf_input() {
        let err = BinaryInfo::parse(b"#!/bin/sh\necho hi\n").unwrap_err();
        assert!(format!("{err:#}").contains("not a 64-bit ELF"), "{err:#}");
    }
}
