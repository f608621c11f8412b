//! Everything together: the deployed functions behind the Runtime API, the event source
//! mappings' pollers, the API Gateway front doors and (optionally) the fault proxy, all
//! configured from what the emulator holds. Dropping the harness stops all of it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;
use shipment::contract::env_vars;
use tokio::task::JoinHandle;

use crate::deployed::Deployed;
use crate::faults::FaultProxy;
use crate::gateway::{self, Functions, WsHub};
use crate::lambda::{EmulatedFunction, FunctionSpec, Invocation, LogSink};
use crate::paths;
use crate::queue_poller::QueuePoller;
use crate::sdk_clients::{self, Clients, Credentials, REGION};
use crate::stream_poller::StreamPoller;
use crate::terraform::{Deployment, Outputs};

/// How to run the harness.
#[derive(Debug, Clone)]
pub struct HarnessOptions {
    /// Print the functions' log lines (`[name] ...`) on stderr.
    pub echo_logs: bool,
    /// Put the fault proxy between the functions and the emulator (seeded; it passes
    /// everything through until [`FaultProxy::set_share`]).
    pub fault_seed: Option<u64>,
    /// REST port (0: a free one).
    pub rest_port: u16,
    /// WebSocket and `@connections` port (0: a free one).
    pub ws_port: u16,
    /// Where the packaged zips are.
    pub dist: PathBuf,
    /// Mappings to play that are not in the emulator (see
    /// [`crate::Deployment::harness_mappings`]).
    pub extra_mappings: Vec<crate::deployed::Mapping>,
}

impl Default for HarnessOptions {
    fn default() -> Self {
        HarnessOptions {
            echo_logs: false,
            fault_seed: None,
            rest_port: 0,
            ws_port: 0,
            dist: paths::dist(),
            extra_mappings: Vec::new(),
        }
    }
}

/// The running harness.
pub struct Harness {
    pub moto_endpoint: String,
    pub clients: Clients,
    pub deployed: Deployed,
    /// By contract name.
    functions: BTreeMap<String, Arc<EmulatedFunction>>,
    pub queue_pollers: Vec<Arc<QueuePoller>>,
    pub stream_pollers: Vec<Arc<StreamPoller>>,
    pub ws: Option<Arc<WsHub>>,
    /// `http://127.0.0.1:<port>`.
    rest_endpoint: String,
    /// `ws://127.0.0.1:<port>/<stage>`.
    pub ws_url: String,
    pub faults: Option<FaultProxy>,
    pub logs: LogSink,
    tasks: Vec<JoinHandle<()>>,
    _packages: tempfile::TempDir,
}

impl Harness {
    pub async fn start(moto_endpoint: &str, options: HarnessOptions) -> Result<Harness> {
        paths::check_dist(&options.dist)?;
        let clients = Clients::new(moto_endpoint).await;
        let deployed = discover(&clients, &options).await?;
        let faults = match options.fault_seed {
            Some(seed) => Some(FaultProxy::start(moto_endpoint, seed).await?),
            None => None,
        };
        let function_endpoint = faults
            .as_ref()
            .map(|f| f.endpoint.clone())
            .unwrap_or_else(|| moto_endpoint.to_owned());

        let rest_listener = tokio::net::TcpListener::bind(("127.0.0.1", options.rest_port))
            .await
            .with_context(|| format!("bind the REST port {}", options.rest_port))?;
        let ws_listener = tokio::net::TcpListener::bind(("127.0.0.1", options.ws_port))
            .await
            .with_context(|| format!("bind the WebSocket port {}", options.ws_port))?;
        let rest_endpoint = format!("http://{}", rest_listener.local_addr()?);
        let ws_address = ws_listener.local_addr()?;
        let ws_stage = deployed.websocket.as_ref().map(|w| w.stage.clone());
        let management_endpoint = ws_stage
            .as_ref()
            .map(|stage| format!("http://{ws_address}/{stage}"));

        let roles = ExecutionRoles::assume(moto_endpoint, &clients, &deployed).await?;
        let packages = tempfile::Builder::new()
            .prefix("shipstack-functions-")
            .tempdir()?;
        let logs = LogSink::new(options.echo_logs);
        let functions = emulated_functions(
            &deployed,
            &roles,
            &options.dist,
            packages.path(),
            &function_endpoint,
            management_endpoint.as_deref(),
            &logs,
        )?;
        let by_deployed_name: Functions = functions
            .values()
            .map(|f| (f.spec.deployed_name.clone(), f.clone()))
            .collect();

        let mut tasks = Vec::new();
        let ws = serve_gateways(
            &deployed,
            &by_deployed_name,
            rest_listener,
            ws_listener,
            &mut tasks,
        )?;
        let (queue_pollers, stream_pollers) = start_pollers(
            &deployed,
            &by_deployed_name,
            &roles,
            &clients,
            moto_endpoint,
            &mut tasks,
        )
        .await?;

        Ok(Harness {
            moto_endpoint: moto_endpoint.to_owned(),
            clients,
            deployed,
            functions,
            queue_pollers,
            stream_pollers,
            ws_url: format!("ws://{ws_address}/{}", ws_stage.unwrap_or_default()),
            ws,
            rest_endpoint,
            faults,
            logs,
            tasks,
            _packages: packages,
        })
    }

    /// Applies `deployment` and starts the harness on it, playing the stream mappings the
    /// renderer left to it ([`Deployment::harness_mappings`]). Returns the harness, the
    /// Terraform outputs and how long init and apply took.
    pub async fn deploy(
        deployment: &Deployment,
        options: HarnessOptions,
    ) -> Result<(Harness, Outputs, Duration)> {
        let started = Instant::now();
        deployment.init()?;
        deployment.apply()?;
        let took = started.elapsed();
        let outputs = deployment.outputs()?;
        let harness = Harness::start(
            deployment.endpoint(),
            HarnessOptions {
                extra_mappings: Deployment::harness_mappings(&outputs),
                ..options
            },
        )
        .await?;
        Ok((harness, outputs, took))
    }

    /// Every function, by contract name.
    pub fn functions(&self) -> &BTreeMap<String, Arc<EmulatedFunction>> {
        &self.functions
    }

    /// A function by contract name (`ingest-api`).
    pub fn function(&self, contract_name: &str) -> &Arc<EmulatedFunction> {
        self.functions
            .get(contract_name)
            .unwrap_or_else(|| panic!("no function {contract_name}"))
    }

    /// The URL of a REST route, e.g. `POST /shipments` -> `http://127.0.0.1:p/local/shipments`.
    pub fn rest_url(&self, path: &str) -> Option<String> {
        self.deployed
            .rest
            .iter()
            .find(|r| r.path == path)
            .map(|r| format!("{}/{}{}", self.rest_endpoint, r.stage, r.path))
    }

    /// An asynchronous invocation (`Event`), as EventBridge's schedule makes: on a function
    /// error Lambda retries it as its event invoke configuration says (two retries by
    /// default). Lambda waits about a minute, then two, between attempts; locally the waits
    /// are one and two seconds. Returns every attempt.
    pub async fn invoke_async(&self, contract_name: &str, event: Value) -> Result<Vec<Invocation>> {
        let function = self.function(contract_name);
        let retries = self
            .clients
            .lambda
            .get_function_event_invoke_config()
            .function_name(&function.spec.deployed_name)
            .send()
            .await
            .ok()
            .and_then(|c| c.maximum_retry_attempts())
            .unwrap_or(2)
            .max(0) as u64;
        let mut attempts = Vec::new();
        for attempt in 0..=retries {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_secs(attempt)).await;
            }
            let invocation = function.invoke(event.clone()).await;
            let ok = invocation.outcome.is_ok();
            attempts.push(invocation);
            if ok {
                break;
            }
        }
        Ok(attempts)
    }

    /// Waits until nothing is in progress: no SQS batch being gathered or processed, every
    /// stream caught up, no invocation running, the mapped queues without visible
    /// messages. Messages in flight (waiting for their visibility timeout) do not count:
    /// see [`Harness::queue_depth`].
    pub async fn settle(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let mut quiet_rounds = 0;
        loop {
            let since = Instant::now();
            tokio::time::sleep(Duration::from_millis(600)).await;
            let mut busy = self.in_progress(since);
            // The queues are asked only when nothing else is busy (or at the end, to name
            // them): moto answers one request at a time, shared with the work waited on.
            let over = Instant::now() > deadline;
            if busy.is_empty() || over {
                busy.extend(self.visible_messages().await?);
            }
            quiet_rounds = if busy.is_empty() { quiet_rounds + 1 } else { 0 };
            if quiet_rounds >= 2 {
                return Ok(());
            }
            if over {
                bail!(
                    "the harness did not settle within {timeout:?}: {}",
                    busy.join("; ")
                );
            }
        }
    }

    /// What the harness itself is still doing (see [`Harness::settle`]), each named.
    fn in_progress(&self, since: Instant) -> Vec<String> {
        let mut busy = Vec::new();
        for source in &self.queue_pollers {
            let batches = source.stats.busy.load(Ordering::SeqCst);
            if batches > 0 {
                busy.push(format!(
                    "{batches} batches of {} in progress",
                    source.queue_url
                ));
            }
        }
        for source in self.stream_pollers.iter().filter(|s| !s.idle_since(since)) {
            busy.push(format!(
                "the stream {} not caught up ({} records delivered so far)",
                source.mapping.source_arn,
                source.stats.records.load(Ordering::Relaxed)
            ));
        }
        for function in self.functions.values().filter(|f| f.in_flight() > 0) {
            busy.push(format!(
                "{} invocations of {} running",
                function.in_flight(),
                function.spec.deployed_name
            ));
        }
        busy
    }

    /// The mapped queues with visible messages, each named.
    async fn visible_messages(&self) -> Result<Vec<String>> {
        let mut busy = Vec::new();
        for source in &self.queue_pollers {
            let (visible, _) = self.queue_depth(&source.queue_url).await?;
            if visible > 0 {
                busy.push(format!(
                    "{visible} messages visible in {}",
                    source.queue_url
                ));
            }
        }
        Ok(busy)
    }

    /// (visible, in flight) messages of a queue.
    pub async fn queue_depth(&self, queue_url: &str) -> Result<(u64, u64)> {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let output = self
            .clients
            .sqs
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await?;
        let get = |name: A| {
            output
                .attributes()
                .and_then(|a| a.get(&name))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Ok((
            get(A::ApproximateNumberOfMessages),
            get(A::ApproximateNumberOfMessagesNotVisible),
        ))
    }

    /// Stops pollers, servers and function instances.
    pub fn stop(&mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
        for function in self.functions.values() {
            function.stop();
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What was deployed, with the mappings the harness plays: the emulator's (which must be
/// disabled) and the options' extra ones.
async fn discover(clients: &Clients, options: &HarnessOptions) -> Result<Deployed> {
    let mut deployed = Deployed::discover(clients).await?;
    if let Some(enabled) = deployed.mappings.iter().find(|m| m.enabled) {
        bail!(
            "event source mapping {} ({} -> {}) is enabled in the emulator: moto would consume the source itself (it cannot run the function), so the local env renders mappings disabled and the harness plays them",
            enabled.uuid, enabled.source_arn, enabled.function_name
        );
    }
    deployed
        .mappings
        .extend(options.extra_mappings.iter().cloned());
    Ok(deployed)
}

/// Sessions of the functions' execution roles, by role ARN.
///
/// Each function runs on a session of its own execution role, as on Lambda; the pollers of
/// its event source mappings too (Lambda's event source mappings read with the function's
/// role). The harness plays the Lambda service: it assumes the roles as the admin.
struct ExecutionRoles(BTreeMap<String, (Credentials, Clients)>);

impl ExecutionRoles {
    async fn assume(moto_endpoint: &str, clients: &Clients, deployed: &Deployed) -> Result<Self> {
        let mut roles = BTreeMap::new();
        for deployed_fn in deployed.functions.values() {
            if deployed_fn.role.is_empty() || roles.contains_key(&deployed_fn.role) {
                continue;
            }
            let session = sdk_clients::assume_role(
                moto_endpoint,
                &clients.credentials,
                &deployed_fn.role,
                &format!("lambda-{}", deployed_fn.contract_name),
            )
            .await
            .with_context(|| format!("the execution role of {}", deployed_fn.deployed_name))?;
            let role_clients = Clients::with_credentials(moto_endpoint, session.clone()).await;
            roles.insert(deployed_fn.role.clone(), (session, role_clients));
        }
        Ok(ExecutionRoles(roles))
    }

    /// The session of the function deployed as `deployed_name`.
    fn of(&self, deployed: &Deployed, deployed_name: &str) -> Result<&(Credentials, Clients)> {
        let function = deployed
            .functions
            .values()
            .find(|f| f.deployed_name == deployed_name)
            .with_context(|| format!("{deployed_name} is not deployed"))?;
        self.0
            .get(&function.role)
            .with_context(|| format!("{deployed_name} has no execution role"))
    }
}

/// The deployed functions, unzipped under `packages` and configured to reach the emulator
/// (through `function_endpoint`) on their role's session; by contract name.
fn emulated_functions(
    deployed: &Deployed,
    roles: &ExecutionRoles,
    dist: &Path,
    packages: &Path,
    function_endpoint: &str,
    management_endpoint: Option<&str>,
    logs: &LogSink,
) -> Result<BTreeMap<String, Arc<EmulatedFunction>>> {
    let mut functions = BTreeMap::new();
    for (contract_name, deployed_fn) in &deployed.functions {
        let task_root = packages.join(contract_name);
        unzip(&dist.join(format!("{contract_name}.zip")), &task_root)?;
        let mut env = deployed_fn.variables.clone();
        if let (Some(endpoint), true) = (
            management_endpoint,
            env.contains_key(env_vars::WEBSOCKET_ENDPOINT),
        ) {
            // The deployed value names execute-api on AWS; locally the harness serves
            // the @connections API.
            env.insert(env_vars::WEBSOCKET_ENDPOINT.into(), endpoint.to_owned());
        }
        let (session, _) = roles.of(deployed, &deployed_fn.deployed_name)?;
        for (key, value) in [
            ("AWS_ENDPOINT_URL", function_endpoint.to_owned()),
            ("AWS_REGION", REGION.into()),
            ("AWS_DEFAULT_REGION", REGION.into()),
            ("AWS_ACCESS_KEY_ID", session.access_key_id().to_owned()),
            (
                "AWS_SECRET_ACCESS_KEY",
                session.secret_access_key().to_owned(),
            ),
            (
                "AWS_SESSION_TOKEN",
                session.session_token().unwrap_or_default().to_owned(),
            ),
        ] {
            env.insert(key.to_owned(), value);
        }
        let spec = FunctionSpec {
            deployed_name: deployed_fn.deployed_name.clone(),
            arn: deployed_fn.arn.clone(),
            timeout: deployed_fn.timeout,
            memory_mb: deployed_fn.memory_mb,
            concurrency: deployed_fn
                .reserved_concurrency
                .filter(|n| *n > 0)
                .unwrap_or(10) as usize,
            env,
            task_root,
        };
        functions.insert(
            contract_name.clone(),
            Arc::new(EmulatedFunction::new(spec, logs.clone())),
        );
    }
    Ok(functions)
}

/// Serves the REST API, and the WebSocket API when one is deployed, on their listeners.
fn serve_gateways(
    deployed: &Deployed,
    functions: &Functions,
    rest_listener: tokio::net::TcpListener,
    ws_listener: tokio::net::TcpListener,
    tasks: &mut Vec<JoinHandle<()>>,
) -> Result<Option<Arc<WsHub>>> {
    let rest = gateway::rest_app(deployed.rest.clone(), functions.clone())?;
    tasks.push(tokio::spawn(async move {
        let _ = axum::serve(
            rest_listener,
            rest.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    }));
    let ws = deployed
        .websocket
        .clone()
        .map(|api| WsHub::new(api, functions.clone()));
    if let Some(hub) = &ws {
        let app = hub.app();
        tasks.push(tokio::spawn(async move {
            let _ = axum::serve(
                ws_listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await;
        }));
    }
    Ok(ws)
}

/// Starts a poller for each event source mapping, reading with its function's role.
async fn start_pollers(
    deployed: &Deployed,
    functions: &Functions,
    roles: &ExecutionRoles,
    clients: &Clients,
    moto_endpoint: &str,
    tasks: &mut Vec<JoinHandle<()>>,
) -> Result<(Vec<Arc<QueuePoller>>, Vec<Arc<StreamPoller>>)> {
    let mut queue_pollers = Vec::new();
    let mut stream_pollers = Vec::new();
    for mapping in &deployed.mappings {
        let Some(function) = functions.get(&mapping.function_name).cloned() else {
            bail!(
                "mapping {} targets {}, which is not deployed",
                mapping.uuid,
                mapping.function_name
            );
        };
        let (_, role_clients) = roles.of(deployed, &mapping.function_name)?;
        if mapping.is_sqs() {
            let poller = Arc::new(
                QueuePoller::new(
                    mapping.clone(),
                    &clients.sqs,
                    role_clients.sqs.clone(),
                    function,
                )
                .await?,
            );
            for _ in 0..poller.pollers() {
                tasks.push(tokio::spawn(poller.clone().run()));
            }
            queue_pollers.push(poller);
        } else if mapping.is_dynamodb_stream() {
            let poller = Arc::new(StreamPoller::new(
                mapping.clone(),
                role_clients.clone(),
                function,
                moto_endpoint,
            ));
            for (shard_id, iterator) in poller.open().await? {
                tasks.push(tokio::spawn(poller.clone().run_shard(shard_id, iterator)));
            }
            stream_pollers.push(poller);
        } else {
            bail!(
                "mapping {} reads {}, a source the harness does not play",
                mapping.uuid,
                mapping.source_arn
            );
        }
    }
    Ok((queue_pollers, stream_pollers))
}

/// Unzips a package; `bootstrap` must be in it and executable.
pub fn unzip(zip: &Path, into: &Path) -> Result<()> {
    let file = std::fs::File::open(zip).with_context(|| format!("open {}", zip.display()))?;
    let mut archive =
        zip::ZipArchive::new(file).with_context(|| format!("read {}", zip.display()))?;
    std::fs::create_dir_all(into)?;
    archive
        .extract(into)
        .with_context(|| format!("unzip {}", zip.display()))?;
    let bootstrap = into.join("bootstrap");
    if !bootstrap.is_file() {
        bail!("{} has no bootstrap", zip.display());
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&bootstrap)?.permissions().mode();
    if mode & 0o111 == 0 {
        bail!(
            "{}: bootstrap is not executable (mode {mode:o})",
            zip.display()
        );
    }
    Ok(())
}
