//! What the harness applies is what was rendered and reviewed: `generated/local`, byte for byte,
//! with the committed provider lock.

use std::collections::BTreeMap;
use std::path::Path;

use local::{paths, Deployment};

/// The rendered files and the provider lock.
fn tf_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .map(|path| {
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                path,
            )
        })
        .filter(|(name, _)| local::terraform::is_applied(name))
        .map(|(name, path)| (name, std::fs::read(&path).unwrap()))
        .collect()
}

#[test]
fn the_harness_applies_exactly_generated_local() {
    let deployment = Deployment::temporary("http://127.0.0.1:1").unwrap();
    let rendered = tf_files(&paths::rendered_local());
    assert!(rendered.contains_key("lambda.tf.json"), "{rendered:?}");
    assert!(rendered.contains_key(".terraform.lock.hcl"), "{rendered:?}");
    let applied = tf_files(&deployment.dir());
    assert_eq!(
        applied.keys().collect::<Vec<_>>(),
        rendered.keys().collect::<Vec<_>>()
    );
    for (name, bytes) in &rendered {
        assert!(
            applied[name] == *bytes,
            "{name} differs from generated/local"
        );
    }
}

#[test]
fn the_stream_mapping_the_harness_plays_is_rendered_as_an_output() {
    let outputs: serde_json::Value = serde_json::from_slice(
        &std::fs::read(paths::rendered_local().join("outputs.tf.json")).unwrap(),
    )
    .unwrap();
    let mapping =
        &outputs["output"]["harness_mapping_stream_fanout_from_shipments_stream"]["value"];
    assert_eq!(
        mapping["event_source_arn"],
        "${aws_dynamodb_table.shipments.stream_arn}"
    );
    assert_eq!(mapping["bisect_batch_on_function_error"], true);
    let lambda: serde_json::Value = serde_json::from_slice(
        &std::fs::read(paths::rendered_local().join("lambda.tf.json")).unwrap(),
    )
    .unwrap();
    let mappings = lambda["resource"]["aws_lambda_event_source_mapping"]
        .as_object()
        .unwrap();
    assert!(
        mappings.values().all(|m| m["enabled"] == false),
        "moto must not poll what the harness plays: {mappings:?}"
    );
    assert!(!mappings.contains_key("stream_fanout_from_shipments_stream"));
}
