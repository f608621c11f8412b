//! EMF documents and start-up settings.

use processors::metrics::Metrics;
use std::time::Duration;

use processors::deadline::ANSWER_MARGIN;
use processors::sdk::{config_loader, sdk_timeouts, MAX_OPERATION_TIMEOUT};
use processors::settings::{
    parse_fanout_batch_entries, parse_fanout_in_flight, parse_function_timeout, parse_ttl_days,
    DEFAULT_EVENT_TTL_DAYS,
};
use serde_json::json;
use shipment::contract::metrics as metric;
use shipment::Status;

#[test]
fn emf_documents_carry_namespace_dimensions_and_counts() {
    let m = Metrics::new("Shipstack", "prod", "queue-processor");
    m.incr_status(metric::EVENTS_PROCESSED, &Status::Delivered.into());
    m.incr_status(metric::EVENTS_PROCESSED, &Status::Delivered.into());
    m.incr_status(metric::EVENTS_PROCESSED, &Status::Lost.into());
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

#[test]
fn function_timeout_is_required_to_be_whole_seconds_lambda_accepts() {
    assert_eq!(parse_function_timeout("10"), Ok(Duration::from_secs(10)));
    for bad in ["0", "901", "ten", ""] {
        let err = parse_function_timeout(bad).unwrap_err();
        assert!(err.0.contains("FUNCTION_TIMEOUT_S"), "{err}");
    }
}

#[test]
fn fanout_counts_are_bounded() {
    type Parse = fn(&str) -> Result<usize, processors::settings::SettingsError>;
    let cases: [(&str, Parse, &str, usize, &str); 2] = [
        ("FANOUT_IN_FLIGHT", parse_fanout_in_flight, " 16 ", 16, "65"),
        (
            "FANOUT_BATCH_ENTRIES",
            parse_fanout_batch_entries,
            " 10 ",
            10,
            "11",
        ),
    ];
    for (name, parse, good, value, too_many) in cases {
        assert_eq!(parse(good), Ok(value), "{name}");
        assert_eq!(parse("1"), Ok(1), "{name}");
        for bad in ["0", too_many, "-2", "many", ""] {
            let err = parse(bad).unwrap_err();
            assert!(err.0.contains(name), "{name}={bad:?}: {err}");
        }
    }
}

#[test]
fn two_aws_calls_in_a_row_end_before_the_function_times_out() {
    // ingest-api and websocket-handler run 10 s; the old fixed 12 s operation timeout outlasted
    // them, so a slow dependency ended in a Lambda timeout (API Gateway: 502) instead of a 500.
    for seconds in 1..=900 {
        let timeout = Duration::from_secs(seconds);
        let (_attempt, operation) = sdk_timeouts(timeout);
        assert!(
            2 * operation + ANSWER_MARGIN < timeout,
            "{seconds} s: {operation:?} per call"
        );
    }
    assert_eq!(
        sdk_timeouts(Duration::from_secs(10)).1,
        Duration::from_millis(3_800)
    );
    assert_eq!(
        sdk_timeouts(Duration::from_secs(300)).1,
        MAX_OPERATION_TIMEOUT
    );
}

#[tokio::test]
async fn the_attempt_timeout_ends_a_stalled_answer_so_stalled_stream_protection_is_off() {
    use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
    // The protection's checks cost CPU on every poll of every body; they could only ever act
    // after the SDK's default grace period, which every attempt timeout ends before.
    let grace = StalledStreamProtectionConfig::enabled()
        .build()
        .grace_period();
    for seconds in [1, 10, 30, 60, 300, 900] {
        let config = config_loader(Duration::from_secs(seconds))
            .region(aws_config::Region::new("us-east-1"))
            .load()
            .await;
        let protection = config
            .stalled_stream_protection()
            .expect("set by the loader");
        assert!(!protection.is_enabled(), "{seconds} s: protection on");
        let attempt = config
            .timeout_config()
            .and_then(|t| t.operation_attempt_timeout())
            .expect("an attempt timeout");
        assert!(
            attempt < grace,
            "{seconds} s: attempt {attempt:?}, grace {grace:?}"
        );
    }
}
