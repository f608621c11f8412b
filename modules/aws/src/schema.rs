//! The attributes and nested blocks of each AWS resource and data source type, from the provider
//! schema the repository keeps (`scripts/provider-schema` derives it), so a reference to an
//! attribute a type does not have fails at render instead of at `terraform plan`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use serde_json::Value;
use tf::Address;

const SCHEMA: &str = include_str!("../../../tests/fixtures/aws-provider-schema.json");

/// `"resource.<type>"` / `"data.<type>"` to field names; parsed once per process.
static FIELDS: LazyLock<BTreeMap<String, BTreeSet<String>>> = LazyLock::new(|| {
    let schema: Value = serde_json::from_str(SCHEMA).expect("the provider schema fixture is JSON");
    let defs = schema["$defs"].as_object().expect("the schema has $defs");
    defs.iter()
        .filter(|(key, _)| key.starts_with("resource.") || key.starts_with("data."))
        .map(|(key, def)| {
            let names = ["x-attributes", "x-blocks"]
                .iter()
                .filter_map(|k| def[*k].as_object())
                .flat_map(|fields| fields.keys().cloned());
            (key.clone(), names.collect())
        })
        .collect()
});

/// A [`tf::Attributes`] catalogue: whether the type of `address` has `field`.
pub fn has_field(address: &Address, field: &str) -> Option<bool> {
    let key = match address {
        Address::Resource { ty, .. } => format!("resource.{ty}"),
        Address::Data { ty, .. } => format!("data.{ty}"),
        _ => return None,
    };
    FIELDS.get(&key).map(|fields| fields.contains(field))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_come_from_the_provider_schema() {
        let queue = tf::Resource::new("aws_sqs_queue", "q").target();
        assert_eq!(has_field(&queue, "arn"), Some(true));
        assert_eq!(has_field(&queue, "timeouts"), Some(true));
        assert_eq!(has_field(&queue, "nope"), Some(false));
        let unknown = tf::Resource::new("aws_nope", "q").target();
        assert_eq!(has_field(&unknown, "arn"), None);
    }
}
