//! Terraform itself accepts every rendered environment: `terraform init` (the AWS provider from
//! the local mirror when there is one, see `scripts/terraform-init`) and `terraform validate`.
//! Needs the packaged zips (`cargo run -- package`): `source_code_hash` reads them.

use std::path::{Path, PathBuf};
use std::process::Command;

use shipment::contract::functions;

const ENVS: [&str; 4] = ["dev", "staging", "prod", "local"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// stdout then stderr.
fn text(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

fn run(command: &mut Command, what: &str) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn terraform_validates_every_environment() {
    let dist = root().join("generated/dist");
    for function in functions::ALL {
        let zip = dist.join(format!("{function}.zip"));
        assert!(
            zip.is_file(),
            "{} is missing: run `cargo run -- package` first",
            zip.display()
        );
    }
    for env in ENVS {
        let dir = Path::new("generated").join(env);
        run(
            Command::new(root().join("scripts/terraform-init"))
                .current_dir(root())
                .arg(&dir),
            &format!("terraform init of {env}"),
        );
        let report = run(
            Command::new("terraform")
                .current_dir(root())
                .arg(format!("-chdir={}", dir.display()))
                .args(["validate", "-json", "-no-color"]),
            &format!("terraform validate of {env}"),
        );
        let report: serde_json::Value =
            serde_json::from_str(&report).expect("validate -json prints JSON");
        assert_eq!(report["valid"], true, "{env}: {report:#}");
        assert_eq!(report["warning_count"], 0, "{env}: {report:#}");
    }
}

/// Plans a module holding only prod's rendered `alert_emails` variable (no provider, no
/// account), with `value`: Terraform runs the variable's validations before anything else.
fn plan_alert_emails(value: &str) -> (bool, String) {
    let main: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("generated/prod/main.tf.json")).unwrap(),
    )
    .unwrap();
    let module = serde_json::json!({
        "variable": {"alert_emails": main["variable"]["alert_emails"]},
        "output": {"alert_emails": {"value": "${var.alert_emails}"}},
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.tf.json"), module.to_string()).unwrap();
    let output = Command::new("terraform")
        .arg(format!("-chdir={}", dir.path().display()))
        .args(["plan", "-input=false", "-no-color", "-var"])
        .arg(format!("alert_emails={value}"))
        .output()
        .expect("terraform runs");
    (output.status.success(), text(&output))
}

#[test]
fn alert_recipients_must_be_real_addresses_given_at_plan_time() {
    let (ok, text) = plan_alert_emails(
        r#"["oncall@shipstack.io","ops@logistics.co.uk","ops@shipstack.xn--p1ai"]"#,
    );
    assert!(ok, "{text}");
    for (bad, reason) in [
        ("[]", "at least one address"),
        (r#"["oncall@example.com"]"#, "reserved example domains"),
        (r#"["ops@corp.example.org"]"#, "reserved example domains"),
        (r#"["ops@shipstack.test"]"#, "reserved example domains"),
        (r#"["not-an-address"]"#, "must be an email address"),
        (r#"["OPS@EXAMPLE.COM"]"#, "reserved example domains"),
        (
            r#"["oncall@shipstack.io","ops@example.net"]"#,
            "reserved example domains",
        ),
        ("null", "alert_emails"),
    ] {
        let (ok, text) = plan_alert_emails(bad);
        assert!(!ok && text.contains(reason), "{bad}: {text}");
    }
}

const LOCK_FILE: &str = ".terraform.lock.hcl";

/// `name = "value"` in the lock's provider block.
fn lock_value<'a>(lock: &'a str, name: &str) -> &'a str {
    lock.lines()
        .map(str::trim)
        .find_map(|line| line.strip_prefix(name)?.trim_start().strip_prefix('='))
        .unwrap_or_else(|| panic!("{name} is missing from the lock:\n{lock}"))
        .trim()
        .trim_matches('"')
}

#[test]
fn every_env_commits_one_provider_lock_with_checksums_for_every_platform() {
    let locks: Vec<String> = ENVS
        .iter()
        .map(|env| {
            std::fs::read_to_string(root().join("generated").join(env).join(LOCK_FILE))
                .unwrap_or_else(|e| panic!("generated/{env}/{LOCK_FILE}: {e}"))
        })
        .collect();
    for (env, lock) in ENVS.iter().zip(&locks) {
        assert_eq!(
            lock, &locks[0],
            "generated/{env}/{LOCK_FILE} differs from dev's"
        );
    }
    let lock = &locks[0];
    let versions: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("generated/dev/versions.tf.json")).unwrap(),
    )
    .unwrap();
    let aws = &versions["terraform"]["required_providers"]["aws"];
    assert!(lock.contains(&format!(
        "provider \"registry.terraform.io/{}\"",
        aws["source"].as_str().unwrap()
    )));
    assert_eq!(lock_value(lock, "constraints"), aws["version"]);
    let floor = aws["version"].as_str().unwrap().trim_start_matches("~> ");
    assert!(
        lock_value(lock, "version").starts_with(&format!("{floor}.")),
        "the locked version is not the pinned minor:\n{lock}"
    );
    // `zh:` is the registry's SHA-256 of each platform's zip: without one for their platform,
    // a macOS or Windows user's `terraform init` refuses the download.
    let zip_hashes = lock
        .lines()
        .filter(|l| l.trim().starts_with("\"zh:"))
        .count();
    assert!(zip_hashes >= 13, "{zip_hashes} zh: hashes:\n{lock}");
    assert!(lock.contains("\"h1:"), "no h1: hash:\n{lock}");
}

/// `generated/dev`'s `*.tf.json` copied into `to`, with its lock when `with_lock`.
fn copy_dev(to: &Path, with_lock: bool) {
    for entry in std::fs::read_dir(root().join("generated/dev")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".tf.json") || (with_lock && name == LOCK_FILE) {
            std::fs::copy(&path, to.join(&name)).unwrap();
        }
    }
}

#[test]
fn init_refuses_a_provider_the_committed_lock_does_not_vouch_for() {
    let dir = tempfile::tempdir().unwrap();
    copy_dev(dir.path(), false);
    let lock = std::fs::read_to_string(root().join("generated/dev").join(LOCK_FILE)).unwrap();
    let mut forged = String::new();
    for line in lock.lines() {
        if !line.trim().starts_with("\"h1:") {
            forged.push_str(line);
            forged.push('\n');
        }
    }
    forged = forged.replace(
        "hashes = [\n",
        "hashes = [\n    \"h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\",\n",
    );
    std::fs::write(dir.path().join(LOCK_FILE), &forged).unwrap();
    let output = Command::new(root().join("scripts/terraform-init"))
        .arg(dir.path())
        .output()
        .unwrap();
    let said = text(&output);
    assert!(
        !output.status.success(),
        "init accepted a forged lock:\n{said}"
    );
    assert!(
        said.contains("doesn't match any of the") && said.contains("checksums"),
        "{said}"
    );
}

/// base64(SHA-256) of a function's packaged zip, as Lambda reports `CodeSha256` and
/// `filebase64sha256` computes it.
fn packaged_sha256(function: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let zip = root().join(format!("generated/dist/{function}.zip"));
    let digest = sha2::Sha256::digest(std::fs::read(zip).unwrap());
    base64::engine::general_purpose::STANDARD.encode(digest)
}

/// `terraform test` of a copy of `generated/dev` against a mocked provider (no account, no
/// emulator): an apply, then every check, with each function reporting `deployed` code.
fn test_dev_with_deployed_code(deployed: impl Fn(&str) -> String) -> (bool, String) {
    let scratch = tempfile::tempdir().unwrap();
    let dev = scratch.path().join("dev");
    std::fs::create_dir_all(dev.join("tests")).unwrap();
    copy_dev(&dev, true);
    std::os::unix::fs::symlink(root().join("generated/dist"), scratch.path().join("dist")).unwrap();

    // Mocked computed values are random strings, and the provider refuses one where it
    // validates an ARN: give every computed ARN attribute an ARN-shaped default.
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/fixtures/aws-provider-schema.json")).unwrap(),
    )
    .unwrap();
    let mut mocks = String::new();
    let mut types = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(&dev).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().ends_with(".tf.json") {
            let file: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            types.extend(
                file["resource"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(t, _)| t.clone()),
            );
        }
    }
    for ty in &types {
        let attributes = schema["$defs"][format!("resource.{ty}")]["x-attributes"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let arns: Vec<String> = attributes
            .iter()
            .filter(|(name, kind)| {
                (*name == "arn" || name.ends_with("_arn")) && *kind == "computed"
            })
            .map(|(name, _)| format!("{name} = \"arn:aws:mock:us-east-1:123456789012:{ty}/mock\""))
            .collect();
        if !arns.is_empty() {
            mocks.push_str(&format!(
                "  mock_resource \"{ty}\" {{\n    defaults = {{ {} }}\n  }}\n",
                arns.join(", ")
            ));
        }
    }
    let mut expected_failures = Vec::new();
    for function in functions::ALL {
        let logical = function.replace('-', "_");
        let reported = deployed(function);
        mocks.push_str(&format!(
            "  override_data {{\n    target = data.aws_lambda_function.{logical}_deployed\n    values = {{ code_sha256 = \"{reported}\" }}\n  }}\n",
        ));
        if reported != packaged_sha256(function) {
            expected_failures.push(format!("check.{logical}_runs_the_packaged_code"));
        }
    }
    std::fs::write(
        dev.join("tests/deployed_code.tftest.hcl"),
        format!(
            "mock_provider \"aws\" {{\n{mocks}}}\n\n\
             variables {{\n  alert_emails = [\"oncall@shipstack.io\"]\n  \
             shipment_alert_emails = [\"dispatch@shipstack.io\"]\n}}\n\n\
             run \"apply\" {{\n  command = apply\n  expect_failures = [{}]\n}}\n",
            expected_failures.join(", ")
        ),
    )
    .unwrap();
    run(
        Command::new(root().join("scripts/terraform-init")).arg(&dev),
        "terraform init of the dev copy",
    );
    let output = Command::new("terraform")
        .arg(format!("-chdir={}", dev.display()))
        .args(["test", "-no-color"])
        .output()
        .unwrap();
    (output.status.success(), text(&output))
}

#[test]
fn a_function_running_other_code_than_its_zip_fails_its_check_and_only_its_own() {
    let (ok, text) = test_dev_with_deployed_code(packaged_sha256);
    assert!(
        ok && !text.contains("Check block assertion failed"),
        "{text}"
    );

    // A console hotfix of one function: its check, and no other, fails (`expect_failures`
    // holds exactly that one, and Terraform fails the run on any other or on none).
    let (ok, text) = test_dev_with_deployed_code(|f| {
        if f == functions::QUEUE_PROCESSOR {
            "hotfix".into()
        } else {
            packaged_sha256(f)
        }
    });
    assert!(ok, "{text}");
    assert!(text.contains("1 passed, 0 failed"), "{text}");
}
