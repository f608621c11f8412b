//! The real binaries run as Lambda runs them, by the local harness's Lambda
//! (`local::lambda`: the Runtime API, a clean environment plus Lambda's reserved variables,
//! one invocation at a time per instance). Also used by `examples/invoke.rs`.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use local::lambda::{EmulatedFunction, FunctionSpec, LogSink};
use serde_json::Value;

/// A function built by cargo, with its own directory for `bootstrap`.
pub struct Lambda {
    pub function: EmulatedFunction,
    logs: LogSink,
    _task_root: tempfile::TempDir,
}

impl Lambda {
    /// `binary` with exactly `env` (and Lambda's reserved variables); `echo` prints its
    /// log lines as they come.
    pub fn new(binary: &Path, name: &str, env: BTreeMap<String, String>, echo: bool) -> Lambda {
        let task_root = tempfile::tempdir().expect("a task root");
        let spec =
            FunctionSpec::for_binary(name, binary, task_root.path(), env, Duration::from_secs(30))
                .expect("link bootstrap");
        let logs = LogSink::new(echo);
        Lambda {
            function: EmulatedFunction::new(spec, logs.clone()),
            logs,
            _task_root: task_root,
        }
    }

    /// The function's log lines (stdout and stderr), oldest first.
    pub fn log_lines(&self) -> Vec<String> {
        let prefix = format!("[{}] ", self.function.spec.deployed_name);
        self.logs
            .recent()
            .iter()
            .filter_map(|line| line.strip_prefix(&prefix).map(str::to_owned))
            .collect()
    }

    /// Log lines that parse as JSON.
    pub fn json_lines(&self) -> Vec<Value> {
        self.log_lines()
            .iter()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }
}
