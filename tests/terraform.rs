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
