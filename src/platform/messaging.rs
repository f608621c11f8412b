//! Messaging: the dead-letter queue every failure path ends in, the notifications topic and its
//! buffer queue (an integration point for downstream consumers), the on-call alarms topic and
//! the business alerts topic, each with its own recipients.

use aws::eventbridge::Delivery;
use aws::iam::{ManagedPolicy, ManagedPolicyRef};
use aws::sns::{Topic, TopicRef};
use aws::sqs::{Queue, QueueRef};
use aws::Stack;
use tf::{Document, Expr, Tf, Validation};

use super::data::Data;
use super::DAY_S;
use crate::config::{self, EnvConfig};

/// Receives before a message moves to its dead-letter queue (seeds 001, 002).
pub const MAX_RECEIVES: u32 = 3;

pub struct Messaging {
    pub dead_letters: QueueRef,
    pub notifications: TopicRef,
    /// Seed 000's SNS-to-SQS buffer: nothing in the platform consumes it; a downstream
    /// service attaches `notifications_consumer` to its role.
    pub notifications_buffer: QueueRef,
    pub notifications_dead_letters: QueueRef,
    pub notifications_consumer: ManagedPolicyRef,
    /// CloudWatch alarms: on-call (`alert_emails`).
    pub alerts: TopicRef,
    /// One message per critical shipment status: the people who act on shipments
    /// (`shipment_alert_emails`).
    pub shipment_alerts: TopicRef,
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
    // Seed fix: 000's buffer had no dead-letter queue, so a message its consumer keeps failing
    // on blocked nothing but was silently dropped after 7 days.
    let notifications_dlq = stack.add(Queue {
        name: "notifications_dlq".into(),
        key: data.key.clone(),
        visibility_timeout_s: 300,
        retention_s: 14 * DAY_S,
        receive_wait_s: 20,
        dead_letter: None,
    });
    let notifications_buffer = stack.add(Queue {
        name: "notifications".into(),
        key: data.key.clone(),
        // Seed 000's 300 s: the time a downstream consumer has per message.
        visibility_timeout_s: 300,
        retention_s: 7 * DAY_S,
        receive_wait_s: 20,
        dead_letter: Some((notifications_dlq.clone(), MAX_RECEIVES)),
    });
    notifications.subscribe_queue(stack, &notifications_buffer);
    let notifications_consumer = stack.add(ManagedPolicy {
        name: "notifications_consumer".into(),
        description:
            "Attach to the role of a service that consumes the shipment notifications queue".into(),
    });
    notifications_buffer.grant_consume_messages(stack, &notifications_consumer);

    let alerts = stack.add(Topic {
        name: "alerts".into(),
        display_name: "Shipstack alarms".into(),
        key: data.key.clone(),
    });
    let on_call = recipients(stack.doc(), env, &ALERT_EMAILS);
    alerts.subscribe_emails(stack, on_call);
    // Seed fix: 004 sent critical-status mails and error mails to one topic; alarms page
    // on-call, shipment alerts go to whoever acts on shipments.
    let shipment_alerts = stack.add(Topic {
        name: "shipment_alerts".into(),
        display_name: "Critical shipment statuses".into(),
        key: data.key.clone(),
    });
    let business = recipients(stack.doc(), env, &SHIPMENT_ALERT_EMAILS);
    shipment_alerts.subscribe_emails(stack, business);
    Messaging {
        dead_letters,
        notifications,
        notifications_buffer,
        notifications_dead_letters: notifications_dlq,
        notifications_consumer,
        alerts,
        shipment_alerts,
    }
}

/// Domains that never receive mail (RFC 2606, RFC 6761): a subscription to one never confirms.
const RESERVED_EMAIL_DOMAINS: &str =
    r"(?i)@(.+\.)?(example\.(com|net|org)|example|test|invalid|localhost)$";

/// A list of recipients, given at plan time.
struct Recipients {
    variable: &'static str,
    description: &'static str,
    empty: &'static str,
    not_email: &'static str,
    reserved: &'static str,
}

const ALERT_EMAILS: Recipients = Recipients {
    variable: "alert_emails",
    description: "Email addresses paged by CloudWatch alarms (on-call; each confirms a subscription by mail)",
    empty: "alert_emails needs at least one address: otherwise nobody is paged.",
    not_email: "Every alert_emails entry must be an email address.",
    reserved: "alert_emails must not use reserved example domains (example.com, .test, ...): their subscriptions never confirm and nobody is paged.",
};

const SHIPMENT_ALERT_EMAILS: Recipients = Recipients {
    variable: "shipment_alert_emails",
    description: "Email addresses told of every critical shipment status (DELAYED, LOST, DAMAGED, EXCEPTION)",
    empty: "shipment_alert_emails needs at least one address: otherwise critical shipments go unnoticed.",
    not_email: "Every shipment_alert_emails entry must be an email address.",
    reserved: "shipment_alert_emails must not use reserved example domains (example.com, .test, ...): their subscriptions never confirm.",
};

/// A recipients variable. Account-specific, so it is given at plan time (`terraform.tfvars`);
/// only an emulator environment has a default.
fn recipients(doc: &mut Document, env: &EnvConfig, recipients: &Recipients) -> Expr {
    let default = env
        .emulator
        .as_ref()
        .map(|emulator| Tf::list(emulator.alert_emails.iter().map(|e| e.0.as_str())));
    doc.variable(
        recipients.variable,
        tf::Variable {
            r#type: "list(string)",
            description: recipients.description,
            default,
            validations: vec![
                Validation {
                    condition: Expr::not_empty,
                    error_message: recipients.empty,
                },
                Validation {
                    condition: |emails| Expr::all_match(emails, config::EMAIL_PATTERN),
                    error_message: recipients.not_email,
                },
                Validation {
                    condition: |emails| Expr::none_match(emails, RESERVED_EMAIL_DOMAINS),
                    error_message: recipients.reserved,
                },
            ],
            ..Default::default()
        },
    )
}
