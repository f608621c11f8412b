//! CloudWatch: log groups, metric alarms and dashboards. Metrics come from the handles of what
//! they measure (`rule.metric_failed_invocations()`), so namespaces and dimensions are written
//! once, where the service that publishes them is modelled.

use tf::{Block, Expr, Resource, Tf};

use crate::iam::Service;
use crate::kms::KeyRef;
use crate::sns::TopicRef;
use crate::{Component, Stack};

/// An encrypted log group with retention.
#[derive(Clone, Debug)]
pub struct LogGroup {
    /// Logical name.
    pub name: String,
    /// Physical name, e.g. `/aws/lambda/<function>`.
    pub path: String,
    pub retention_days: u32,
    pub key: KeyRef,
}

impl Component for LogGroup {
    type Handle = Resource;

    fn add_to(self, stack: &mut Stack) -> Resource {
        self.key.allow_logs(stack);
        let body = Block::new()
            .set("name", self.path)
            .set("retention_in_days", self.retention_days)
            .set("kms_key_id", self.key.arn());
        stack
            .doc()
            .resource("aws_cloudwatch_log_group", &self.name, body)
    }
}

/// How a metric's datapoints in one period are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Statistic {
    Sum,
    Maximum,
}

impl Statistic {
    pub fn as_str(self) -> &'static str {
        match self {
            Statistic::Sum => "Sum",
            Statistic::Maximum => "Maximum",
        }
    }
}

/// One metric: namespace, name, dimensions, statistic and period.
#[derive(Clone, Debug)]
pub struct Metric {
    namespace: &'static str,
    name: &'static str,
    dimensions: Vec<(&'static str, Tf)>,
    statistic: Statistic,
    period_s: u32,
}

impl Metric {
    /// A metric with exactly the dimensions its service publishes it with (an alarm on any
    /// other combination watches a metric that does not exist and never fires). Components
    /// build these; the platform asks a handle for one.
    pub fn new(
        namespace: &'static str,
        name: &'static str,
        dimensions: Vec<(&'static str, Tf)>,
    ) -> Metric {
        Metric {
            namespace,
            name,
            dimensions,
            statistic: Statistic::Sum,
            period_s: 300,
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn statistic(mut self, statistic: Statistic) -> Metric {
        self.statistic = statistic;
        self
    }

    pub fn period(mut self, seconds: u32) -> Metric {
        self.period_s = seconds;
        self
    }

    /// A line of a dashboard graph: `[namespace, name, dim, value, ..., {stat, period}]`.
    fn dashboard_line(&self) -> Tf {
        let mut line = vec![Tf::from(self.namespace), Tf::from(self.name)];
        for (dimension, value) in &self.dimensions {
            line.push(Tf::from(*dimension));
            line.push(value.clone());
        }
        line.push(Tf::object([
            ("stat", Tf::from(self.statistic.as_str())),
            ("period", Tf::from(self.period_s)),
        ]));
        Tf::List(line)
    }
}

/// How an alarm compares its metric with the threshold.
#[derive(Clone, Copy, Debug)]
pub enum Comparison {
    GreaterThan,
    GreaterThanOrEqual,
}

/// A metric alarm that notifies a topic when it fires and when it recovers; it lets CloudWatch
/// publish to that topic (and use its key) itself.
#[derive(Clone, Debug)]
pub struct Alarm {
    /// Logical name; the alarm is named `<prefix>-<name>`.
    pub name: String,
    pub description: String,
    pub metric: Metric,
    pub comparison: Comparison,
    pub threshold: i64,
    pub evaluation_periods: u32,
    pub datapoints_to_alarm: u32,
    pub notify: TopicRef,
}

impl Component for Alarm {
    type Handle = Resource;

    fn add_to(self, stack: &mut Stack) -> Resource {
        let comparison = match self.comparison {
            Comparison::GreaterThan => "GreaterThanThreshold",
            Comparison::GreaterThanOrEqual => "GreaterThanOrEqualToThreshold",
        };
        let alarm_name = stack.physical_name(&self.name);
        let body = Block::new()
            .set("alarm_name", alarm_name.as_str())
            .set("alarm_description", self.description)
            .set("namespace", self.metric.namespace)
            .set("metric_name", self.metric.name)
            .set("dimensions", Tf::object(self.metric.dimensions))
            .set("statistic", self.metric.statistic.as_str())
            .set("period", self.metric.period_s)
            .set("comparison_operator", comparison)
            .set("threshold", self.threshold)
            .set("evaluation_periods", self.evaluation_periods)
            .set("datapoints_to_alarm", self.datapoints_to_alarm)
            // No data means no traffic, not trouble.
            .set("treat_missing_data", "notBreaching")
            .set("alarm_actions", Tf::list([self.notify.arn()]))
            .set("ok_actions", Tf::list([self.notify.arn()]));
        let alarm = stack
            .doc()
            .resource("aws_cloudwatch_metric_alarm", &self.name, body);
        // The alarm's own ARN, spelled out (no reference: the topic policy need not wait for
        // every alarm); a name pattern would also match a sibling env's (`prod-*`, `prod-eu-*`).
        let alarm_arn = stack.arn("cloudwatch", format!("alarm:{alarm_name}"));
        self.notify
            .allow_service_publish(stack, Service::CloudWatch, alarm_arn);
        alarm
    }
}

/// A graph on a dashboard.
#[derive(Clone, Debug)]
pub struct Graph {
    pub title: String,
    pub metrics: Vec<Metric>,
}

/// A dashboard of graphs, two per row.
#[derive(Clone, Debug)]
pub struct Dashboard {
    pub name: String,
    pub graphs: Vec<Graph>,
}

#[derive(Clone, Debug)]
pub struct DashboardRef {
    dashboard: Resource,
    region: String,
}

impl DashboardRef {
    /// The console URL of the dashboard.
    pub fn url(&self) -> Tf {
        Tf::template([
            Tf::from(format!(
                "https://console.aws.amazon.com/cloudwatch/home?region={}#dashboards:name=",
                self.region
            )),
            self.dashboard.attr("dashboard_name").into(),
        ])
    }

    pub fn name(&self) -> Expr {
        self.dashboard.attr("dashboard_name")
    }
}

impl Component for Dashboard {
    type Handle = DashboardRef;

    fn add_to(self, stack: &mut Stack) -> DashboardRef {
        const WIDTH: u32 = 12;
        const HEIGHT: u32 = 6;
        let region = stack.region().to_owned();
        let widgets = self.graphs.into_iter().enumerate().map(|(i, graph)| {
            let i = i as u32;
            Tf::object([
                ("type", Tf::from("metric")),
                ("x", Tf::from((i % 2) * WIDTH)),
                ("y", Tf::from((i / 2) * HEIGHT)),
                ("width", Tf::from(WIDTH)),
                ("height", Tf::from(HEIGHT)),
                (
                    "properties",
                    Tf::object([
                        ("title", Tf::from(graph.title)),
                        ("region", Tf::from(region.as_str())),
                        ("view", Tf::from("timeSeries")),
                        ("stacked", Tf::from(false)),
                        (
                            "metrics",
                            Tf::List(graph.metrics.iter().map(Metric::dashboard_line).collect()),
                        ),
                    ]),
                ),
            ])
        });
        let body = Block::new()
            .set("dashboard_name", stack.physical_name(&self.name))
            .set(
                "dashboard_body",
                Tf::json(Tf::object([("widgets", Tf::List(widgets.collect()))])),
            );
        let dashboard = stack
            .doc()
            .resource("aws_cloudwatch_dashboard", &self.name, body);
        DashboardRef { dashboard, region }
    }
}
