//! Where the repository's inputs are.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use shipment::contract::functions;

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.join("../..")
        .canonicalize()
        .unwrap_or(here.join("../.."))
}

/// `generated/local`: the rendered local environment.
pub fn rendered_local() -> PathBuf {
    repo_root().join("generated/local")
}

/// `generated/dist`: the packaged functions (`cargo run -- package`).
pub fn dist() -> PathBuf {
    repo_root().join("generated/dist")
}

/// `.venv/bin/python` (`scripts/setup-python`, which installs moto there): it runs the launcher.
pub fn venv_python() -> PathBuf {
    repo_root().join(".venv/bin/python")
}

/// `modules/local/moto/launch.py`: moto's server with the patches that make it answer as AWS does.
pub fn moto_launcher() -> PathBuf {
    repo_root().join("modules/local/moto/launch.py")
}

/// Fails with what to run when a packaged function is missing.
pub fn check_dist(dist: &Path) -> Result<()> {
    let missing: Vec<String> = functions::ALL
        .iter()
        .map(|name| dist.join(format!("{name}.zip")))
        .filter(|zip| !zip.is_file())
        .map(|zip| zip.display().to_string())
        .collect();
    if !missing.is_empty() {
        bail!(
            "packaged functions missing: {}\nrun `cargo run -- package` first (it writes generated/dist/<function>.zip)",
            missing.join(", ")
        );
    }
    Ok(())
}
