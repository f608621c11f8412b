//! `shipstack package`: the processor binaries, built for `provided.al2023`, as one deterministic
//! zip per function in `generated/dist/`, with a manifest the renderer and CI check.
//!
//! 1. Fingerprint the inputs (sources of the processors and their path dependencies, lock file,
//!    toolchain and tool versions, target, flags); when the manifest in the output directory has
//!    the same fingerprint and every zip still hashes to what it records, stop: nothing changed.
//! 2. Build every function with the `lambda` profile (release, whole-program LTO) and
//!    cargo-zigbuild for `<arch>-unknown-linux-gnu.<glibc>`, so zig links against that glibc's symbols, with the
//!    checkout, target and cargo-home paths remapped so the binaries do not depend on where the
//!    checkout is.
//! 3. Check every binary's ELF version requirements against the glibc ceiling (2.34, Amazon
//!    Linux 2023) and its machine against the architecture; any violation fails the run and
//!    nothing is written.
//! 4. Write `<function>.zip` (one entry `bootstrap`, mode 0755, 1980-01-01, deflate 9) and
//!    `manifest.json`, then print a summary table.

mod archive;
mod build;
mod elf;
mod inputs;
mod manifest;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
pub use aws::lambda::Architecture;
use shipment::contract::functions;

use self::build::{BuildPlan, Tools, Workspace};
use self::elf::{BinaryInfo, GlibcVersion};
use self::inputs::Fingerprint;
use self::manifest::{FunctionZip, Manifest};

/// Build every processor for provided.al2023 and write one deterministic zip per function.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Lambda architecture (`architectures`) to build for. arm64 needs the aarch64 Rust standard
    /// library (`rustup target add aarch64-unknown-linux-gnu`).
    #[arg(long, default_value_t = Architecture::X86_64)]
    pub arch: Architecture,
    /// Newest glibc a binary may need; provided.al2023 (Amazon Linux 2023) has 2.34.
    #[arg(long, value_name = "VERSION", default_value = "2.34")]
    pub glibc: GlibcVersion,
    /// Where the zips and manifest.json go [default: <workspace>/generated/dist].
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// Cargo target directory of the packaging build, kept apart from normal builds because its
    /// flags and target differ [default: <cargo target dir>/package].
    #[arg(long, value_name = "DIR")]
    pub target_dir: Option<PathBuf>,
    /// Package already-built binaries, DIR/<function>, instead of building them: same checks,
    /// same zips, same manifest.
    #[arg(long, value_name = "DIR")]
    pub binaries: Option<PathBuf>,
    /// Build and write the zips even when nothing changed since the last run.
    #[arg(long)]
    pub force: bool,
}

/// The defaults, for `arch` (what `shipstack plan` packages with).
pub fn args_for(arch: Architecture) -> Args {
    #[derive(clap::Parser)]
    struct Defaults {
        #[command(flatten)]
        args: Args,
    }
    <Defaults as clap::Parser>::parse_from(["package", "--arch", &arch.to_string()]).args
}

/// The Rust target of an architecture (glibc, as `provided.al2023` is a glibc system).
pub fn rust_target(arch: Architecture) -> &'static str {
    match arch {
        Architecture::X86_64 => "x86_64-unknown-linux-gnu",
        Architecture::Arm64 => "aarch64-unknown-linux-gnu",
    }
}

/// ELF `e_machine` of an architecture's binaries.
fn elf_machine(arch: Architecture) -> u16 {
    match arch {
        Architecture::X86_64 => object::elf::EM_X86_64,
        Architecture::Arm64 => object::elf::EM_AARCH64,
    }
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let cwd = std::env::current_dir().context("reading the current directory")?;
    let workspace = Workspace::discover()?;
    let out_dir = match &args.out_dir {
        Some(dir) => cwd.join(dir),
        None => workspace.root.join("generated").join("dist"),
    };
    let manifest_path = out_dir.join(manifest::FILE_NAME);
    let functions: &[&str] = &functions::ALL;
    let target = rust_target(args.arch);
    let shown = |p: &Path| display_path(p, &cwd);

    progress(format_args!(
        "{} functions for {} ({target}, glibc <= {}) into {}",
        functions.len(),
        args.arch.as_str(),
        args.glibc,
        shown(&out_dir)
    ));

    // 1. What the zips would be made from.
    let source = match &args.binaries {
        Some(dir) => Source::Prebuilt(cwd.join(dir)),
        None => {
            build::ensure_target_installed(target).map_err(|err| match args.arch {
                Architecture::X86_64 => err,
                Architecture::Arm64 => err.context(
                    "arm64 needs the aarch64 Rust standard library, which this machine does not have; package x86_64 (the default)",
                ),
            })?;
            let tools = Tools::find(&workspace.root)?;
            let target_dir = match &args.target_dir {
                Some(dir) => cwd.join(dir),
                None => workspace.target_directory.join("package"),
            };
            Source::Build { tools, target_dir }
        }
    };
    let inputs = match &source {
        Source::Prebuilt(dir) => prebuilt_fingerprint(dir, functions, args)?,
        Source::Build { tools, target_dir } => {
            let plan = plan(&workspace, tools, args, target_dir.clone(), functions);
            build_fingerprint(&plan, &out_dir)?
        }
    };

    // Nothing changed: the manifest records these inputs and every zip still verifies.
    if !args.force {
        if let Some(previous) = Manifest::load(&manifest_path)? {
            if previous.inputs == inputs && verify_zips(&previous, &out_dir, functions).is_ok() {
                progress(format_args!(
                    "up to date: inputs unchanged and every zip matches {} (--force rebuilds)",
                    shown(&manifest_path)
                ));
                print_summary(&previous, &out_dir, &cwd, None);
                return Ok(());
            }
        }
    }

    // 2. The binaries.
    let (binaries, build_time) = match &source {
        Source::Prebuilt(dir) => {
            let binaries = functions
                .iter()
                .map(|f| (f.to_string(), dir.join(f)))
                .collect::<BTreeMap<_, _>>();
            (binaries, None)
        }
        Source::Build { tools, target_dir } => {
            let plan = plan(&workspace, tools, args, target_dir.clone(), functions);
            progress(format_args!(
                "building {} with the {} profile: {} {}, {} (target dir {})",
                build::PROCESSORS_PACKAGE,
                build::PROFILE,
                tools.zigbuild_version,
                plan.zig_target(),
                format_args!("zig {}", tools.zig_version),
                shown(target_dir)
            ));
            let build_started = Instant::now();
            let binaries = plan.run()?;
            let took = build_started.elapsed();
            progress(format_args!("built in {}", format_duration(took)));
            (binaries, Some(took))
        }
    };

    // 3. Check every binary before writing anything.
    let mut checked = Vec::new();
    let mut problems = Vec::new();
    for function in functions {
        let path = &binaries[*function];
        let binary = std::fs::read(path)
            .with_context(|| format!("reading the `{function}` binary {}", shown(path)))?;
        let info = match BinaryInfo::parse(&binary) {
            Ok(info) => info,
            Err(err) => {
                problems.push(format!("{function} ({}): {err:#}", shown(path)));
                continue;
            }
        };
        if info.machine != elf_machine(args.arch) {
            problems.push(format!(
                "{function} ({}): built for ELF machine {}, not {}",
                shown(path),
                info.machine,
                args.arch.as_str()
            ));
        }
        for violation in info.violations(args.glibc) {
            problems.push(format!("{function} ({}): {violation}", shown(path)));
        }
        checked.push((function.to_string(), binary, info.required_glibc()));
    }
    if !problems.is_empty() {
        bail!(
            "{} problem(s); no zip was written. A binary must load on glibc {} ({} Lambda):\n  {}",
            problems.len(),
            args.glibc,
            args.arch.as_str(),
            problems.join("\n  ")
        );
    }
    for (function, _, required) in &checked {
        let required = required.map_or("none".to_string(), |v| v.to_string());
        progress(format_args!(
            "{function}: needs glibc {required} (ceiling {})",
            args.glibc
        ));
    }

    // 4. Zips, then the manifest (removed first, so an interrupted run never leaves a manifest
    // that vouches for zips it did not write).
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", shown(&out_dir)))?;
    remove_if_exists(&manifest_path)?;
    let mut entries = Vec::new();
    for (function, binary, required) in &checked {
        let zip = archive::bootstrap_zip(binary).with_context(|| format!("zipping {function}"))?;
        let file_name = format!("{function}.zip");
        write_atomically(&out_dir.join(&file_name), &zip)?;
        entries.push(FunctionZip {
            function: function.clone(),
            zip: file_name,
            size: zip.len() as u64,
            sha256: archive::base64_sha256(&zip),
            architecture: args.arch,
            glibc_required: *required,
            binary_size: binary.len() as u64,
            binary_sha256: archive::hex_sha256(binary),
        });
    }
    let manifest = Manifest {
        format: manifest::FORMAT,
        architecture: args.arch,
        target: target.to_string(),
        glibc_ceiling: args.glibc,
        inputs,
        functions: entries,
    };
    write_atomically(&manifest_path, manifest.to_json().as_bytes())?;

    print_summary(&manifest, &out_dir, &cwd, build_time);
    progress(format_args!(
        "done in {}",
        format_duration(started.elapsed())
    ));
    Ok(())
}

enum Source {
    Prebuilt(PathBuf),
    Build { tools: Tools, target_dir: PathBuf },
}

fn plan<'a>(
    workspace: &'a Workspace,
    tools: &'a Tools,
    args: &Args,
    target_dir: PathBuf,
    functions: &'a [&'a str],
) -> BuildPlan<'a> {
    BuildPlan {
        workspace,
        tools,
        architecture: args.arch,
        glibc: args.glibc,
        target_dir,
        functions,
    }
}

/// Everything the build reads, named independently of the checkout's location.
fn build_fingerprint(plan: &BuildPlan<'_>, out_dir: &Path) -> anyhow::Result<String> {
    let root = &plan.workspace.root;
    let mut f = Fingerprint::new("build");
    common_fingerprint(&mut f, plan.architecture, plan.glibc, plan.functions);
    f.item("zig target", plan.zig_target().as_bytes());
    f.item("rustc", build::rustc_version()?.as_bytes());
    f.item("cargo-zigbuild", plan.tools.zigbuild_version.as_bytes());
    f.item("zig", plan.tools.zig_version.as_bytes());
    f.item("flags", plan.flags_fingerprint().as_bytes());
    for name in [
        "Cargo.toml",
        "Cargo.lock",
        ".cargo/config.toml",
        ".cargo/config",
        "rust-toolchain.toml",
        "rust-toolchain",
    ] {
        let path = root.join(name);
        if path.is_file() {
            f.file(name, &path)?;
        }
    }
    let exclude = [
        out_dir.to_path_buf(),
        plan.target_dir.clone(),
        plan.workspace.target_directory.clone(),
    ];
    for dir in &plan.workspace.source_dirs {
        f.item(
            "package",
            dir.strip_prefix(root)
                .unwrap_or(dir)
                .to_string_lossy()
                .as_bytes(),
        );
        f.tree(root, dir, &exclude)?;
    }
    Ok(f.finish())
}

fn prebuilt_fingerprint(dir: &Path, functions: &[&str], args: &Args) -> anyhow::Result<String> {
    let mut f = Fingerprint::new("prebuilt");
    common_fingerprint(&mut f, args.arch, args.glibc, functions);
    for function in functions {
        let path = dir.join(function);
        ensure!(
            path.is_file(),
            "no `{function}` binary in {} (--binaries expects DIR/<function>)",
            dir.display()
        );
        f.file(function, &path)?;
    }
    Ok(f.finish())
}

fn common_fingerprint(
    f: &mut Fingerprint,
    arch: Architecture,
    glibc: GlibcVersion,
    functions: &[&str],
) {
    f.item("manifest format", &manifest::FORMAT.to_le_bytes());
    f.item("shipstack", env!("CARGO_PKG_VERSION").as_bytes());
    f.item("architecture", arch.as_str().as_bytes());
    f.item("glibc ceiling", glibc.to_string().as_bytes());
    f.item("functions", functions.join(",").as_bytes());
}

/// Every function has its zip, with the recorded size and hash.
fn verify_zips(manifest: &Manifest, out_dir: &Path, functions: &[&str]) -> anyhow::Result<()> {
    let recorded: Vec<&str> = manifest
        .functions
        .iter()
        .map(|f| f.function.as_str())
        .collect();
    ensure!(
        recorded == functions,
        "manifest lists {recorded:?}, expected {functions:?}"
    );
    for entry in &manifest.functions {
        let bytes = std::fs::read(out_dir.join(&entry.zip))?;
        ensure!(
            bytes.len() as u64 == entry.size,
            "{} changed size",
            entry.zip
        );
        ensure!(
            archive::base64_sha256(&bytes) == entry.sha256,
            "{} changed content",
            entry.zip
        );
    }
    Ok(())
}

fn print_summary(manifest: &Manifest, out_dir: &Path, cwd: &Path, build_time: Option<Duration>) {
    let width = manifest
        .functions
        .iter()
        .map(|f| f.function.len())
        .max()
        .unwrap_or(8)
        .max(8);
    println!(
        "{:<width$}  {:>10}  {:>10}  {:<5}  sha256 (filebase64sha256)",
        "function", "binary", "zip", "glibc"
    );
    for f in &manifest.functions {
        println!(
            "{:<width$}  {:>10}  {:>10}  {:<5}  {}",
            f.function,
            format_size(f.binary_size),
            format_size(f.size),
            f.glibc_required
                .map_or("none".to_string(), |v| v.to_string()),
            f.sha256
        );
    }
    let built = build_time.map_or(String::new(), |t| {
        format!(", built in {}", format_duration(t))
    });
    println!(
        "{} zips for {} (glibc <= {}) in {}{built}",
        manifest.functions.len(),
        manifest.architecture.as_str(),
        manifest.glibc_ceiling,
        display_path(out_dir, cwd)
    );
}

fn progress(message: std::fmt::Arguments<'_>) {
    eprintln!("package: {message}");
}

fn display_path(path: &Path, cwd: &Path) -> String {
    path.strip_prefix(cwd).unwrap_or(path).display().to_string()
}

fn format_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / f64::from(1 << 20)),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / f64::from(1 << 10)),
        b => format!("{b} B"),
    }
}

fn format_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    if secs >= 60 {
        format!("{}m {:02}s", secs / 60, secs % 60)
    } else {
        format!("{:.1}s", duration.as_secs_f64())
    }
}

fn remove_if_exists(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
            Err(err).with_context(|| format!("removing {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// Writes through a temporary file in the same directory and renames it into place.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().context("output path has no directory")?;
    let mut temp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    std::io::Write::write_all(&mut temp, bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    temp.as_file().sync_all().ok();
    // Readable by everyone like a normal output file (tempfile creates 0600).
    std::fs::set_permissions(
        temp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )?;
    temp.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_read_naturally() {
        assert_eq!(format_size(512), "512 B");
        assert_eq!(format_size(2048), "2.0 KiB");
        assert_eq!(format_size(5 * 1024 * 1024 + 512 * 1024), "5.5 MiB");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::from_secs(372)), "6m 12s");
    }

    #[test]
    fn architecture_names_match_lambda_and_rust() {
        assert_eq!(Architecture::X86_64.as_str(), "x86_64");
        assert_eq!(Architecture::Arm64.as_str(), "arm64");
        assert_eq!(
            rust_target(Architecture::Arm64),
            "aarch64-unknown-linux-gnu"
        );
        assert_eq!(
            serde_json::to_string(&Architecture::X86_64).unwrap(),
            "\"x86_64\""
        );
    }
}
