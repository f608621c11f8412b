//! The workspace as cargo sees it, the build tools, and the release build of the processors.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, ensure, Context};
use serde::Deserialize;

use super::elf::GlibcVersion;
use super::Architecture;

/// The package whose binaries are the Lambda functions.
pub const PROCESSORS_PACKAGE: &str = "shipstack-processors";
/// The Cargo profile the zips are built with (`[profile.lambda]` in the workspace manifest).
pub const PROFILE: &str = "lambda";
/// The command that installs the build tools.
pub const SETUP_COMMAND: &str = "scripts/setup-build-tools";
/// `SOURCE_DATE_EPOCH` for build scripts that embed a date: 1980-01-01, the zip epoch.
const SOURCE_DATE_EPOCH: &str = "315532800";

/// `cargo`: the one that runs us under `cargo run`, else the one on `PATH`.
pub fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

#[derive(Debug, Deserialize)]
struct Metadata {
    workspace_root: PathBuf,
    target_directory: PathBuf,
    packages: Vec<MetaPackage>,
}

#[derive(Debug, Deserialize)]
struct MetaPackage {
    name: String,
    manifest_path: PathBuf,
    targets: Vec<MetaTarget>,
    dependencies: Vec<MetaDependency>,
}

#[derive(Debug, Deserialize)]
struct MetaTarget {
    name: String,
    kind: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct MetaDependency {
    path: Option<PathBuf>,
    kind: Option<String>,
}

/// What packaging needs to know about the workspace.
#[derive(Debug)]
pub struct Workspace {
    pub root: PathBuf,
    pub target_directory: PathBuf,
    /// Binary targets of [`PROCESSORS_PACKAGE`].
    pub processor_bins: Vec<String>,
    /// Directories of the processors package and every path dependency it builds with
    /// (normal and build dependencies, transitively): the sources that end up in the zips.
    pub source_dirs: Vec<PathBuf>,
}

impl Workspace {
    /// `cargo metadata --no-deps` of the workspace around the current directory.
    pub fn discover() -> anyhow::Result<Workspace> {
        let output = Command::new(cargo())
            .args(["metadata", "--no-deps", "--format-version", "1"])
            .stderr(Stdio::inherit())
            .output()
            .context("running `cargo metadata` (is cargo installed?)")?;
        ensure!(
            output.status.success(),
            "`cargo metadata` failed ({})",
            output.status
        );
        let metadata: Metadata =
            serde_json::from_slice(&output.stdout).context("parsing `cargo metadata` output")?;

        let dir_of = |p: &MetaPackage| p.manifest_path.parent().map(Path::to_path_buf);
        let processors = metadata
            .packages
            .iter()
            .find(|p| p.name == PROCESSORS_PACKAGE)
            .with_context(|| {
                format!(
                    "package `{PROCESSORS_PACKAGE}` is not in the workspace at {}",
                    metadata.workspace_root.display()
                )
            })?;
        let processor_bins = processors
            .targets
            .iter()
            .filter(|t| t.kind.iter().any(|k| k == "bin"))
            .map(|t| t.name.clone())
            .collect();

        let mut source_dirs = Vec::new();
        let mut pending = vec![dir_of(processors).context("processors manifest has no parent")?];
        while let Some(dir) = pending.pop() {
            if source_dirs.contains(&dir) {
                continue;
            }
            if let Some(package) = metadata
                .packages
                .iter()
                .find(|p| dir_of(p).as_ref() == Some(&dir))
            {
                for dep in &package.dependencies {
                    if dep.kind.as_deref() == Some("dev") {
                        continue;
                    }
                    if let Some(path) = &dep.path {
                        pending.push(path.clone());
                    }
                }
            }
            source_dirs.push(dir);
        }
        source_dirs.sort();

        Ok(Workspace {
            root: metadata.workspace_root,
            target_directory: metadata.target_directory,
            processor_bins,
            source_dirs,
        })
    }
}

/// cargo-zigbuild and the zig it links with.
#[derive(Debug)]
pub struct Tools {
    pub zigbuild: PathBuf,
    pub zig: PathBuf,
    pub zigbuild_version: String,
    pub zig_version: String,
}

impl Tools {
    /// Looks in `$SHIPSTACK_TOOLS_DIR/bin` (default `<workspace>/.tools/bin`, where
    /// `scripts/setup-build-tools` links them), then on `PATH`.
    pub fn find(workspace_root: &Path) -> anyhow::Result<Tools> {
        let tools_dir = std::env::var_os("SHIPSTACK_TOOLS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_root.join(".tools"));
        let bin_dir = tools_dir.join("bin");
        let locate = |name: &str| -> anyhow::Result<PathBuf> {
            let local = bin_dir.join(name);
            if is_executable(&local) {
                return Ok(local);
            }
            let on_path = std::env::var_os("PATH")
                .map(|path| {
                    std::env::split_paths(&path)
                        .map(|d| d.join(name))
                        .find(|p| is_executable(p))
                })
                .unwrap_or_default();
            on_path.with_context(|| {
                format!(
                    "`{name}` is not installed (looked in {} and on PATH); install the build tools with `{SETUP_COMMAND}`",
                    bin_dir.display()
                )
            })
        };
        let zigbuild = locate("cargo-zigbuild")?;
        let zig = locate("zig")?;
        let zigbuild_version = tool_output(&zigbuild, &["--version"])?;
        let zig_version = tool_output(&zig, &["version"])?;
        Ok(Tools {
            zigbuild,
            zig,
            zigbuild_version,
            zig_version,
        })
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

fn tool_output(program: &Path, args: &[&str]) -> anyhow::Result<String> {
    let output = Command::new(program).args(args).output().with_context(|| {
        format!(
            "running `{} {}`; reinstall with `{SETUP_COMMAND}`",
            program.display(),
            args.join(" ")
        )
    })?;
    ensure!(
        output.status.success(),
        "`{} {}` failed ({}): {}; reinstall with `{SETUP_COMMAND}`",
        program.display(),
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// `rustc -vV`: the toolchain identity that goes into the inputs fingerprint.
pub fn rustc_version() -> anyhow::Result<String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    tool_output(Path::new(&rustc), &["-vV"])
}

/// Fails unless the Rust standard library for `target` is installed.
pub fn ensure_target_installed(target: &str) -> anyhow::Result<()> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let libdir = tool_output(
        Path::new(&rustc),
        &["--print", "target-libdir", "--target", target],
    )?;
    ensure!(
        Path::new(&libdir).is_dir(),
        "the Rust standard library for {target} is not installed (`rustup target add {target}`)"
    );
    Ok(())
}

/// Everything about the build that is not a source file.
pub struct BuildPlan<'a> {
    pub workspace: &'a Workspace,
    pub tools: &'a Tools,
    pub architecture: Architecture,
    pub glibc: GlibcVersion,
    pub target_dir: PathBuf,
    pub functions: &'a [&'a str],
}

impl BuildPlan<'_> {
    /// `x86_64-unknown-linux-gnu.2.34`: cargo-zigbuild's spelling of "link against glibc 2.34".
    pub fn zig_target(&self) -> String {
        format!("{}.{}", super::rust_target(self.architecture), self.glibc)
    }

    /// Path prefixes that would otherwise end up in the binaries (panic locations, `file!()`,
    /// C `__FILE__`), each with the checkout-independent name it is replaced by. Later entries
    /// win when several match (rustc's rule), so the more specific ones come last.
    fn remaps(&self) -> Vec<(PathBuf, &'static str)> {
        let mut remaps = Vec::new();
        if let Some(cargo_home) = cargo_home() {
            remaps.push((cargo_home, "/cargo"));
        }
        remaps.push((self.workspace.root.clone(), "/shipstack"));
        remaps.push((self.target_dir.clone(), "/target"));
        remaps
    }

    /// The exact rustflags of the build: nothing from the environment or cargo config leaks in.
    pub fn rustflags(&self) -> Vec<String> {
        self.remaps()
            .into_iter()
            .map(|(from, to)| format!("--remap-path-prefix={}={to}", from.display()))
            .collect()
    }

    fn cflags(&self) -> String {
        self.remaps()
            .into_iter()
            .map(|(from, to)| format!("-ffile-prefix-map={}={to}", from.display()))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The flags with the checkout-specific paths left out: what the fingerprint records.
    pub fn flags_fingerprint(&self) -> String {
        let remaps: Vec<_> = self.remaps().into_iter().map(|(_, to)| to).collect();
        format!("remap-path-prefix and file-prefix-map to {remaps:?}; SOURCE_DATE_EPOCH={SOURCE_DATE_EPOCH}; profile {PROFILE} --locked")
    }

    /// Runs the build, streaming cargo's progress, and returns each function's binary.
    pub fn run(&self) -> anyhow::Result<BTreeMap<String, PathBuf>> {
        let missing: Vec<_> = self
            .functions
            .iter()
            .filter(|f| !self.workspace.processor_bins.iter().any(|b| b == *f))
            .collect();
        ensure!(
            missing.is_empty(),
            "{PROCESSORS_PACKAGE} has no binary target for {missing:?} (it has {:?}); every function in contract::functions::ALL needs `src/bin/<function>.rs`",
            self.workspace.processor_bins
        );

        let mut command = Command::new(&self.tools.zigbuild);
        command
            .arg("zigbuild")
            .args(["--profile", PROFILE])
            .args(["--locked", "--message-format=json-render-diagnostics"])
            .arg("--manifest-path")
            .arg(self.workspace.root.join("Cargo.toml"))
            .args(["--package", PROCESSORS_PACKAGE]);
        for function in self.functions {
            command.args(["--bin", function]);
        }
        command
            .arg("--target")
            .arg(self.zig_target())
            .arg("--target-dir")
            .arg(&self.target_dir);

        for var in [
            "RUSTFLAGS",
            "CARGO_BUILD_RUSTFLAGS",
            "CARGO_TARGET_DIR",
            "CARGO_BUILD_TARGET",
            "CARGO_BUILD_TARGET_DIR",
            "CARGO_ENCODED_RUSTFLAGS",
            "CFLAGS",
            "CXXFLAGS",
        ] {
            command.env_remove(var);
        }
        let cflags = self.cflags();
        command
            .env("CARGO_ENCODED_RUSTFLAGS", self.rustflags().join("\x1f"))
            .env("CFLAGS", &cflags)
            .env("CXXFLAGS", &cflags)
            .env("SOURCE_DATE_EPOCH", SOURCE_DATE_EPOCH)
            .env("CARGO_ZIGBUILD_ZIG_PATH", &self.tools.zig)
            .env("CARGO", cargo())
            .current_dir(&self.workspace.root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());

        let mut child = command.spawn().with_context(|| {
            format!(
                "starting {}; reinstall with `{SETUP_COMMAND}`",
                self.tools.zigbuild.display()
            )
        })?;
        let stdout = child.stdout.take().expect("piped stdout");
        let mut binaries = BTreeMap::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.context("reading cargo's output")?;
            let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else {
                // Not a cargo message (a build script printing to stdout): pass it on.
                println!("{line}");
                continue;
            };
            if message["reason"] != "compiler-artifact" {
                continue;
            }
            let is_bin = message["target"]["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "bin"));
            let name = message["target"]["name"].as_str().unwrap_or_default();
            if let (true, Some(executable)) = (is_bin, message["executable"].as_str()) {
                if self.functions.contains(&name) {
                    binaries.insert(name.to_string(), PathBuf::from(executable));
                }
            }
        }
        let status = child.wait().context("waiting for cargo-zigbuild")?;
        if !status.success() {
            bail!("the {PROFILE} build of {PROCESSORS_PACKAGE} failed ({status}); see cargo's output above");
        }
        for function in self.functions {
            ensure!(
                binaries.contains_key(*function),
                "cargo reported no executable for `{function}`"
            );
        }
        Ok(binaries)
    }
}

/// `$CARGO_HOME`, default `~/.cargo`: registry and git sources live under it.
fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
}
