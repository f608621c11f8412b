//! `shipstack render`: one environment's Terraform JSON, written all at once or not at all.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::{config, envdoc, platform};

/// The rendered files of one environment: file name -> contents.
pub type Files = std::collections::BTreeMap<String, String>;

/// One rendered environment.
pub struct Rendered {
    pub env: config::EnvConfig,
    pub files: Files,
    /// How many resources the files declare.
    pub resources: usize,
}

/// Loads, validates and renders the environment in `env_dir`.
pub fn render_env(env_dir: &Path) -> Result<Rendered> {
    let env = config::load(env_dir)?;
    let doc = platform::build(&env)?;
    let mut files = doc.render(aws::file_of).with_context(|| {
        format!(
            "{}: cannot render",
            env_dir.join(config::ENV_FILE).display()
        )
    })?;
    files.insert("README.md".into(), envdoc::readme(&env, &doc)?);
    Ok(Rendered {
        resources: doc.resources().count(),
        env,
        files,
    })
}

/// The environments named by `args`, each an environment directory or a directory of them
/// (`envs/`, expanded in name order). An argument holding neither stands for itself, so the
/// error names the `env.json` it lacks.
pub fn env_dirs(args: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for arg in args {
        let mut found: Vec<PathBuf> = match fs::read_dir(arg) {
            Ok(entries) if !arg.join(config::ENV_FILE).exists() => entries
                .filter_map(|entry| Some(entry.ok()?.path()))
                .filter(|dir| dir.join(config::ENV_FILE).is_file())
                .collect(),
            _ => Vec::new(),
        };
        if found.is_empty() {
            dirs.push(arg.clone());
        } else {
            found.sort();
            dirs.extend(found);
        }
    }
    dirs
}

/// The default output directory of an environment: `generated/<name>` beside `envs/`.
pub fn default_out_dir(env_dir: &Path, name: &str) -> PathBuf {
    let root = env_dir
        .parent()
        .and_then(Path::parent)
        .unwrap_or(Path::new("."));
    root.join("generated").join(name)
}

/// Whether the renderer owns a file of an output directory: its Terraform JSON and README.
/// Everything else there belongs to Terraform or the user (`.terraform/`,
/// `.terraform.lock.hcl`, `terraform.tfvars`, a local backend's `terraform.tfstate`, a saved
/// plan) and is carried over to the new render untouched.
fn rendered_here(name: &str) -> bool {
    name.ends_with(".tf.json") || name == "README.md"
}

/// Replaces the rendered files of `out` with exactly `files`: written to a sibling temporary
/// directory first, then swapped in, so a failure leaves the previous output as it was. What
/// the renderer does not own (see [`rendered_here`]) moves into the new directory first.
pub fn write_atomically(out: &Path, files: &Files) -> Result<()> {
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".render-")
        .tempdir_in(parent)
        .with_context(|| format!("cannot create a staging directory in {}", parent.display()))?;
    for (name, contents) in files {
        fs::write(staging.path().join(name), contents)
            .with_context(|| format!("cannot write {name}"))?;
    }
    let previous = parent.join(format!(
        ".previous-{}",
        out.file_name().and_then(|n| n.to_str()).unwrap_or("out")
    ));
    // Left by an interrupted render, it may hold Terraform state: never delete it unasked.
    if previous.exists() {
        anyhow::bail!(
            "{} is left from an interrupted render and may hold Terraform files (state, tfvars): move what you need into {} and remove it",
            previous.display(),
            out.display()
        );
    }
    if out.exists() {
        fs::rename(out, &previous)
            .with_context(|| format!("cannot move {} aside", out.display()))?;
    }
    let staged = staging.keep();
    if let Err(err) = fs::rename(&staged, out) {
        if previous.exists() {
            fs::rename(&previous, out).ok();
        }
        return Err(err)
            .with_context(|| format!("cannot move the rendered files to {}", out.display()));
    }
    if previous.exists() {
        // Only once the new render is in place: until then a failure leaves them where they were.
        for entry in fs::read_dir(&previous)? {
            let entry = entry?;
            let name = entry.file_name();
            if !rendered_here(&name.to_string_lossy()) {
                fs::rename(entry.path(), out.join(&name)).with_context(|| {
                    format!(
                        "cannot carry {} over to the new render; it is still in {}",
                        name.to_string_lossy(),
                        previous.display()
                    )
                })?;
            }
        }
        fs::remove_dir_all(&previous)?;
    }
    Ok(())
}
