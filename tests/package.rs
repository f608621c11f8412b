//! `shipstack package`, run as users run it.
//!
//! The cheap tests package small binaries compiled here with the system C compiler
//! (`--binaries`), which goes through the same checks, zips and manifest as a real build. The
//! tests marked `#[ignore]` need the real release build: `.ci/run` runs `cargo run -- package`
//! first and then `cargo test --test package -- --ignored`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};

const FUNCTIONS: [&str; 6] = [
    "ingest-api",
    "queue-processor",
    "event-processor",
    "stream-fanout",
    "websocket-handler",
    "daily-summary",
];

/// Needs `__libc_start_main@GLIBC_2.34` and `puts@GLIBC_2.2.5`: within the 2.34 ceiling.
const WITHIN_CEILING: &str = r#"
#include <stdio.h>
int main(void) { puts("ok"); return 0; }
"#;

/// `arc4random` appeared in glibc 2.36: Amazon Linux 2023 (2.34) cannot load this.
const NEEDS_GLIBC_2_36: &str = r#"
#include <stdio.h>
#include <stdlib.h>
int main(void) { printf("%u\n", arc4random()); return 0; }
"#;

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn shipstack() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_shipstack"));
    command.current_dir(workspace_root()).stdin(Stdio::null());
    command
}

fn run(command: &mut Command) -> Output {
    let output = command.output().expect("shipstack runs");
    eprintln!(
        "--- {:?}\n{}{}",
        command,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Compiles a C program with the system compiler (the one Rust links with on this machine).
fn compile_c(dir: &Path, name: &str, source: &str) -> PathBuf {
    let src = dir.join(format!("{name}.c"));
    let exe = dir.join(name);
    std::fs::write(&src, source).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc)
        .arg("-O1")
        .arg("-o")
        .arg(&exe)
        .arg(&src)
        .status()
        .unwrap_or_else(|err| panic!("running the C compiler `{cc}`: {err}"));
    assert!(status.success(), "compiling {name}.c failed");
    exe
}

/// `dir/<function>` for every function: copies of `ok`, except the ones in `special`.
fn binaries_dir(dir: &Path, ok: &Path, special: &[(&str, &Path)]) -> PathBuf {
    let bins = dir.join("bins");
    std::fs::create_dir_all(&bins).unwrap();
    for function in FUNCTIONS {
        let source = special
            .iter()
            .find(|(f, _)| *f == function)
            .map_or(ok, |(_, p)| *p);
        std::fs::copy(source, bins.join(function)).unwrap();
    }
    bins
}

fn package_binaries(bins: &Path, out: &Path, extra: &[&str]) -> Output {
    run(shipstack()
        .arg("package")
        .arg("--binaries")
        .arg(bins)
        .arg("--out-dir")
        .arg(out)
        .args(extra))
}

fn manifest(out: &Path) -> Value {
    let text = std::fs::read_to_string(out.join("manifest.json")).expect("manifest.json written");
    serde_json::from_str(&text).unwrap()
}

fn filebase64sha256(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

fn entries(manifest: &Value) -> BTreeMap<String, Value> {
    manifest["functions"]
        .as_array()
        .expect("functions array")
        .iter()
        .map(|f| (f["function"].as_str().unwrap().to_string(), f.clone()))
        .collect()
}

/// A temporary directory under the workspace target dir (not /tmp: it can be small).
fn scratch() -> tempfile::TempDir {
    let base = workspace_root().join("target").join("package-tests");
    std::fs::create_dir_all(&base).unwrap();
    tempfile::tempdir_in(base).unwrap()
}

#[test]
fn each_zip_holds_exactly_one_executable_bootstrap() {
    let tmp = scratch();
    let ok = compile_c(tmp.path(), "ok", WITHIN_CEILING);
    let bins = binaries_dir(tmp.path(), &ok, &[]);
    let out = tmp.path().join("dist");

    let output = package_binaries(&bins, &out, &[]);
    assert!(output.status.success(), "{}", stderr(&output));

    let binary = std::fs::read(&ok).unwrap();
    for function in FUNCTIONS {
        let zip_bytes = std::fs::read(out.join(format!("{function}.zip"))).unwrap();
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes)).unwrap();
        assert_eq!(
            archive.len(),
            1,
            "{function}.zip has {} entries",
            archive.len()
        );
        let mut entry = archive.by_index(0).unwrap();
        assert_eq!(entry.name().unwrap(), "bootstrap");
        assert!(entry.is_file());
        assert_eq!(
            entry.unix_mode(),
            Some(0o100_755),
            "{function}: regular file, rwxr-xr-x"
        );
        let time = entry.last_modified().expect("timestamp");
        assert_eq!(
            (
                time.year(),
                time.month(),
                time.day(),
                time.hour(),
                time.minute()
            ),
            (1980, 1, 1, 0, 0)
        );
        let mut content = Vec::new();
        entry.read_to_end(&mut content).unwrap();
        assert!(content == binary, "{function}: bootstrap is not the binary");
    }

    let manifest = manifest(&out);
    assert_eq!(manifest["architecture"], "x86_64");
    assert_eq!(manifest["target"], "x86_64-unknown-linux-gnu");
    assert_eq!(manifest["glibc_ceiling"], "2.34");
    let listed: Vec<&str> = manifest["functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["function"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed, FUNCTIONS,
        "one entry per function, in contract order"
    );
    for (function, entry) in entries(&manifest) {
        let zip_bytes = std::fs::read(out.join(entry["zip"].as_str().unwrap())).unwrap();
        assert_eq!(entry["zip"], format!("{function}.zip"));
        assert_eq!(entry["size"], zip_bytes.len() as u64);
        assert_eq!(entry["sha256"], filebase64sha256(&zip_bytes));
        assert_eq!(entry["architecture"], "x86_64");
        assert_eq!(
            entry["glibc_required"], "2.34",
            "{function}: __libc_start_main@GLIBC_2.34"
        );
        assert_eq!(entry["binary_size"], binary.len() as u64);
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("sha256 (filebase64sha256)") && stdout.contains("6 zips for x86_64"),
        "summary table:\n{stdout}"
    );
}

#[test]
fn same_binaries_give_byte_identical_zips_anywhere() {
    let tmp = scratch();
    let ok = compile_c(tmp.path(), "ok", WITHIN_CEILING);
    let first_bins = binaries_dir(&tmp.path().join("first"), &ok, &[]);
    let first_out = tmp.path().join("first/dist");
    assert!(package_binaries(&first_bins, &first_out, &[])
        .status
        .success());

    // Different paths, later mtimes, different permissions on the input.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second_bins = binaries_dir(&tmp.path().join("elsewhere/second"), &ok, &[]);
    for function in FUNCTIONS {
        std::fs::set_permissions(
            second_bins.join(function),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
    }
    let second_out = tmp.path().join("elsewhere/out");
    assert!(package_binaries(&second_bins, &second_out, &[])
        .status
        .success());

    for function in FUNCTIONS {
        let zip = format!("{function}.zip");
        assert!(
            std::fs::read(first_out.join(&zip)).unwrap()
                == std::fs::read(second_out.join(&zip)).unwrap(),
            "{zip} differs between two packagings of the same binary"
        );
    }
    assert_eq!(manifest(&first_out), manifest(&second_out));
}

#[test]
fn manifest_hash_is_what_terraform_filebase64sha256_returns() {
    let tmp = scratch();
    let ok = compile_c(tmp.path(), "ok", WITHIN_CEILING);
    let other = compile_c(tmp.path(), "other", "int main(void) { return 3; }\n");
    let bins = binaries_dir(tmp.path(), &ok, &[("daily-summary", &other)]);
    let out = tmp.path().join("dist");
    assert!(package_binaries(&bins, &out, &[]).status.success());
    let manifest = manifest(&out);

    // A directory with no configuration: `terraform console` needs no provider for this.
    let console_dir = tmp.path().join("tf");
    std::fs::create_dir_all(&console_dir).unwrap();
    let hashes: Vec<String> = FUNCTIONS
        .iter()
        .map(|f| {
            terraform_eval(
                &console_dir,
                &format!(
                    "filebase64sha256(\"{}\")",
                    out.join(format!("{f}.zip")).display()
                ),
            )
        })
        .collect();

    let entries = entries(&manifest);
    for (function, terraform_hash) in FUNCTIONS.iter().zip(&hashes) {
        assert_eq!(
            &entries[*function]["sha256"],
            terraform_hash.as_str(),
            "{function}"
        );
    }
    assert_ne!(
        entries["daily-summary"]["sha256"],
        entries["ingest-api"]["sha256"]
    );
}

/// One expression through `terraform console` (it reads a single expression from a pipe).
fn terraform_eval(dir: &Path, expression: &str) -> String {
    let mut console = Command::new("terraform")
        .arg(format!("-chdir={}", dir.display()))
        .arg("console")
        .env("TF_IN_AUTOMATION", "1")
        .env("CHECKPOINT_DISABLE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("terraform is on PATH");
    console
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{expression}\n").as_bytes())
        .unwrap();
    let output = console.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "terraform console {expression}: {}",
        stderr(&output)
    );
    let value = String::from_utf8(output.stdout).unwrap();
    let value = value.trim();
    assert!(
        value.starts_with('"') && value.ends_with('"'),
        "not a string: {value}"
    );
    value.trim_matches('"').to_string()
}

#[test]
fn binary_needing_newer_glibc_fails_and_writes_nothing() {
    let tmp = scratch();
    let ok = compile_c(tmp.path(), "ok", WITHIN_CEILING);
    let too_new = compile_c(tmp.path(), "too-new", NEEDS_GLIBC_2_36);
    let bins = binaries_dir(tmp.path(), &ok, &[("websocket-handler", &too_new)]);
    let out = tmp.path().join("dist");

    let output = package_binaries(&bins, &out, &[]);
    assert!(
        !output.status.success(),
        "a GLIBC_2.36 binary was packaged for a 2.34 runtime"
    );
    let message = stderr(&output);
    for expected in [
        "websocket-handler",
        "GLIBC_2.36",
        "arc4random",
        "libc.so.6",
        "2.34",
        "no zip was written",
    ] {
        assert!(
            message.contains(expected),
            "error should mention {expected:?}:\n{message}"
        );
    }
    for function in ["ingest-api", "daily-summary", "queue-processor"] {
        assert!(
            !message.contains(&format!("{function} (")),
            "only the offender is reported:\n{message}"
        );
    }
    assert!(!out.join("manifest.json").exists());
    assert!(!out.join("websocket-handler.zip").exists() && !out.join("ingest-api.zip").exists());

    // The ceiling is a value: the same binary is fine for a glibc 2.36 runtime.
    let output = package_binaries(&bins, &out, &["--glibc", "2.36"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let manifest = manifest(&out);
    assert_eq!(manifest["glibc_ceiling"], "2.36");
    assert_eq!(
        entries(&manifest)["websocket-handler"]["glibc_required"],
        "2.36"
    );
    assert_eq!(entries(&manifest)["ingest-api"]["glibc_required"], "2.34");
}

#[test]
fn non_elf_or_missing_binaries_are_reported_by_function() {
    let tmp = scratch();
    let ok = compile_c(tmp.path(), "ok", WITHIN_CEILING);
    let script = tmp.path().join("script");
    std::fs::write(&script, "#!/bin/sh\necho not a binary\n").unwrap();
    let bins = binaries_dir(tmp.path(), &ok, &[("stream-fanout", &script)]);
    let out = tmp.path().join("dist");

    let output = package_binaries(&bins, &out, &[]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("stream-fanout") && stderr(&output).contains("not a 64-bit ELF"),
        "{}",
        stderr(&output)
    );

    std::fs::remove_file(bins.join("queue-processor")).unwrap();
    let output = package_binaries(&bins, &out, &[]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("no `queue-processor` binary"),
        "{}",
        stderr(&output)
    );
    assert!(!out.join("manifest.json").exists());
}

#[test]
fn unchanged_inputs_skip_the_work_and_force_or_changes_redo_it() {
    let tmp = scratch();
    let ok = compile_c(tmp.path(), "ok", WITHIN_CEILING);
    let other = compile_c(tmp.path(), "other", "int main(void) { return 7; }\n");
    let bins = binaries_dir(tmp.path(), &ok, &[]);
    let out = tmp.path().join("dist");
    let zip = out.join("ingest-api.zip");
    let modified = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();

    assert!(package_binaries(&bins, &out, &[]).status.success());
    let first = manifest(&out);
    let written = modified(&zip);

    let again = package_binaries(&bins, &out, &[]);
    assert!(again.status.success());
    assert!(stderr(&again).contains("up to date"), "{}", stderr(&again));
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("6 zips"),
        "summary is shown when skipping too"
    );
    assert_eq!(
        modified(&zip),
        written,
        "an up-to-date zip is not rewritten"
    );

    let forced = package_binaries(&bins, &out, &["--force"]);
    assert!(forced.status.success() && !stderr(&forced).contains("up to date"));
    assert_ne!(modified(&zip), written);
    assert_eq!(manifest(&out), first, "same inputs, same manifest");

    // A tampered or missing zip is rewritten even though the inputs did not change.
    std::fs::write(out.join("stream-fanout.zip"), b"tampered").unwrap();
    std::fs::remove_file(out.join("daily-summary.zip")).unwrap();
    let repaired = package_binaries(&bins, &out, &[]);
    assert!(repaired.status.success() && !stderr(&repaired).contains("up to date"));
    assert_eq!(manifest(&out), first);

    // A changed binary changes the inputs, the zip and the manifest.
    std::fs::copy(&other, bins.join("queue-processor")).unwrap();
    let rebuilt = package_binaries(&bins, &out, &[]);
    assert!(rebuilt.status.success() && !stderr(&rebuilt).contains("up to date"));
    let second = manifest(&out);
    assert_ne!(second["inputs"], first["inputs"]);
    assert_ne!(
        entries(&second)["queue-processor"]["sha256"],
        entries(&first)["queue-processor"]["sha256"]
    );
    assert_eq!(
        entries(&second)["ingest-api"],
        entries(&first)["ingest-api"]
    );
}

#[test]
fn missing_build_tools_name_the_setup_command() {
    let tmp = scratch();
    // Only the Rust toolchain on PATH, and an empty tools directory.
    let toolchain_bin = Path::new(env!("CARGO")).parent().unwrap();
    let output = run(shipstack()
        .args(["package", "--out-dir"])
        .arg(tmp.path().join("dist"))
        .arg("--target-dir")
        .arg(tmp.path().join("target"))
        .env("PATH", toolchain_bin)
        .env("SHIPSTACK_TOOLS_DIR", tmp.path().join("no-tools")));
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("`cargo-zigbuild` is not installed"),
        "{message}"
    );
    assert!(message.contains("scripts/setup-build-tools"), "{message}");
    assert!(!tmp.path().join("dist").exists());
}

// ---- Need the real release build (`cargo run -- package` first); run by `.ci/run`. ----

fn dist() -> PathBuf {
    workspace_root().join("generated").join("dist")
}

fn packaged_manifest() -> Value {
    let path = dist().join("manifest.json");
    assert!(
        path.is_file(),
        "{} is missing: run `cargo run -- package` first",
        path.display()
    );
    manifest(&dist())
}

/// The real zips: right shape, and re-packaging their bootstraps (which re-runs the ELF glibc
/// check and the zip writer) gives the very same bytes.
#[test]
#[ignore = "needs `cargo run -- package` first"]
fn packaged_zips_are_single_bootstraps_under_the_glibc_ceiling() {
    let packaged = packaged_manifest();
    assert_eq!(packaged["glibc_ceiling"], "2.34");
    let tmp = scratch();
    let bins = tmp.path().join("bins");
    std::fs::create_dir_all(&bins).unwrap();
    for (function, entry) in entries(&packaged) {
        let zip_bytes = std::fs::read(dist().join(entry["zip"].as_str().unwrap())).unwrap();
        assert_eq!(entry["sha256"], filebase64sha256(&zip_bytes), "{function}");
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes)).unwrap();
        assert_eq!(archive.len(), 1);
        let mut bootstrap = archive.by_name("bootstrap").unwrap();
        assert_eq!(bootstrap.unix_mode(), Some(0o100_755));
        let mut binary = Vec::new();
        bootstrap.read_to_end(&mut binary).unwrap();
        assert_eq!(&binary[..4], b"\x7fELF");
        let required: Vec<u32> = entry["glibc_required"]
            .as_str()
            .unwrap()
            .split('.')
            .map(|p| p.parse().unwrap())
            .collect();
        assert!(
            required <= vec![2, 34],
            "{function} needs glibc {required:?}"
        );
        std::fs::write(bins.join(&function), binary).unwrap();
    }
    let out = tmp.path().join("dist");
    let output = package_binaries(&bins, &out, &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let repackaged = entries(&manifest(&out));
    for (function, entry) in entries(&packaged) {
        assert_eq!(
            repackaged[&function]["sha256"], entry["sha256"],
            "{function}: re-zipping its bootstrap differs"
        );
    }
}

/// Build #2: a copy of the checkout in another directory, a fresh target directory, the same
/// command. Every zip must equal build #1's (`generated/dist`, from `cargo run -- package`).
#[test]
#[ignore = "a clean lambda-profile build (~11-13 min); needs `cargo run -- package` first"]
fn clean_build_in_another_directory_gives_identical_zips() {
    let first = packaged_manifest();
    let tmp = scratch();
    let copy = tmp.path().join("another").join("checkout");
    copy_checkout(&workspace_root(), &copy);

    let tools = std::env::var_os("SHIPSTACK_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".tools"));
    let started = std::time::Instant::now();
    let output = run(Command::new(env!("CARGO_BIN_EXE_shipstack"))
        .current_dir(&copy)
        .stdin(Stdio::null())
        .args(["package", "--target-dir"])
        .arg(tmp.path().join("fresh-target"))
        .env("SHIPSTACK_TOOLS_DIR", tools)
        .env_remove("CARGO_TARGET_DIR"));
    assert!(output.status.success(), "second clean build failed");
    eprintln!("second clean build took {:?}", started.elapsed());

    let second_dist = copy.join("generated").join("dist");
    let second = manifest(&second_dist);
    let (a, b) = (entries(&first), entries(&second));
    for function in FUNCTIONS {
        assert_eq!(
            a[function], b[function],
            "{function} differs between two clean builds"
        );
        let zip = format!("{function}.zip");
        assert!(
            std::fs::read(dist().join(&zip)).unwrap()
                == std::fs::read(second_dist.join(&zip)).unwrap(),
            "{zip} bytes differ"
        );
    }
    assert_eq!(
        first, second,
        "the manifests (inputs fingerprint included) differ"
    );
}

/// Copies the files git would see (tracked, plus untracked ones not ignored).
fn copy_checkout(from: &Path, to: &Path) {
    let listing = Command::new("git")
        .current_dir(from)
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .output()
        .expect("git runs");
    assert!(listing.status.success());
    for name in listing.stdout.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = std::str::from_utf8(name).unwrap();
        let source = from.join(name);
        if !source.is_file() {
            continue; // deleted in the work tree
        }
        let target = to.join(name);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&source, &target).unwrap();
    }
}
