//! The review gate: changes that destroy stored data are refused, naming the resource; IAM
//! broadening is listed. Cases are the committed `generated/dev`, edited.

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};
use shipstack::review::{review, Config, Review};

/// `generated/dev` as committed: (file name, JSON).
fn dev() -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("generated/dev");
    let mut files: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".tf.json"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (
                name,
                serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap(),
            )
        })
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

fn config(files: &[(String, Value)]) -> Config {
    let texts: Vec<(String, String)> = files
        .iter()
        .map(|(name, doc)| (name.clone(), doc.to_string()))
        .collect();
    Config::from_files(texts.iter().map(|(n, t)| (n.as_str(), t.as_str()))).unwrap()
}

/// Reviews `dev` edited by `edit` against `dev` as committed.
fn reviewed(edit: impl FnOnce(&mut Vec<(String, Value)>)) -> Review {
    let base = dev();
    let mut head = base.clone();
    edit(&mut head);
    review(&config(&base), &config(&head))
}

fn file<'a>(files: &'a mut [(String, Value)], name: &str) -> &'a mut Value {
    &mut files.iter_mut().find(|(n, _)| n == name).unwrap().1
}

fn tables(files: &mut [(String, Value)]) -> &mut serde_json::Map<String, Value> {
    file(files, "dynamodb.tf.json")["resource"]["aws_dynamodb_table"]
        .as_object_mut()
        .unwrap()
}

#[test]
fn an_unchanged_output_passes_with_nothing_to_report() {
    assert_eq!(reviewed(|_| {}), Review::default());
}

#[test]
fn a_removed_table_is_refused_by_name() {
    let review = reviewed(|files| {
        tables(files).remove("shipments");
    });
    assert_eq!(review.removed, ["aws_dynamodb_table.shipments"]);
    assert_eq!(review.failures.len(), 1, "{:?}", review.failures);
    assert!(review.failures[0].starts_with("aws_dynamodb_table.shipments is removed"));
}

#[test]
fn a_renamed_table_is_refused_without_moved_and_passes_with_it() {
    let rename = |files: &mut Vec<(String, Value)>| {
        let body = tables(files).remove("shipments").unwrap();
        tables(files).insert("shipment_events".into(), body);
    };
    let review = reviewed(rename);
    assert_eq!(review.added, ["aws_dynamodb_table.shipment_events"]);
    assert!(review.failures[0]
        .contains("aws_dynamodb_table.shipments is removed (or its address changed)"));

    let review = reviewed(|files| {
        rename(files);
        files.push((
            "moved.tf.json".into(),
            json!({"moved": [{"from": "aws_dynamodb_table.shipments", "to": "aws_dynamodb_table.shipment_events"}]}),
        ));
    });
    assert!(review.failures.is_empty(), "{:?}", review.failures);
}

#[test]
fn a_table_forgotten_by_a_removed_block_leaves_safely() {
    let review = reviewed(|files| {
        tables(files).remove("connections");
        files.push((
            "state2.tf.json".into(),
            json!({"removed": [{"from": "aws_dynamodb_table.connections", "lifecycle": {"destroy": false}}]}),
        ));
    });
    assert_eq!(review.removed, ["aws_dynamodb_table.connections"]);
    assert!(review.failures.is_empty(), "{:?}", review.failures);
}

#[test]
fn a_key_schema_change_is_refused_as_a_replacement() {
    let review = reviewed(|files| {
        tables(files)["shipments"]["range_key"] = json!("timestamp");
    });
    assert_eq!(review.changed, ["aws_dynamodb_table.shipments"]);
    assert_eq!(review.failures.len(), 1, "{:?}", review.failures);
    assert!(
        review.failures[0].contains("aws_dynamodb_table.shipments: changing `range_key`")
            && review.failures[0].contains("forces Terraform to replace it"),
        "{}",
        review.failures[0]
    );
}

#[test]
fn an_added_iam_action_is_listed_as_broadening_and_does_not_fail() {
    let review = reviewed(|files| {
        let policy = &mut file(files, "iam.tf.json")["resource"]["aws_iam_role_policy"]
            ["ingest_api"]["policy"];
        let mut document: Value = serde_json::from_str(policy.as_str().unwrap()).unwrap();
        document["Statement"].as_array_mut().unwrap().push(json!({
            "Effect": "Allow", "Action": ["dynamodb:Scan"], "Resource": ["${aws_dynamodb_table.shipments.arn}"]
        }));
        *policy = Value::String(document.to_string());
    });
    assert_eq!(
        review.broadening,
        ["aws_iam_role_policy.ingest_api: allows dynamodb:Scan on ${aws_dynamodb_table.shipments.arn}"]
    );
    assert!(review.failures.is_empty());
}

#[test]
fn the_command_compares_with_a_git_revision_and_exits_1_on_a_refusal() {
    let repo = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .args(args)
            .current_dir(repo.path())
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@localhost")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@localhost")
            .output()
            .unwrap();
        assert!(status.status.success(), "git {args:?}: {status:?}");
    };
    let out = repo.path().join("generated/dev");
    std::fs::create_dir_all(&out).unwrap();
    for (name, doc) in dev() {
        std::fs::write(out.join(name), serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    }
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "base"]);
    let shipstack = |base: &str| {
        Command::new(env!("CARGO_BIN_EXE_shipstack"))
            .args(["review", "--base", base])
            .current_dir(repo.path())
            .output()
            .unwrap()
    };
    let clean = shipstack("HEAD");
    assert!(clean.status.success(), "{clean:?}");
    assert!(String::from_utf8_lossy(&clean.stdout).contains("dev: 0 added, 0 removed, 0 changed"));

    let mut files = dev();
    tables(&mut files).remove("shipments");
    std::fs::write(
        out.join("dynamodb.tf.json"),
        file(&mut files, "dynamodb.tf.json").to_string(),
    )
    .unwrap();
    let refused = shipstack("HEAD");
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("REFUSED dev: aws_dynamodb_table.shipments is removed"),
        "{stderr}"
    );
}
