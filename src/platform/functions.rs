//! How every function is built: the packaged zip, the env's sizing, the variables all of them
//! read, the customer key.

use aws::dynamodb::TableRef;
use aws::kms::KeyRef;
use aws::lambda::Function;
use shipment::contract::{env_vars, METRICS_NAMESPACE};
use tf::Tf;

use super::data::Data;
use crate::config::EnvConfig;

pub struct Functions<'a> {
    env: &'a EnvConfig,
    key: KeyRef,
}

impl<'a> Functions<'a> {
    pub fn new(env: &'a EnvConfig, data: &Data) -> Functions<'a> {
        Functions {
            env,
            key: data.key.clone(),
        }
    }

    /// The function `name` (as the processors know it), packaged as `../dist/<name>.zip`. Its
    /// `reserved` concurrency applies only where the env reserves concurrency at all.
    pub fn function(
        &self,
        name: &'static str,
        description: &str,
        timeout_s: u32,
        environment: Vec<(&'static str, Tf)>,
        reserved: Option<u32>,
    ) -> Function {
        let env = self.env;
        Function {
            name,
            description: description.into(),
            zip_path: format!("../dist/{name}.zip"),
            architecture: env.functions.architecture,
            memory_mb: env
                .functions
                .memory_mb_by_function
                .get(name)
                .unwrap_or(env.functions.memory_mb),
            timeout_s,
            environment: [
                vec![
                    (env_vars::ENVIRONMENT, Tf::from(env.name.as_str())),
                    (env_vars::METRICS_NAMESPACE, Tf::from(METRICS_NAMESPACE)),
                    // The function's own timeout, so its AWS calls end before Lambda ends the
                    // invocation.
                    (
                        env_vars::FUNCTION_TIMEOUT_S,
                        Tf::from(timeout_s.to_string()),
                    ),
                ],
                environment,
            ]
            .concat(),
            reserved_concurrency: reserved.filter(|_| self.reserves_concurrency()),
            log_retention_days: env.retention.log_days,
            key: self.key.clone(),
            async_failure: None,
        }
    }

    /// The reservation `pick` chooses from the env's, if it reserves concurrency.
    pub fn reservation(&self, pick: fn(&crate::config::ReservedConcurrency) -> u32) -> Option<u32> {
        self.env.functions.reserved_concurrency.as_ref().map(pick)
    }

    /// Batches of one stream shard stream-fanout processes at once.
    pub fn fanout_parallelization(&self) -> u32 {
        self.env.functions.fanout_parallelization
    }

    /// Requests one stream-fanout invocation keeps in flight at once.
    pub fn fanout_in_flight(&self) -> u32 {
        self.env.functions.fanout_in_flight
    }

    /// Entries per PublishBatch request of stream-fanout.
    pub fn fanout_batch_entries(&self) -> u32 {
        self.env.functions.fanout_batch_entries
    }

    fn reserves_concurrency(&self) -> bool {
        self.env.functions.reserved_concurrency.is_some()
    }

    /// What a function that writes shipment events reads: the table and how long events live.
    pub fn table_environment(&self, shipments: &TableRef) -> Vec<(&'static str, Tf)> {
        vec![
            (env_vars::SHIPMENTS_TABLE, shipments.name().into()),
            (
                env_vars::EVENT_TTL_DAYS,
                Tf::from(self.env.retention.event_ttl_days.to_string()),
            ),
        ]
    }
}
