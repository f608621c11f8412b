//! EventBridge: a custom bus, pattern and schedule rules, SQS and Lambda targets with retry
//! policy and dead-letter queue, and an archive for replay.

use tf::{Block, Expr, Resource, Tf};

use crate::cloudwatch::Metric;
use crate::iam::Service;
use crate::lambda::FunctionRef;
use crate::sns::TopicRef;
use crate::sqs::QueueRef;
use crate::{Component, Stack};

/// A custom event bus.
#[derive(Clone, Debug)]
pub struct Bus {
    pub name: String,
}

#[derive(Clone, Debug)]
pub struct BusRef {
    bus: Resource,
}

impl BusRef {
    pub fn arn(&self) -> Expr {
        self.bus.attr("arn")
    }

    pub fn name(&self) -> Expr {
        self.bus.attr("name")
    }
}

impl Component for Bus {
    type Handle = BusRef;

    fn add_to(self, stack: &mut Stack) -> BusRef {
        let body = Block::new().set("name", stack.physical_name(&self.name));
        BusRef {
            bus: stack
                .doc()
                .resource("aws_cloudwatch_event_bus", &self.name, body),
        }
    }
}

/// When a rule fires: on matching events of a bus, or on a schedule (default bus).
#[derive(Clone, Debug)]
pub enum Trigger {
    /// An event pattern on a custom bus, or on the account's default bus (AWS service events).
    Pattern { bus: Option<BusRef>, pattern: Tf },
    /// `cron(...)` or `rate(...)`.
    Schedule(String),
}

#[derive(Clone, Debug)]
pub struct Rule {
    pub name: String,
    pub description: String,
    pub trigger: Trigger,
}

#[derive(Clone, Debug)]
pub struct RuleRef {
    rule: Resource,
    physical_name: String,
    bus_name: Option<Expr>,
    schedule: Option<String>,
}

/// Name prefix of the outputs that describe, under an emulator, the schedules the harness
/// plays. moto 5.2.5 matches a schedule rule (it has no pattern) against every event put on
/// the default bus and answers 500 for its Lambda target ("Expr not defined for Rule"), so
/// there the rule is rendered without its target, and the target as an output.
pub const HARNESS_SCHEDULE_PREFIX: &str = "harness_schedule_";

/// Delivery guarantees of a target: retries, event age, and where undeliverable events go.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub max_retries: u32,
    pub max_event_age_s: u32,
    pub dead_letter: QueueRef,
}

impl RuleRef {
    pub fn arn(&self) -> Expr {
        self.rule.attr("arn")
    }

    pub fn logical_name(&self) -> &str {
        self.rule.name()
    }

    /// Invocations EventBridge could not deliver to a target (after retries).
    pub fn metric_failed_invocations(&self) -> Metric {
        // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html: a rule on
        // a custom bus publishes with EventBusName and RuleName, one on the default bus with
        // RuleName alone; any other combination is a metric that does not exist.
        let mut dimensions = Vec::new();
        if let Some(bus) = &self.bus_name {
            dimensions.push(("EventBusName", Tf::from(bus.clone())));
        }
        dimensions.push(("RuleName", Tf::from(self.physical_name.as_str())));
        Metric::new("AWS/Events", "FailedInvocations", dimensions)
    }

    /// Sends matching events to `queue`; what cannot be delivered ends in the dead-letter queue.
    pub fn target_queue(&self, stack: &mut Stack, queue: &QueueRef, delivery: Delivery) {
        queue.allow_service_send(stack, Service::EventBridge, self.arn().into());
        self.target(stack, queue.resource().name(), queue.arn(), delivery);
    }

    /// Invokes `function` with each matching event (or on the schedule).
    pub fn target_function(&self, stack: &mut Stack, function: &FunctionRef, delivery: Delivery) {
        function.allow_invoke(
            stack,
            self.rule.name(),
            Service::EventBridge,
            self.arn().into(),
        );
        if let (true, Some(schedule)) = (stack.emulated, &self.schedule) {
            let played = Tf::object([
                ("rule", Tf::from(self.rule.attr("name"))),
                ("schedule_expression", Tf::from(schedule.as_str())),
                ("function_name", Tf::from(function.name())),
            ]);
            stack.doc().output(
                &format!("{HARNESS_SCHEDULE_PREFIX}{}", self.rule.name()),
                "Schedule the local harness plays (moto fails every default-bus event on it)",
                played,
            );
            return;
        }
        self.target(stack, function.logical_name(), function.arn(), delivery);
    }

    /// Publishes matching events to `topic`.
    pub fn target_topic(&self, stack: &mut Stack, topic: &TopicRef, delivery: Delivery) {
        topic.allow_service_publish(stack, Service::EventBridge, self.arn().into());
        self.target(stack, topic.resource().name(), topic.arn(), delivery);
    }

    fn target(&self, stack: &mut Stack, target_name: &str, arn: Expr, delivery: Delivery) {
        delivery
            .dead_letter
            .allow_service_send(stack, Service::EventBridge, self.arn().into());
        let body = Block::new()
            .set("rule", self.rule.attr("name"))
            .set_opt("event_bus_name", self.bus_name.clone())
            .set("target_id", target_name)
            .set("arn", arn)
            .block(
                "retry_policy",
                Block::new()
                    .set("maximum_retry_attempts", delivery.max_retries)
                    .set("maximum_event_age_in_seconds", delivery.max_event_age_s),
            )
            .block(
                "dead_letter_config",
                Block::new().set("arn", delivery.dead_letter.arn()),
            );
        let name = format!("{}_to_{target_name}", self.rule.name());
        stack
            .doc()
            .resource("aws_cloudwatch_event_target", &name, body);
    }
}

impl Component for Rule {
    type Handle = RuleRef;

    fn add_to(self, stack: &mut Stack) -> RuleRef {
        // https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutRule.html: 1-64.
        let physical_name = stack.physical_name_within(&self.name, "EventBridge rule", 64);
        let mut body = Block::new()
            .set("name", physical_name.clone())
            .set("description", self.description);
        let schedule = match &self.trigger {
            Trigger::Schedule(expression) => Some(expression.clone()),
            Trigger::Pattern { .. } => None,
        };
        let bus_name = match self.trigger {
            Trigger::Pattern { bus, pattern } => {
                let bus_name = bus.map(|b| b.name());
                body = body
                    .set_opt("event_bus_name", bus_name.clone())
                    .set("event_pattern", Tf::json(pattern));
                bus_name
            }
            Trigger::Schedule(expression) => {
                body = body.set("schedule_expression", expression);
                None
            }
        };
        let rule = stack
            .doc()
            .resource("aws_cloudwatch_event_rule", &self.name, body);
        RuleRef {
            rule,
            physical_name,
            bus_name,
            schedule,
        }
    }
}

/// Keeps matching events of a bus for replay.
#[derive(Clone, Debug)]
pub struct Archive {
    pub name: String,
    pub bus: BusRef,
    pub pattern: serde_json::Value,
    pub retention_days: u32,
}

impl Component for Archive {
    type Handle = Resource;

    fn add_to(self, stack: &mut Stack) -> Resource {
        let body = Block::new()
            // https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_CreateArchive.html: 1-48.
            .set(
                "name",
                stack.physical_name_within(&self.name, "EventBridge archive", 48),
            )
            .set("event_source_arn", self.bus.arn())
            .set("event_pattern", Tf::json(self.pattern))
            .set("retention_days", self.retention_days);
        stack
            .doc()
            .resource("aws_cloudwatch_event_archive", &self.name, body)
    }
}
