//! A Lambda Runtime API emulator: runs a real `bootstrap` binary the way Lambda does.
//!
//! [`RuntimeApi::start`] serves the Runtime API (`/2018-06-01/runtime/invocation/next`,
//! `.../{id}/response`, `.../{id}/error`, `/runtime/init/error`) on a free loopback port;
//! [`Function::spawn`] starts a binary with `AWS_LAMBDA_RUNTIME_API` pointing at it;
//! [`RuntimeApi::invoke`] queues an event and waits for the function's reply. Used by the
//! tests and by `examples/invoke.rs`.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{oneshot, Notify};

use super::http::{serve, Request, Response};

/// What a function answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// `POST .../response`: the handler's result.
    Response(Value),
    /// `POST .../error`: the handler's error (`errorType`, `errorMessage`).
    Error(Value),
}

impl Outcome {
    pub fn response(self) -> Value {
        match self {
            Outcome::Response(v) => v,
            Outcome::Error(e) => panic!("the function failed: {e}"),
        }
    }
}

struct Pending {
    request_id: String,
    event: Vec<u8>,
    timeout: Duration,
}

#[derive(Default)]
struct State {
    queue: Mutex<VecDeque<Pending>>,
    ready: Notify,
    waiting: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    init_error: Mutex<Option<Value>>,
    counter: Mutex<u64>,
}

/// The emulated Runtime API.
pub struct RuntimeApi {
    pub address: String,
    state: Arc<State>,
}

const PREFIX: &str = "/2018-06-01/runtime";

impl RuntimeApi {
    pub async fn start() -> RuntimeApi {
        let state = Arc::new(State::default());
        let shared = state.clone();
        let addr = serve(move |request| {
            let state = shared.clone();
            async move { route(&state, request).await }
        })
        .await;
        RuntimeApi {
            address: addr.to_string(),
            state,
        }
    }

    /// Queues one invocation and waits (at most `timeout`) for the function's reply.
    pub async fn invoke(&self, event: &Value, timeout: Duration) -> Result<Outcome, String> {
        let request_id = {
            let mut counter = self.state.counter.lock().unwrap();
            *counter += 1;
            format!("00000000-0000-4000-8000-{:012}", *counter)
        };
        let (tx, rx) = oneshot::channel();
        self.state
            .waiting
            .lock()
            .unwrap()
            .insert(request_id.clone(), tx);
        self.state.queue.lock().unwrap().push_back(Pending {
            request_id: request_id.clone(),
            event: serde_json::to_vec(event).map_err(|e| e.to_string())?,
            timeout,
        });
        self.state.ready.notify_one();
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(outcome)) => Ok(outcome),
            _ => {
                let init = self.state.init_error.lock().unwrap().clone();
                Err(match init {
                    Some(error) => format!("init failed: {error}"),
                    None => format!("no reply to {request_id} within {timeout:?}"),
                })
            }
        }
    }
}

async fn route(state: &State, request: Request) -> Response {
    let path = request
        .path
        .strip_prefix(PREFIX)
        .unwrap_or(&request.path)
        .to_owned();
    match (request.method.as_str(), path.as_str()) {
        ("GET", "/invocation/next") => {
            let pending = loop {
                let notified = state.ready.notified();
                if let Some(pending) = state.queue.lock().unwrap().pop_front() {
                    break pending;
                }
                notified.await;
            };
            let now_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis();
            let deadline = now_ms + pending.timeout.as_millis();
            Response::new(200, pending.event)
                .header("Content-Type", "application/json")
                .header("Lambda-Runtime-Aws-Request-Id", &pending.request_id)
                .header("Lambda-Runtime-Deadline-Ms", &deadline.to_string())
                .header(
                    "Lambda-Runtime-Invoked-Function-Arn",
                    "arn:aws:lambda:us-east-1:123456789012:function:local",
                )
                .header(
                    "Lambda-Runtime-Trace-Id",
                    "Root=1-00000000-000000000000000000000000;Sampled=0",
                )
        }
        ("POST", "/init/error") => {
            *state.init_error.lock().unwrap() =
                Some(serde_json::from_slice(&request.body).unwrap_or(Value::Null));
            Response::new(202, r#"{"status":"OK"}"#)
        }
        ("POST", path) if path.starts_with("/invocation/") => {
            let mut parts = path.trim_start_matches("/invocation/").splitn(2, '/');
            let (id, kind) = (
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
            );
            let body = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
            let outcome = match kind {
                "response" => Outcome::Response(body),
                "error" => Outcome::Error(body),
                _ => return Response::new(404, "unknown route"),
            };
            match state.waiting.lock().unwrap().remove(id) {
                Some(tx) => {
                    let _ = tx.send(outcome);
                    Response::new(202, r#"{"status":"OK"}"#)
                }
                None => Response::new(400, r#"{"errorMessage":"unknown request id"}"#),
            }
        }
        _ => Response::new(404, "unknown route"),
    }
}

/// A running function process (killed on drop), with its stdout lines captured.
pub struct Function {
    child: Child,
    pub stdout: Arc<Mutex<Vec<String>>>,
    pub stderr: Arc<Mutex<Vec<String>>>,
    pub started: Instant,
}

impl Function {
    /// Starts `binary` as Lambda would: `AWS_LAMBDA_RUNTIME_API` and the standard
    /// `AWS_LAMBDA_*` variables, plus `env`. With `clear_env`, nothing else is inherited.
    pub fn spawn(
        binary: &Path,
        api: &RuntimeApi,
        name: &str,
        env: &[(&str, &str)],
        clear_env: bool,
    ) -> Function {
        let mut command = Command::new(binary);
        if clear_env {
            command.env_clear();
        }
        command
            .env("AWS_LAMBDA_RUNTIME_API", &api.address)
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let started = Instant::now();
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        if let Some(out) = child.stdout.take() {
            let sink = stdout.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(out).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    sink.lock().unwrap().push(line);
                }
            });
        }
        if let Some(err) = child.stderr.take() {
            let sink = stderr.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(err).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    sink.lock().unwrap().push(line);
                }
            });
        }
        Function {
            child,
            stdout,
            stderr,
            started,
        }
    }

    /// Waits (at most `timeout`) for the process to exit; its exit code.
    pub async fn exit_code(&mut self, timeout: Duration) -> Option<i32> {
        tokio::time::timeout(timeout, self.child.wait())
            .await
            .ok()?
            .ok()?
            .code()
    }

    /// Stdout lines that parse as JSON.
    pub fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}
