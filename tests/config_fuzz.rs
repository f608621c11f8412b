//! Property tests of the environment loader: whatever the file holds, loading either succeeds
//! or fails with a message naming the file; it never panics, and what loads also renders.

use std::path::Path;

use proptest::prelude::*;
use serde_json::{json, Value};
use shipstack::render;

/// Arbitrary JSON, small and deep enough to reach nested config objects.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[ -~]{0,24}".prop_map(Value::String),
        prop_oneof![
            Just("fuzz"),
            Just("us-east-1"),
            Just("a@example.com"),
            Just("queued"),
            Just("${var.x}")
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("name".to_owned()),
                    Just("region".to_owned()),
                    Just("emulator".to_owned()),
                    Just("alert_emails".to_owned()),
                    Just("retention".to_owned()),
                    Just("log_days".to_owned()),
                    Just("functions".to_owned()),
                    Just("backend".to_owned()),
                    Just("type".to_owned()),
                    "[a-z_]{1,10}",
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A valid config with one field replaced by arbitrary JSON.
fn mutated_config() -> impl Strategy<Value = Value> {
    let paths = prop_oneof![
        Just(vec!["name"]),
        Just(vec!["region"]),
        Just(vec!["emulator", "alert_emails"]),
        Just(vec!["manages_account_settings"]),
        Just(vec!["delivery"]),
        Just(vec!["retention", "log_days"]),
        Just(vec!["functions", "reserved_concurrency"]),
        Just(vec!["api", "authorization"]),
        Just(vec!["tags"]),
        Just(vec!["backend"]),
    ];
    (paths, any_json()).prop_map(|(path, value)| {
        let mut config = json!({
            "name": "fuzz", "region": "us-east-1",
            "retention": {"log_days": 7}, "functions": {}, "api": {}, "tags": {}
        });
        let (last, parents) = path.split_last().unwrap();
        let mut node = &mut config;
        for key in parents {
            node = &mut node[*key];
        }
        node[*last] = value;
        config
    })
}

fn load(text: &str) -> Result<usize, String> {
    let dir = tempfile::tempdir().unwrap();
    let env_dir = dir.path().join("fuzz");
    std::fs::create_dir(&env_dir).unwrap();
    std::fs::write(env_dir.join("env.json"), text).unwrap();
    match render::render_env(&env_dir) {
        Ok(rendered) => Ok(rendered.resources),
        Err(err) => {
            let message = format!("{err:#}");
            let file = env_dir.join("env.json");
            assert!(
                message.contains(&file.display().to_string()),
                "error does not name the file: {message}"
            );
            Err(message)
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_json_is_loaded_or_refused_never_a_panic(value in any_json()) {
        let _ = load(&value.to_string());
    }

    #[test]
    fn arbitrary_bytes_are_refused_as_json(text in "\\PC{0,64}") {
        let _ = load(&text);
    }

    #[test]
    fn a_valid_config_with_one_bad_field_is_refused_or_renders(config in mutated_config()) {
        if let Ok(resources) = load(&config.to_string()) {
            prop_assert!(resources > 50);
        }
    }
}

#[test]
fn the_unmutated_fuzz_base_renders() {
    assert!(Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("envs/schema.json")
        .is_file());
    let base = json!({"name": "fuzz", "region": "us-east-1"});
    assert!(load(&base.to_string()).is_ok());
}
