//! Stream images arrive in DynamoDB's JSON encoding (`{"S": "..."}`, `{"N": "12.5"}`, ...);
//! this reads them into the domain's [`Item`].

use serde_json::Value;
use shipment::{AttrValue, Item};

/// Reads an image (anything that serialises to DynamoDB JSON). `None` if it does not.
pub fn item_from_image<T: serde::Serialize>(image: &T) -> Option<Item> {
    let value = serde_json::to_value(image).ok()?;
    let object = value.as_object()?;
    object
        .iter()
        .map(|(k, v)| Some((k.clone(), attr_from_json(v)?)))
        .collect()
}

/// One attribute value in DynamoDB JSON.
pub fn attr_from_json(value: &Value) -> Option<AttrValue> {
    let object = value.as_object()?;
    let (kind, inner) = object.iter().next()?;
    let strings = |v: &Value| -> Option<Vec<String>> {
        v.as_array()?
            .iter()
            .map(|s| s.as_str().map(str::to_owned))
            .collect()
    };
    Some(match kind.as_str() {
        "S" => AttrValue::S(inner.as_str()?.to_owned()),
        "N" => AttrValue::N(match inner {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return None,
        }),
        "BOOL" => AttrValue::Bool(inner.as_bool()?),
        "NULL" => AttrValue::Null,
        "L" => AttrValue::L(
            inner
                .as_array()?
                .iter()
                .map(attr_from_json)
                .collect::<Option<_>>()?,
        ),
        "M" => AttrValue::M(
            inner
                .as_object()?
                .iter()
                .map(|(k, v)| Some((k.clone(), attr_from_json(v)?)))
                .collect::<Option<_>>()?,
        ),
        "SS" => AttrValue::Ss(strings(inner)?),
        "NS" => AttrValue::Ns(strings(inner)?),
        // Binary values are not part of our items; keep them visible as their base64 text.
        "B" => AttrValue::S(inner.as_str()?.to_owned()),
        "BS" => AttrValue::Ss(strings(inner)?),
        _ => return None,
    })
}
