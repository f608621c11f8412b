//! Messaging: the dead-letter queue every failure path ends in, the notifications topic and its
//! buffer queue, the alerts topic and who it pages.

use aws::eventbridge::Delivery;
use aws::sns::{Topic, TopicRef};
use aws::sqs::{Queue, QueueRef};
use aws::Stack;
use tf::{Document, Expr, Tf, Validation};

use super::data::Data;
use super::DAY_S;
use crate::config::{self, EnvConfig};

pub struct Messaging {
    pub dead_letters: QueueRef,
    pub notifications: TopicRef,
    pub notifications_buffer: QueueRef,
    pub alerts: TopicRef,
}

impl Messaging {
    /// How EventBridge delivers to every target: two retries within two hours, then the
    /// dead-letter queue.
    pub fn retry_then_dead_letter(&self) -> Delivery {
        Delivery {
            max_retries: 2,
            max_event_age_s: 2 * 3600,
            dead_letter: self.dead_letters.clone(),
        }
    }
}

pub fn add(stack: &mut Stack, env: &EnvConfig, data: &Data) -> Messaging {
    let dead_letters = stack.add(Queue {
        name: "events_dlq".into(),
        key: data.key.clone(),
        visibility_timeout_s: 300,
        retention_s: 14 * DAY_S,
        receive_wait_s: 20,
        dead_letter: None,
    });
    let notifications = stack.add(Topic {
        name: "notifications".into(),
        display_name: "Shipment status notifications".into(),
        key: data.key.clone(),
    });
    let notifications_buffer = stack.add(Queue {
        name: "notifications".into(),
        key: data.key.clone(),
        visibility_timeout_s: 300,
        retention_s: 7 * DAY_S,
        receive_wait_s: 20,
        dead_letter: None,
    });
    notifications.subscribe_queue(stack, &notifications_buffer);
    let alerts = stack.add(Topic {
        name: "alerts".into(),
        display_name: "Shipment alerts".into(),
        key: data.key.clone(),
    });
    let alert_emails = alert_emails(stack.doc(), env);
    alerts.subscribe_emails(stack, alert_emails);
    Messaging {
        dead_letters,
        notifications,
        notifications_buffer,
        alerts,
    }
}

/// Domains that never receive mail (RFC 2606, RFC 6761): a subscription to one never confirms.
const RESERVED_EMAIL_DOMAINS: &str =
    r"(?i)@(.+\.)?(example\.(com|net|org)|example|test|invalid|localhost)$";

/// The `alert_emails` variable: who is paged. Account-specific, so it is given at plan time
/// (`terraform.tfvars`); only an emulator environment has a default.
fn alert_emails(doc: &mut Document, env: &EnvConfig) -> Expr {
    let default = env
        .emulator
        .as_ref()
        .map(|emulator| Tf::list(emulator.alert_emails.iter().map(|e| e.0.as_str())));
    doc.variable(
        "alert_emails",
        tf::Variable {
            r#type: "list(string)",
            description: "Email addresses paged by alarms and critical shipment statuses (each confirms a subscription by mail)",
            default,
            validations: vec![
                Validation {
                    condition: Expr::not_empty,
                    error_message: "alert_emails needs at least one address: otherwise nobody is paged.",
                },
                Validation {
                    condition: |emails| Expr::all_match(emails, config::EMAIL_PATTERN),
                    error_message: "Every alert_emails entry must be an email address.",
                },
                Validation {
                    condition: |emails| Expr::none_match(emails, RESERVED_EMAIL_DOMAINS),
                    error_message: "alert_emails must not use reserved example domains (example.com, .test, ...): their subscriptions never confirm and nobody is paged.",
                },
            ],
            ..Default::default()
        },
    )
}
