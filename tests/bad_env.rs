//! Bad environment files: each is refused with exit code 2 and a message naming the file and
//! the field, and the output directory is left exactly as it was.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Case directory under `tests/bad-envs/` -> what the message must say (besides the file).
const CASES: [(&str, &[&str]); 14] = [
    ("syntax-error", &["not valid JSON", "line 5"]),
    (
        "unknown-field",
        &["at /retention", "'log_dayz' was unexpected"],
    ),
    (
        "wrong-type",
        &[
            "at /functions/memory_mb",
            "\"lots\" is not of type \"integer\"",
        ],
    ),
    ("bad-name", &["at /name", "\"Bad_Name\""]),
    (
        "bad-region",
        &["at /region", "\"US East\"", "AWS region code"],
    ),
    (
        "bad-email",
        &[
            "at /emulator/alert_emails/0",
            "\"ops-at-example.com\"",
            "email address",
        ],
    ),
    // Recipients are the `alert_emails` Terraform variable now (tests/terraform.rs).
    (
        "alerts-in-env-file",
        &["(top level)", "'alerts' was unexpected"],
    ),
    (
        "name-mismatch",
        &[
            "at /name",
            "must equal the directory name \"name-mismatch\"",
        ],
    ),
    ("missing-file", &["cannot read the environment file"]),
    (
        "bad-retention",
        &["at /retention/log_days", "8 is not one of"],
    ),
    ("bad-delivery", &["at /delivery", "\"carrier-pigeon\""]),
    // Lambda's ParallelizationFactor takes 1 to 10.
    (
        "bad-fanout",
        &[
            "at /functions/fanout_parallelization",
            "11 is greater than the maximum of 10",
        ],
    ),
    // The fanout needs at least one request in flight to make progress.
    (
        "bad-fanout-in-flight",
        &[
            "at /functions/fanout_in_flight",
            "0 is less than the minimum of 1",
        ],
    ),
    // SNS refuses a PublishBatch of more than 10 entries (TooManyEntriesInBatchRequest).
    (
        "bad-fanout-batch-entries",
        &[
            "at /functions/fanout_batch_entries",
            "11 is greater than the maximum of 10",
        ],
    ),
];

fn case_dir(case: &str) -> PathBuf {
    Path::new("tests/bad-envs").join(case)
}

#[test]
fn bad_env_files_are_refused_with_file_and_field_and_output_is_untouched() {
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("generated").join("env");
    std::fs::create_dir_all(&out).unwrap();
    let previous = "{\"previous\": \"render\"}\n";
    std::fs::write(out.join("main.tf.json"), previous).unwrap();

    for (case, expected) in CASES {
        let output = Command::new(env!("CARGO_BIN_EXE_shipstack"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .arg("render")
            .arg(case_dir(case))
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{case}: {stderr}");
        let file = case_dir(case).join("env.json");
        assert!(
            stderr.contains(&file.display().to_string()),
            "{case} does not name {}: {stderr}",
            file.display()
        );
        for fragment in expected {
            assert!(
                stderr.contains(fragment),
                "{case}: expected {fragment:?} in: {stderr}"
            );
        }
        let left: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            left,
            vec![std::ffi::OsString::from("main.tf.json")],
            "{case} changed the output"
        );
        assert_eq!(
            std::fs::read_to_string(out.join("main.tf.json")).unwrap(),
            previous,
            "{case}"
        );
    }
}

#[test]
fn every_case_in_the_corpus_is_checked() {
    let mut on_disk: Vec<String> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad-envs"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
    on_disk.sort();
    let mut listed: Vec<String> = CASES.iter().map(|(c, _)| c.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed);
}

#[test]
fn a_good_render_replaces_its_own_files_and_keeps_what_terraform_and_the_user_keep_there() {
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("dev");
    std::fs::create_dir_all(out.join(".terraform/providers")).unwrap();
    let kept = [
        (
            "terraform.tfvars",
            "alert_emails = [\"oncall@yourcompany.com\"]\n",
        ),
        (".terraform.lock.hcl", "# lock\n"),
        ("terraform.tfstate", "{\"version\": 4}"),
        (".terraform/providers/marker", "x"),
    ];
    for (name, text) in kept {
        std::fs::write(out.join(name), text).unwrap();
    }
    std::fs::write(out.join("stale.tf.json"), "{}").unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_shipstack"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["render", "envs/dev", "--out"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    for (name, text) in kept {
        assert_eq!(
            std::fs::read_to_string(out.join(name)).unwrap(),
            text,
            "{name} survives a render"
        );
    }
    assert!(
        !out.join("stale.tf.json").exists(),
        "rendered files the new render does not produce are gone"
    );
    assert!(out.join("main.tf.json").exists());
}

/// `envs/<name>` copied into `<scratch>/envs/<name>`.
fn copy_env(scratch: &Path, name: &str) {
    let to = scratch.join("envs").join(name);
    std::fs::create_dir_all(&to).unwrap();
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("envs")
        .join(name);
    std::fs::copy(from.join("env.json"), to.join("env.json")).unwrap();
}

fn render(args: &[&Path]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_shipstack"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("render")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn a_directory_of_envs_renders_every_one_in_one_process() {
    let scratch = tempfile::tempdir().unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("envs/schema.json"),
        scratch.path().join("schema.json"),
    )
    .ok();
    for name in ["dev", "prod"] {
        copy_env(scratch.path(), name);
    }
    let output = render(&[&scratch.path().join("envs")]);
    assert!(output.status.success(), "{output:?}");
    for name in ["dev", "prod"] {
        let ours = scratch
            .path()
            .join("generated")
            .join(name)
            .join("lambda.tf.json");
        let committed = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("generated")
            .join(name)
            .join("lambda.tf.json");
        assert_eq!(
            std::fs::read_to_string(ours).unwrap(),
            std::fs::read_to_string(committed).unwrap(),
            "{name}"
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("2 environment(s) rendered in"), "{stdout}");
}

#[test]
fn one_bad_env_among_several_writes_none_of_them() {
    let scratch = tempfile::tempdir().unwrap();
    copy_env(scratch.path(), "dev");
    let bad = case_dir("wrong-type");
    let output = render(&[&scratch.path().join("envs/dev"), &bad]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("at /functions/memory_mb"), "{stderr}");
    assert!(
        !scratch.path().join("generated/dev").exists(),
        "dev was written although wrong-type failed"
    );

    let neither = render(&[scratch.path()]);
    assert_eq!(neither.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&neither.stderr).contains("cannot read the environment file"),
        "{neither:?}"
    );
}
