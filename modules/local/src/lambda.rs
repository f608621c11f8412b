//! Lambda for the packaged `bootstrap` binaries: the Runtime API, one invocation at a time
//! per instance, instances started on demand up to the function's concurrency, killed on a
//! timeout, discarded when they crash, like Lambda's execution environments.
//!
//! Each instance is the real binary, started with a clean environment: the function's
//! configured variables (read from the emulator), Lambda's reserved variables
//! (`AWS_LAMBDA_RUNTIME_API`, `AWS_LAMBDA_FUNCTION_NAME`, `_HANDLER`, `LAMBDA_TASK_ROOT`...),
//! the region, the credentials the harness gives it (a session of the function's execution
//! role when moto enforces IAM) and `AWS_ENDPOINT_URL`.

use std::collections::{BTreeMap, VecDeque};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::{oneshot, Notify, Semaphore};

/// How a function was configured (read back from the emulator) and how to run it.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    /// Deployed name (`shipstack-local-ingest-api`).
    pub deployed_name: String,
    pub arn: String,
    pub timeout: Duration,
    pub memory_mb: i32,
    /// Instances that may run at once (reserved concurrency, else 10).
    pub concurrency: usize,
    /// The function's environment (configured + emulator access); each instance also gets
    /// Lambda's reserved variables ([`FunctionSpec::reserved_variables`]).
    pub env: BTreeMap<String, String>,
    /// The unzipped package: `bootstrap` lives here.
    pub task_root: PathBuf,
}

impl FunctionSpec {
    /// A binary outside a package (a `cargo build` output), with one instance at a time:
    /// `bootstrap` in `task_root` becomes a link to it.
    pub fn for_binary(
        name: &str,
        binary: &std::path::Path,
        task_root: &std::path::Path,
        env: BTreeMap<String, String>,
        timeout: Duration,
    ) -> std::io::Result<FunctionSpec> {
        std::fs::create_dir_all(task_root)?;
        std::os::unix::fs::symlink(binary, task_root.join("bootstrap"))?;
        Ok(FunctionSpec {
            deployed_name: name.to_owned(),
            arn: format!(
                "arn:aws:lambda:{}:{}:function:{name}",
                crate::sdk_clients::REGION,
                crate::sdk_clients::ACCOUNT
            ),
            timeout,
            memory_mb: 128,
            concurrency: 1,
            env,
            task_root: task_root.to_owned(),
        })
    }

    /// What Lambda sets in every execution environment (and a function cannot override).
    pub fn reserved_variables(&self) -> Vec<(&'static str, String)> {
        let root = self.task_root.display().to_string();
        vec![
            ("AWS_LAMBDA_FUNCTION_NAME", self.deployed_name.clone()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
            (
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                self.memory_mb.to_string(),
            ),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", self.deployed_name),
            ),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME",
                format!("local/[$LATEST]{}", self.deployed_name),
            ),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
            ("_HANDLER", "bootstrap".into()),
            ("LAMBDA_TASK_ROOT", root.clone()),
            ("LAMBDA_RUNTIME_DIR", root),
            ("TZ", ":UTC".into()),
            ("LANG", "en_US.UTF-8".into()),
            ("PATH", "/usr/local/bin:/usr/bin:/bin".into()),
        ]
    }
}

/// What an invocation ended with.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// `POST .../response`.
    Response(Value),
    /// A function error: `POST .../error`, an init error, or the runtime exiting.
    Error(Value),
    /// No answer within the function's timeout: the instance was killed.
    Timeout,
}

impl Outcome {
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Response(_))
    }
}

/// One finished invocation.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub event: Value,
    pub outcome: Outcome,
    /// From the invocation's start to its reply; for a cold start that includes starting
    /// the process (Lambda's init duration plus the first invocation).
    pub duration: Duration,
    /// A new instance ran it: from starting the process to the runtime's first request
    /// for work (Lambda's init duration); `Some(ZERO)` if it never got that far.
    pub init: Option<Duration>,
}

/// Counters of one function.
#[derive(Debug, Default)]
pub struct Stats {
    pub invocations: AtomicU64,
    pub errors: AtomicU64,
    pub timeouts: AtomicU64,
    pub cold_starts: AtomicU64,
}

/// Where instances' log lines go.
#[derive(Clone)]
pub struct LogSink {
    echo: bool,
    recent: Arc<Mutex<VecDeque<String>>>,
}

const RECENT_LINES: usize = 400;
const HISTORY: usize = 5000;

impl LogSink {
    pub fn new(echo: bool) -> LogSink {
        LogSink {
            echo,
            recent: Arc::new(Mutex::new(VecDeque::new())),
        }
    }

    fn line(&self, function: &str, line: String) {
        if self.echo {
            eprintln!("[{function}] {line}");
        }
        let mut recent = self.recent.lock().unwrap();
        if recent.len() == RECENT_LINES {
            recent.pop_front();
        }
        recent.push_back(format!("[{function}] {line}"));
    }

    /// The last lines, oldest first.
    pub fn recent(&self) -> Vec<String> {
        self.recent.lock().unwrap().iter().cloned().collect()
    }
}

/// A deployed function, run locally.
pub struct EmulatedFunction {
    pub spec: FunctionSpec,
    permits: Semaphore,
    idle: Mutex<Vec<Instance>>,
    history: Mutex<VecDeque<Invocation>>,
    pub stats: Stats,
    logs: LogSink,
    counter: AtomicU64,
}

impl EmulatedFunction {
    pub fn new(spec: FunctionSpec, logs: LogSink) -> EmulatedFunction {
        EmulatedFunction {
            permits: Semaphore::new(spec.concurrency.max(1)),
            spec,
            idle: Mutex::new(Vec::new()),
            history: Mutex::new(VecDeque::new()),
            stats: Stats::default(),
            logs,
            counter: AtomicU64::new(0),
        }
    }

    /// A synchronous invocation (`RequestResponse`): waits for a free instance (throttling
    /// is queueing here: the pollers and gateways wait as Lambda's would retry), runs the
    /// event, returns the outcome.
    pub async fn invoke(&self, event: Value) -> Invocation {
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("semaphore never closed");
        let request_id = self.request_id();
        let started = Instant::now();
        self.stats.invocations.fetch_add(1, Ordering::Relaxed);
        let reused = self.idle.lock().unwrap().pop();
        let cold_start = !reused.as_ref().is_some_and(Instance::alive);
        let instance = match reused {
            Some(instance) if !cold_start => Ok(instance),
            _ => {
                self.stats.cold_starts.fetch_add(1, Ordering::Relaxed);
                Instance::start(&self.spec, &self.logs).await
            }
        };
        let new_state = instance
            .as_ref()
            .ok()
            .filter(|_| cold_start)
            .map(|i| i.state.clone());
        let outcome = match instance {
            Err(error) => {
                Outcome::Error(json!({"errorType": "Runtime.StartError", "errorMessage": error}))
            }
            Ok(instance) => {
                let (tx, rx) = oneshot::channel();
                let deadline = SystemTime::now() + self.spec.timeout;
                instance.submit(Pending {
                    request_id: request_id.clone(),
                    event: serde_json::to_vec(&event).unwrap_or_default(),
                    deadline,
                    reply: tx,
                });
                match tokio::time::timeout(self.spec.timeout, rx).await {
                    Ok(Ok(outcome)) => {
                        if instance.alive() {
                            self.idle.lock().unwrap().push(instance);
                        }
                        outcome
                    }
                    Ok(Err(_)) => Outcome::Error(
                        json!({"errorType": "Runtime.ExitError", "errorMessage": "the runtime exited without answering"}),
                    ),
                    Err(_) => {
                        drop(instance);
                        self.stats.timeouts.fetch_add(1, Ordering::Relaxed);
                        Outcome::Timeout
                    }
                }
            }
        };
        if !outcome.is_ok() {
            self.stats.errors.fetch_add(1, Ordering::Relaxed);
            self.logs.line(
                &self.spec.deployed_name,
                format!("invocation {request_id} failed: {outcome:?}"),
            );
        }
        let init = cold_start.then(|| {
            new_state
                .and_then(|state| *state.init.lock().unwrap())
                .unwrap_or_default()
        });
        let invocation = Invocation {
            request_id,
            event,
            outcome,
            duration: started.elapsed(),
            init,
        };
        let mut history = self.history.lock().unwrap();
        if history.len() == HISTORY {
            history.pop_front();
        }
        history.push_back(invocation.clone());
        invocation
    }

    /// The last invocations (at most 5,000), oldest first.
    pub fn history(&self) -> Vec<Invocation> {
        self.history.lock().unwrap().iter().cloned().collect()
    }

    /// Invocations in progress.
    pub fn in_flight(&self) -> usize {
        self.spec.concurrency.max(1) - self.permits.available_permits()
    }

    /// CPU time (user and system) the idle instances' processes have used so far.
    pub fn idle_cpu_time(&self) -> Duration {
        self.idle_pids()
            .into_iter()
            .filter_map(process_cpu_time)
            .sum()
    }

    /// The largest peak resident memory (`VmHWM`) of the idle instances' processes, in KiB:
    /// what the function needs of its configured memory.
    pub fn idle_peak_rss_kib(&self) -> Option<u64> {
        self.idle_pids()
            .into_iter()
            .filter_map(process_peak_rss_kib)
            .max()
    }

    /// The processes of the idle instances.
    fn idle_pids(&self) -> Vec<u32> {
        let idle = self.idle.lock().unwrap();
        idle.iter().filter_map(|instance| instance.pid).collect()
    }

    /// Stops every idle instance (running ones stop when their invocation ends).
    pub fn stop(&self) {
        self.idle.lock().unwrap().clear();
    }

    /// Puts `binary` in place as the function's `bootstrap` when it differs from the one there,
    /// and stops the idle instances, so the next invocation starts a runtime process on it
    /// (running ones finish on the old code, as on Lambda after an update). Whether it changed.
    pub fn replace_code(&self, binary: &std::path::Path) -> std::io::Result<bool> {
        let bootstrap = self.spec.task_root.join("bootstrap");
        let new = std::fs::read(binary)?;
        if std::fs::read(&bootstrap).is_ok_and(|old| old == new) {
            return Ok(false);
        }
        // A rename, not a write: a running process keeps its own (old) file.
        let next = self.spec.task_root.join("bootstrap.next");
        std::fs::write(&next, new)?;
        std::fs::set_permissions(&next, std::fs::Permissions::from_mode(0o755))?;
        std::fs::rename(&next, &bootstrap)?;
        self.stop();
        Ok(true)
    }

    fn request_id(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            (nanos >> 32) as u32,
            (nanos >> 16) as u16,
            (n >> 12) & 0xfff,
            n & 0xfff,
            (nanos as u64) & 0xffff_ffff_ffff
        )
    }
}

struct Pending {
    request_id: String,
    event: Vec<u8>,
    deadline: SystemTime,
    reply: oneshot::Sender<Outcome>,
}

#[derive(Default)]
struct InstanceState {
    next: Mutex<Option<Pending>>,
    ready: Notify,
    current: Mutex<Option<(String, oneshot::Sender<Outcome>)>>,
    dead: std::sync::atomic::AtomicBool,
    arn: String,
    /// When the process was started, and how long it took to first ask for work.
    spawned: Mutex<Option<Instant>>,
    init: Mutex<Option<Duration>>,
}

impl InstanceState {
    /// Fails the running invocation and the one waiting to start, if any.
    fn fail_current(&self, error: Value) {
        if let Some((_, reply)) = self.current.lock().unwrap().take() {
            let _ = reply.send(Outcome::Error(error.clone()));
        }
        if let Some(pending) = self.next.lock().unwrap().take() {
            let _ = pending.reply.send(Outcome::Error(error));
        }
    }
}

/// One execution environment: the process and its Runtime API endpoint.
struct Instance {
    state: Arc<InstanceState>,
    pid: Option<u32>,
    server: tokio::task::JoinHandle<()>,
    _kill: oneshot::Sender<()>,
}

impl Instance {
    async fn start(spec: &FunctionSpec, logs: &LogSink) -> Result<Instance, String> {
        let state = Arc::new(InstanceState {
            arn: spec.arn.clone(),
            ..Default::default()
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("bind the Runtime API: {e}"))?;
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(state.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });

        let binary = spec.task_root.join("bootstrap");
        let mut command = Command::new(&binary);
        command
            .env_clear()
            .envs(&spec.env)
            .envs(spec.reserved_variables())
            .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
            .current_dir(&spec.task_root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        *state.spawned.lock().unwrap() = Some(Instant::now());
        let mut child = command
            .spawn()
            .map_err(|e| format!("start {}: {e}", binary.display()))?;
        let pid = child.id();
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let logs = logs.clone();
            let name = spec.deployed_name.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    logs.line(&name, line);
                }
            });
        }
        let (kill, killed) = oneshot::channel::<()>();
        let watched = state.clone();
        tokio::spawn(async move {
            tokio::select! {
                status = child.wait() => {
                    watched.dead.store(true, Ordering::SeqCst);
                    // Lambda's words: "Runtime exited with error: exit status 1".
                    let status = match status {
                        Ok(status) => status.to_string(),
                        Err(error) => format!("unknown ({error})"),
                    };
                    watched.fail_current(json!({
                        "errorType": "Runtime.ExitError",
                        "errorMessage": format!("Runtime exited with error: {status}"),
                    }));
                }
                _ = killed => {
                    watched.dead.store(true, Ordering::SeqCst);
                    let _ = child.kill().await;
                }
            }
        });
        Ok(Instance {
            state,
            pid,
            server,
            _kill: kill,
        })
    }

    fn alive(&self) -> bool {
        !self.state.dead.load(Ordering::SeqCst)
    }

    fn submit(&self, pending: Pending) {
        *self.state.next.lock().unwrap() = Some(pending);
        self.state.ready.notify_one();
        // Died before it could take it: the exit watcher has already run.
        if !self.alive() {
            self.state.fail_current(
                json!({"errorType": "Runtime.ExitError", "errorMessage": "the runtime exited"}),
            );
        }
    }
}

/// A process's CPU time, user and system, of every thread it has had (exited ones too):
/// `utime` and `stime` of `/proc/<pid>/stat`, in clock ticks (10 ms), so measure over
/// hundreds of milliseconds.
fn process_cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces:
    // state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some(Duration::from_nanos(ticks * 1_000_000_000 / per_second))
}

/// `VmHWM` of `/proc/<pid>/status`, in KiB.
fn process_peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line["VmHWM:".len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn next(State(state): State<Arc<InstanceState>>) -> Response {
    if let Some(spawned) = state.spawned.lock().unwrap().take() {
        *state.init.lock().unwrap() = Some(spawned.elapsed());
    }
    let pending = loop {
        let notified = state.ready.notified();
        if let Some(pending) = state.next.lock().unwrap().take() {
            break pending;
        }
        notified.await;
    };
    let deadline_ms = pending
        .deadline
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
        .to_string();
    *state.current.lock().unwrap() = Some((pending.request_id.clone(), pending.reply));
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: &str| {
        if let Ok(value) = value.parse() {
            headers.insert(name, value);
        }
    };
    set("content-type", "application/json");
    set("lambda-runtime-aws-request-id", &pending.request_id);
    set("lambda-runtime-deadline-ms", &deadline_ms);
    set("lambda-runtime-invoked-function-arn", &state.arn);
    set(
        "lambda-runtime-trace-id",
        "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0",
    );
    (StatusCode::OK, headers, pending.event).into_response()
}

fn finish(state: &InstanceState, id: &str, outcome: Outcome) -> Response {
    let mut current = state.current.lock().unwrap();
    match current.take() {
        Some((current_id, reply)) if current_id == id => {
            let _ = reply.send(outcome);
            (StatusCode::ACCEPTED, r#"{"status":"OK"}"#).into_response()
        }
        other => {
            *current = other;
            (
                StatusCode::BAD_REQUEST,
                r#"{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}"#,
            )
                .into_response()
        }
    }
}

async fn response(
    State(state): State<Arc<InstanceState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    finish(&state, &id, Outcome::Response(value))
}

async fn error(
    State(state): State<Arc<InstanceState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut value: Value = serde_json::from_slice(&body).unwrap_or_else(|_| json!({}));
    if let (Some(kind), Some(map)) = (
        headers
            .get("lambda-runtime-function-error-type")
            .and_then(|v| v.to_str().ok()),
        value.as_object_mut(),
    ) {
        map.entry("errorType")
            .or_insert_with(|| Value::String(kind.to_owned()));
    }
    finish(&state, &id, Outcome::Error(value))
}

async fn init_error(State(state): State<Arc<InstanceState>>, body: Bytes) -> Response {
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    state.fail_current(json!({"errorType": "Runtime.InitError", "cause": value}));
    state.dead.store(true, Ordering::SeqCst);
    (StatusCode::ACCEPTED, r#"{"status":"OK"}"#).into_response()
}
