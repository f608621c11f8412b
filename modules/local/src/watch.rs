//! `shipstack-local up --watch`: the inner loop. When a processor's source changes, cargo
//! rebuilds the functions (the dev profile, incremental: seconds, where `package` takes
//! minutes) and every function whose binary changed gets it in place: its next invocation
//! starts a runtime process on the new code. Nothing is re-applied, and `generated/dist`
//! keeps the packaged zips, so `shipstack plan` still deploys what `package` built.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use notify::{RecursiveMode, Watcher};
use serde_json::Value;

use crate::{paths, Harness};

/// The crates the functions are built from: the processors and their domain crate.
pub const SOURCES: [&str; 2] = ["modules/processors", "modules/shipment"];

/// How long a burst of file events (an editor's save, a `git checkout`) may take.
const SETTLE: Duration = Duration::from_millis(300);

/// Whether a change to `path` can change a function's binary.
pub fn is_source(path: &Path) -> bool {
    let built = path.extension().is_some_and(|e| e == "rs")
        || path.file_name().is_some_and(|n| n == "Cargo.toml");
    built && !path.components().any(|c| c.as_os_str() == "target")
}

/// A function binary cargo built.
#[derive(Debug)]
pub struct Built {
    pub executable: PathBuf,
    /// Cargo found it up to date and did not link it again.
    pub fresh: bool,
}

/// `cargo build` of the functions; each binary by contract name (the bin targets are named
/// after the functions). Compiler messages go to stderr as cargo prints them.
pub async fn build() -> Result<BTreeMap<String, Built>> {
    let output = tokio::process::Command::new(std::env::var("CARGO").unwrap_or("cargo".into()))
        .current_dir(paths::repo_root())
        .args([
            "build",
            "--package",
            "shipstack-processors",
            "--bins",
            "--message-format=json-render-diagnostics",
        ])
        .stderr(std::process::Stdio::inherit())
        .output()
        .await
        .context("run cargo build")?;
    if !output.status.success() {
        bail!("cargo build failed ({})", output.status);
    }
    let mut binaries = BTreeMap::new();
    for line in output.stdout.split(|b| *b == b'\n') {
        let Ok(message) = serde_json::from_slice::<Value>(line) else {
            continue;
        };
        if let (Some(name), Some(executable)) = (
            message["target"]["name"].as_str(),
            message["executable"].as_str(),
        ) {
            let built = Built {
                executable: PathBuf::from(executable),
                fresh: message["fresh"].as_bool().unwrap_or(false),
            };
            binaries.insert(name.to_owned(), built);
        }
    }
    Ok(binaries)
}

/// Rebuilds and reloads on every change under [`SOURCES`] until an error stops it; a build
/// that fails leaves the functions on their previous code.
pub async fn run(harness: &Harness) -> Result<()> {
    let (tx, mut changes) = tokio::sync::mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event {
            // Only writes: the build itself opens and reads every source file.
            let written =
                event.kind.is_create() || event.kind.is_modify() || event.kind.is_remove();
            if written && event.paths.iter().any(|p| is_source(p)) {
                let _ = tx.send(());
            }
        }
    })?;
    let root = paths::repo_root();
    for source in SOURCES {
        watcher.watch(&root.join(source), RecursiveMode::Recursive)?;
    }
    println!("watching {} for changes", SOURCES.join(" and "));
    // The functions start on the packaged binaries: the first build replaces every one.
    let mut first = true;
    while changes.recv().await.is_some() {
        tokio::time::sleep(SETTLE).await;
        while changes.try_recv().is_ok() {}
        let started = Instant::now();
        println!("source changed: building the functions ...");
        let binaries = match build().await {
            Ok(binaries) => binaries,
            Err(error) => {
                eprintln!("{error:#}: the functions keep running their previous code");
                continue;
            }
        };
        let mut reloaded = Vec::new();
        for (name, function) in harness.functions() {
            let Some(built) = binaries.get(name) else {
                bail!("cargo built no binary named {name}");
            };
            if (first || !built.fresh) && function.replace_code(&built.executable)? {
                reloaded.push(name.as_str());
            }
        }
        first = false;
        println!(
            "built in {:.1} s; {}",
            started.elapsed().as_secs_f64(),
            if reloaded.is_empty() {
                "no function's binary changed".to_owned()
            } else {
                format!("reloaded {}", reloaded.join(", "))
            }
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rust_sources_and_manifests_outside_target_trigger_a_build() {
        for built in [
            "modules/processors/src/bin/queue-processor.rs",
            "modules/shipment/src/event.rs",
            "modules/processors/Cargo.toml",
        ] {
            assert!(is_source(Path::new(built)), "{built}");
        }
        for ignored in [
            "modules/processors/src/.queue-processor.rs.swp",
            "modules/processors/README.md",
            "modules/processors/target/debug/build/x.rs",
            "modules/shipment/src/event.rs~",
        ] {
            assert!(!is_source(Path::new(ignored)), "{ignored}");
        }
    }
}
