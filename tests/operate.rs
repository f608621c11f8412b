//! `shipstack plan | apply | output | destroy` on `envs/local` against moto, in a scratch
//! copy of the render (so no state lands in the repository), and the refusals that need no
//! Terraform: a stale render, no saved plan, a plan older than the render.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use local::Moto;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `generated/local` rendered into `<scratch>/local`, with `<scratch>/dist` -> the zips.
fn scratch_render() -> (tempfile::TempDir, PathBuf) {
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("local");
    let rendered = shipstack(
        &["render", "envs/local", "--out", out.to_str().unwrap()],
        &[],
    );
    assert!(rendered.status.success(), "{rendered:?}");
    std::os::unix::fs::symlink(repo().join("generated/dist"), scratch.path().join("dist")).unwrap();
    (scratch, out)
}

fn shipstack(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shipstack"))
        .args(args)
        .current_dir(repo())
        .envs(env.iter().copied())
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn plan_apply_output_and_destroy_the_local_env_on_moto() {
    let moto = Moto::start().unwrap();
    let (_scratch, out) = scratch_render();
    let out = out.to_str().unwrap();
    let endpoint_var = format!("emulator_endpoint={}", moto.endpoint());
    let env = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    let target = ["envs/local", "--out", out];
    let with = |command: &str, extra: &[&str]| -> Vec<String> {
        [command]
            .iter()
            .chain(target.iter())
            .chain(extra.iter())
            .map(|s| s.to_string())
            .collect()
    };
    let run = |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        shipstack(&args, &env)
    };

    let first = run(with("plan", &["--var", &endpoint_var]));
    assert_eq!(
        first.status.code(),
        Some(2),
        "changes to make: {}",
        text(&first)
    );
    let summary = text(&first);
    assert!(
        summary.contains("plan of local: ")
            && summary.contains(" to add, 0 to change, 0 to destroy, 0 to replace"),
        "{summary}"
    );
    assert!(
        summary.contains("create") && summary.contains("aws_dynamodb_table"),
        "{summary}"
    );
    assert!(
        summary.contains(&format!(
            "run `shipstack apply envs/local --out {out}` to apply it"
        )),
        "the next command, as this one was given: {summary}"
    );

    let applied = run(with("apply", &["--auto-approve"]));
    assert!(applied.status.success(), "{}", text(&applied));
    assert!(
        text(&applied).contains("applied to local"),
        "{}",
        text(&applied)
    );

    let outputs = run(with("output", &["--json"]));
    assert!(outputs.status.success(), "{}", text(&outputs));
    let outputs: serde_json::Value = serde_json::from_slice(&outputs.stdout).unwrap();
    assert!(outputs["rest_api_url"]["value"]
        .as_str()
        .unwrap()
        .ends_with("/shipments"));

    // moto does not round-trip a few attributes (see end_to_end.rs `allowed_quirks`), so the
    // second plan updates in place; it must add, destroy and replace nothing.
    let second = run(with("plan", &["--var", &endpoint_var]));
    assert!(
        matches!(second.status.code(), Some(0 | 2)),
        "{}",
        text(&second)
    );
    assert!(
        text(&second).contains("0 to add") && text(&second).contains("0 to destroy, 0 to replace"),
        "{}",
        text(&second)
    );

    let destroyed = run(with("destroy", &["--auto-approve", "--var", &endpoint_var]));
    assert!(destroyed.status.success(), "{}", text(&destroyed));
    assert!(text(&destroyed).contains("destroyed local"));
}

#[test]
fn the_plan_summary_counts_changes_and_names_data_loss_and_failed_checks() {
    let plan = serde_json::json!({
        "resource_changes": [
            {"address": "aws_dynamodb_table.shipments", "type": "aws_dynamodb_table",
             "change": {"actions": ["delete", "create"]}},
            {"address": "aws_sqs_queue.events", "type": "aws_sqs_queue",
             "change": {"actions": ["update"]}},
            {"address": "aws_iam_role.worker", "type": "aws_iam_role",
             "change": {"actions": ["no-op"]}},
        ],
        "checks": [
            {"address": {"kind": "check", "name": "a", "to_display": "check.a"}, "status": "fail",
             "instances": [{"status": "fail", "problems": [{"message": "a runs other code"}]}]},
            {"address": {"kind": "check", "name": "b", "to_display": "check.b"}, "status": "pass"},
            {"address": {"kind": "check", "name": "c", "to_display": "check.c"}, "status": "unknown"},
        ],
    });
    let summary = shipstack::operate::Summary::of(&plan);
    pretty_assertions::assert_eq!(
        summary,
        shipstack::operate::Summary {
            counts: vec![
                ("replace".into(), "aws_dynamodb_table".into(), 1),
                ("update".into(), "aws_sqs_queue".into(), 1),
            ],
            stateful_losses: vec!["aws_dynamodb_table.shipments would be replaced".into()],
            failed_checks: vec!["check.a: a runs other code".into()],
        }
    );
}

#[test]
fn apply_refuses_without_a_plan_or_with_one_older_than_the_render() {
    let (_scratch, out) = scratch_render();
    let target = ["envs/local", "--out", out.to_str().unwrap()];
    let apply = |extra: &[&str]| {
        let args: Vec<&str> = ["apply"]
            .iter()
            .chain(target.iter())
            .chain(extra.iter())
            .copied()
            .collect();
        shipstack(&args, &[])
    };
    let none = apply(&["--auto-approve"]);
    assert_eq!(none.status.code(), Some(2));
    assert!(text(&none).contains("no saved plan"), "{}", text(&none));

    let plan = out.join(shipstack::operate::PLAN_FILE);
    std::fs::write(&plan, "not really a plan").unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&plan)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let stale = apply(&["--auto-approve"]);
    assert_eq!(stale.status.code(), Some(2));
    assert!(
        text(&stale).contains("older than the render"),
        "{}",
        text(&stale)
    );

    // Without a terminal and without --auto-approve, nothing is applied.
    std::fs::File::options()
        .write(true)
        .open(&plan)
        .unwrap()
        .set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(60))
        .unwrap();
    let unasked = apply(&[]);
    assert_eq!(unasked.status.code(), Some(2));
    assert!(
        text(&unasked).contains("pass --auto-approve"),
        "{}",
        text(&unasked)
    );
}

#[test]
fn plan_refuses_a_render_that_is_stale_against_the_code_naming_the_file() {
    let (_scratch, out) = scratch_render();
    std::fs::write(out.join("sqs.tf.json"), "{}").unwrap();
    let plan = shipstack(&["plan", "envs/local", "--out", out.to_str().unwrap()], &[]);
    assert_eq!(plan.status.code(), Some(1), "plan's error code");
    assert!(
        text(&plan).contains("is stale against the code (sqs.tf.json)"),
        "{}",
        text(&plan)
    );
}
