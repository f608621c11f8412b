//! The invocation deadline: an API-facing function answers with its designed error before
//! Lambda ends the invocation (API Gateway would turn a Lambda timeout into a bare 502).

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Kept back from the deadline to serialise the answer and flush the metrics.
pub const ANSWER_MARGIN: Duration = Duration::from_millis(500);

/// Runs `work` until [`ANSWER_MARGIN`] before `deadline_ms` (Lambda's
/// `Lambda-Runtime-Deadline-Ms`, epoch milliseconds); `None` if the deadline came first.
pub async fn before_deadline<T>(deadline_ms: u64, work: impl Future<Output = T>) -> Option<T> {
    tokio::time::timeout(time_left(deadline_ms, SystemTime::now()), work)
        .await
        .ok()
}

fn time_left(deadline_ms: u64, now: SystemTime) -> Duration {
    let deadline = UNIX_EPOCH + Duration::from_millis(deadline_ms);
    deadline
        .duration_since(now)
        .unwrap_or_default()
        .saturating_sub(ANSWER_MARGIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_margin_is_kept_and_a_past_deadline_leaves_nothing() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        assert_eq!(time_left(1_010_000, now), Duration::from_millis(9_500));
        assert_eq!(time_left(1_000_200, now), Duration::ZERO);
        assert_eq!(time_left(900_000, now), Duration::ZERO);
    }

    #[tokio::test]
    async fn work_that_outlasts_the_deadline_is_cut_off() {
        let deadline = SystemTime::now() + ANSWER_MARGIN + Duration::from_millis(100);
        let deadline_ms = deadline.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        let slow = tokio::time::sleep(Duration::from_secs(5));
        assert_eq!(before_deadline(deadline_ms, slow).await, None);
        let later = SystemTime::now() + Duration::from_secs(10);
        let later_ms = later.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        let quick = async { 7 };
        assert_eq!(before_deadline(later_ms, quick).await, Some(7));
    }
}
