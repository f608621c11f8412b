//! EMF documents and start-up settings.

use processors::metrics::Metrics;
use processors::settings::{parse_ttl_days, DEFAULT_EVENT_TTL_DAYS};
use serde_json::json;
use shipment::contract::metrics as metric;
use shipment::Status;

#[test]
fn emf_documents_carry_namespace_dimensions_and_counts() {
    let m = Metrics::new("Shipstack", "prod", "queue-processor");
    m.incr_status(metric::EVENTS_PROCESSED, Status::Delivered);
    m.incr_status(metric::EVENTS_PROCESSED, Status::Delivered);
    m.incr_status(metric::EVENTS_PROCESSED, Status::Lost);
    m.incr(metric::DUPLICATES_SKIPPED);
    m.incr(metric::EVENTS_REJECTED);
    let docs = m.documents(1_760_702_400_000);
    assert_eq!(docs.len(), 3);
    let delivered = docs.iter().find(|d| d["Status"] == "DELIVERED").unwrap();
    assert_eq!(delivered["EventsProcessed"], 2);
    assert_eq!(delivered["Environment"], "prod");
    assert_eq!(delivered["_aws"]["Timestamp"], 1_760_702_400_000i64);
    assert_eq!(
        delivered["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "Shipstack"
    );
    assert_eq!(
        delivered["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([["Environment"], ["Environment", "Status"]])
    );
    assert_eq!(
        delivered["_aws"]["CloudWatchMetrics"][0]["Metrics"],
        json!([{"Name": "EventsProcessed", "Unit": "Count"}])
    );
    let plain = docs.iter().find(|d| d.get("Status").is_none()).unwrap();
    assert_eq!(plain["DuplicatesSkipped"], 1);
    assert_eq!(plain["EventsRejected"], 1);
    assert_eq!(
        plain["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([["Environment"]])
    );
    assert_eq!(m.get(metric::EVENTS_PROCESSED, None), 3);
}

#[test]
fn flushing_resets_the_counters_and_an_idle_invocation_emits_nothing() {
    let m = Metrics::new("Shipstack", "dev", "f");
    assert!(m.documents(0).is_empty());
    m.incr(metric::PROCESSING_ERRORS);
    m.flush();
    assert!(m.documents(0).is_empty());
}

#[test]
fn ttl_days_defaults_and_rejects_nonsense() {
    assert_eq!(parse_ttl_days(None), Ok(DEFAULT_EVENT_TTL_DAYS));
    assert_eq!(parse_ttl_days(Some(" 30 ")), Ok(30));
    for bad in ["0", "-1", "ninety", "5000"] {
        let err = parse_ttl_days(Some(bad)).unwrap_err();
        assert!(err.0.contains("EVENT_TTL_DAYS"), "{err}");
    }
}
