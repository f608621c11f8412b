//! What the `shipstack-local` benchmarks share: when to run, their settings, and the local
//! platform they run on.

// Each benchmark compiles this on its own and uses part of it.
#![allow(dead_code)]

use anyhow::Result;
use local::terraform::Outputs;
use local::{Deployment, Harness, HarnessOptions, Moto};

/// `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: a benchmark runs
/// only when benchmarking, and otherwise says how to run it.
pub fn benchmarking(name: &str) -> bool {
    let asked = std::env::args().any(|a| a == "--bench");
    if !asked {
        println!("{name} benchmark: run with `cargo bench -p shipstack-local --bench {name}`");
    }
    asked
}

/// A numeric setting from the environment, or its default.
pub fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// moto with `generated/local` applied and the harness running on it. Fields drop in
/// order: the harness stops before the work directory and moto go.
pub struct Platform {
    pub harness: Harness,
    pub outputs: Outputs,
    pub deployment: Deployment,
    _moto: Moto,
}

impl Platform {
    pub async fn start() -> Result<Platform> {
        Platform::start_with(HarnessOptions::default()).await
    }

    pub async fn start_with(options: HarnessOptions) -> Result<Platform> {
        let moto = Moto::start()?;
        let deployment = Deployment::temporary(&moto.endpoint())?;
        let (harness, outputs, applied) = Harness::deploy(&deployment, options).await?;
        println!("init + apply: {:.1} s", applied.as_secs_f64());
        Ok(Platform {
            harness,
            outputs,
            deployment,
            _moto: moto,
        })
    }
}
