//! The daily summary: a scheduled function that counts yesterday's events per status.

use aws::eventbridge::{Rule, RuleRef, Trigger};
use aws::lambda::{AsyncFailure, Function, FunctionRef};
use aws::Stack;
use shipment::contract::{env_vars, functions};

use super::data::Data;
use super::functions::Functions;
use super::messaging::Messaging;

/// Seconds (seed 001's cleanup: 300): a paginated Query through every status partition of a
/// day's events, once a day; there is no caller waiting and no queue to keep under.
const SUMMARY_TIMEOUT_S: u32 = 300;

pub struct Summary {
    pub function: FunctionRef,
    pub schedule: RuleRef,
}

// Seed fix: 001's "cleanup" wrote an empty marker item; this one counts yesterday's events per
// status through every shard of the status index and overwrites one summary item per day. One run a day
// (never two at once where concurrency is reserved); a run that keeps failing ends in the
// dead-letter queue.
pub fn add(
    stack: &mut Stack,
    functions: &Functions,
    data: &Data,
    messaging: &Messaging,
) -> Summary {
    let function = stack.add(Function {
        async_failure: Some(AsyncFailure {
            max_retries: 2,
            max_event_age_s: 6 * 3600,
            dead_letter: messaging.dead_letters.clone(),
        }),
        ..functions.function(
            functions::DAILY_SUMMARY,
            "Daily: per-status counts of yesterday's events, stored and published",
            SUMMARY_TIMEOUT_S,
            vec![
                (env_vars::SHIPMENTS_TABLE, data.shipments.name().into()),
                (
                    env_vars::NOTIFICATIONS_TOPIC_ARN,
                    messaging.notifications.arn().into(),
                ),
            ],
            Some(1),
        )
    });
    data.shipments.grant_read_data(stack, &function);
    data.shipments.grant_write_data(stack, &function);
    messaging.notifications.grant_publish(stack, &function);
    let schedule = stack.add(Rule {
        name: "daily_summary".into(),
        description: "01:00 UTC: summarise yesterday's shipment events".into(),
        trigger: Trigger::Schedule("cron(0 1 * * ? *)".into()),
    });
    schedule.target_function(stack, &function, messaging.retry_then_dead_letter());
    Summary { function, schedule }
}
