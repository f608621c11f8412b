//! Start-up configuration from the environment variables the renderer sets
//! ([`shipment::contract::env_vars`]). A missing variable fails the function's init, loudly,
//! instead of its first event.

use shipment::contract::env_vars;

/// Days events are kept when `EVENT_TTL_DAYS` is unset.
pub const DEFAULT_EVENT_TTL_DAYS: u32 = 90;

/// A configuration error, naming the variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError(pub String);

impl std::fmt::Display for SettingsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SettingsError {}

/// A required variable.
pub fn required(name: &str) -> Result<String, SettingsError> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Ok(value),
        _ => Err(SettingsError(format!(
            "environment variable {name} must be set"
        ))),
    }
}

/// `EVENT_TTL_DAYS`: 1 to 3650, default [`DEFAULT_EVENT_TTL_DAYS`].
pub fn ttl_days() -> Result<u32, SettingsError> {
    parse_ttl_days(std::env::var(env_vars::EVENT_TTL_DAYS).ok().as_deref())
}

pub fn parse_ttl_days(raw: Option<&str>) -> Result<u32, SettingsError> {
    match raw.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(DEFAULT_EVENT_TTL_DAYS),
        Some(v) => whole(
            env_vars::EVENT_TTL_DAYS,
            v,
            1..=3650,
            "a whole number of days from 1 to 3650",
        ),
    }
}

/// `FUNCTION_TIMEOUT_S`: the function's configured timeout, 1 to 900 s.
pub fn function_timeout() -> Result<std::time::Duration, SettingsError> {
    parse_function_timeout(&required(env_vars::FUNCTION_TIMEOUT_S)?)
}

pub fn parse_function_timeout(raw: &str) -> Result<std::time::Duration, SettingsError> {
    whole(
        env_vars::FUNCTION_TIMEOUT_S,
        raw,
        1..=900,
        "the function's timeout, a whole number of seconds from 1 to 900",
    )
    .map(|s| std::time::Duration::from_secs(s.into()))
}

/// `FANOUT_IN_FLIGHT`: stream-fanout's requests at once, 1 to 64.
pub fn fanout_in_flight() -> Result<usize, SettingsError> {
    parse_fanout_in_flight(&required(env_vars::FANOUT_IN_FLIGHT)?)
}

pub fn parse_fanout_in_flight(raw: &str) -> Result<usize, SettingsError> {
    whole(
        env_vars::FANOUT_IN_FLIGHT,
        raw,
        1..=64,
        "a whole number of requests from 1 to 64",
    )
    .map(|n| n as usize)
}

/// `FANOUT_BATCH_ENTRIES`: entries per SNS PublishBatch request, 1 to 10.
pub fn fanout_batch_entries() -> Result<usize, SettingsError> {
    parse_fanout_batch_entries(&required(env_vars::FANOUT_BATCH_ENTRIES)?)
}

pub fn parse_fanout_batch_entries(raw: &str) -> Result<usize, SettingsError> {
    whole(
        env_vars::FANOUT_BATCH_ENTRIES,
        raw,
        1..=10,
        "a whole number of entries from 1 to 10 (SNS's PublishBatch limit)",
    )
    .map(|n| n as usize)
}

/// `raw` as a whole number in `range`, or an error naming `name` and saying what it `must_be`.
fn whole(
    name: &str,
    raw: &str,
    range: std::ops::RangeInclusive<u32>,
    must_be: &str,
) -> Result<u32, SettingsError> {
    raw.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| SettingsError(format!("{name}={raw:?} must be {must_be}")))
}

/// An optional variable: its value, or `default` when it is unset or empty.
pub fn or_default(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// `ENVIRONMENT`, default `unknown`.
pub fn environment() -> String {
    or_default(env_vars::ENVIRONMENT, "unknown")
}
