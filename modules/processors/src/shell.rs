//! The start-up every function binary shares: JSON tracing, the SDK configuration (its
//! timeouts from `FUNCTION_TIMEOUT_S`), the handler's dependencies and metrics, the connection
//! to DynamoDB opened before the first event, then the `lambda_runtime` loop that writes the
//! metrics and log lines after each invocation.

use crate::metrics::Metrics;
use aws_config::SdkConfig;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde::{de::DeserializeOwned, Serialize};
use std::future::Future;

/// Runs `handler` for the function `function` until the runtime stops. `deps` builds the
/// handler's dependencies from the SDK configuration; a missing setting fails the init.
pub async fn serve<E, D, R, Fut>(
    function: &str,
    deps: impl FnOnce(&SdkConfig) -> Result<D, Error>,
    handler: impl Fn(LambdaEvent<E>, &'static D, &'static Metrics) -> Fut,
) -> Result<(), Error>
where
    E: DeserializeOwned,
    D: Sync + 'static,
    R: Serialize,
    Fut: Future<Output = Result<R, Error>>,
{
    crate::init_tracing();
    let config = crate::sdk::load_config().await?;
    // Both live as long as the process; leaking them lets every invocation borrow them.
    let deps: &'static D = Box::leak(Box::new(deps(&config)?));
    crate::sdk::open_dynamodb_connection(&config).await;
    let metrics: &'static Metrics = Box::leak(Box::new(Metrics::from_env(function)));
    // Boxed: the runtime's future nested in this one's would pass the compiler's depth limit.
    let result = Box::pin(lambda_runtime::run(service_fn(
        move |event: LambdaEvent<E>| {
            let work = handler(event, deps, metrics);
            async move {
                let result = work.await;
                metrics.flush();
                crate::stdout::STDOUT.flush();
                result
            }
        },
    )))
    .await;
    crate::stdout::STDOUT.flush();
    result
}
