//! Rendering benchmark: every environment under `envs/`, rendered repeatedly in memory.
//! Prints the median and spread of one full pass, and the process's peak RSS.
//!
//!   cargo bench --bench render

use std::path::Path;
use std::time::{Duration, Instant};

const PASSES: usize = 50;

// The CLI's allocator (src/main.rs), so the figures are the CLI's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // The environments `shipstack render envs/` renders, in the same order.
    let envs = shipstack::render::env_dirs(&[Path::new(env!("CARGO_MANIFEST_DIR")).join("envs")]);

    let mut passes: Vec<Duration> = Vec::with_capacity(PASSES);
    let mut resources = 0;
    for _ in 0..PASSES {
        let started = Instant::now();
        resources = envs
            .iter()
            .map(|env| {
                shipstack::render::render_env(env)
                    .expect("every env renders")
                    .resources
            })
            .sum::<usize>();
        passes.push(started.elapsed());
    }
    passes.sort();
    let at = |q: f64| passes[((passes.len() - 1) as f64 * q).round() as usize];
    println!(
        "render {} envs ({resources} resources) x {PASSES}: median {:.2?}, p10 {:.2?}, p90 {:.2?}, per env {:.2?}",
        envs.len(),
        at(0.5),
        at(0.1),
        at(0.9),
        at(0.5) / envs.len() as u32
    );
    println!("peak RSS: {}", peak_rss());
}

/// `VmHWM` from /proc (Linux); "unknown" elsewhere.
fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l["VmHWM:".len()..].trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}
