//! `shipstack`: renders the logistics platform to Terraform JSON and packages its Lambdas.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use shipstack::{config, operate, package, render, review};

// See the dependency's comment in Cargo.toml; the render benchmark uses the same allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render environments (`envs/<name>`, or all of `envs/`) to Terraform JSON in
    /// `generated/<name>/`, in one process; nothing is written unless every one renders.
    Render {
        /// Environment directories (holding `env.json`), or directories of them.
        #[arg(required = true)]
        env_dirs: Vec<PathBuf>,
        /// Write here instead of `generated/<name>/` (one environment only).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write the JSON Schema of environment files.
    Schema {
        #[arg(long, default_value = "envs/schema.json")]
        out: PathBuf,
    },
    /// Build every processor for provided.al2023 and write one deterministic zip per function.
    Package(package::Args),
    /// Compare `generated/` with a git revision: what each env gains, loses and changes, IAM
    /// broadening, and a refusal (exit 1) for any change that destroys or replaces stored data.
    Review(review::Args),
    /// Check the render and the zips are current, `terraform init`, and save a plan with a
    /// summary per resource type; exits like `terraform plan -detailed-exitcode` (2: changes).
    Plan(operate::Target),
    /// Apply the plan `plan` saved (asks first; refuses a plan older than the render).
    Apply(operate::Confirmed),
    /// Destroy the environment (asks first; `prevent_destroy` on prod's data stays in force).
    Destroy(operate::Confirmed),
    /// Print the environment's outputs.
    Output {
        #[command(flatten)]
        target: operate::Target,
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Render { env_dirs, out } => render(&env_dirs, out),
        Command::Schema { out } => std::fs::write(&out, config::schema_json())
            .with_context(|| format!("cannot write {}", out.display())),
        Command::Package(args) => package::run(&args),
        // `-detailed-exitcode`: 0 nothing to do, 2 changes, 1 an error (not our usual 2).
        Command::Plan(target) => match operate::plan(&target) {
            Ok(code) => return ExitCode::from(code),
            Err(err) => {
                eprintln!("error: {err:#}");
                return ExitCode::from(1);
            }
        },
        Command::Apply(args) => operate::apply(&args),
        Command::Destroy(args) => operate::destroy(&args),
        Command::Output { target, json } => operate::output(&target, json),
        Command::Review(args) => match review::run(&args) {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::from(1),
            Err(err) => Err(err),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn render(args: &[PathBuf], out: Option<PathBuf>) -> Result<()> {
    let started = Instant::now();
    let env_dirs = render::env_dirs(args);
    if out.is_some() && env_dirs.len() != 1 {
        anyhow::bail!(
            "--out takes one environment, and {} are given",
            env_dirs.len()
        );
    }
    // Every environment renders before any is written: one bad env file leaves every output
    // as it was.
    let rendered = env_dirs
        .iter()
        .map(|dir| render::render_env(dir))
        .collect::<Result<Vec<_>>>()?;
    let took = started.elapsed();
    for (dir, rendered) in env_dirs.iter().zip(&rendered) {
        let out = out
            .clone()
            .unwrap_or_else(|| render::default_out_dir(dir, &rendered.env.name));
        render::write_atomically(&out, &rendered.files)?;
        println!(
            "rendered {}: {} resources in {} files",
            out.display(),
            rendered.resources,
            rendered.files.len(),
        );
    }
    println!(
        "{} environment(s) rendered in {took:.1?}, written in {:.1?}",
        rendered.len(),
        started.elapsed() - took
    );
    Ok(())
}
