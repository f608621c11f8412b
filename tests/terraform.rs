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
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
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
