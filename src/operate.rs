//! `shipstack plan | apply | destroy | output <ENV_DIR>`: one command per step of operating an
//! environment. Terraform stays the engine; these wrap it with what is easy to forget: the
//! rendered files must be what the code renders, the zips must be packaged for the env's
//! architecture, `init` must find the provider mirror, and an apply must be of the plan that
//! was reviewed.

use std::fs;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Instant, SystemTime};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::{package, render, review};

/// The saved plan, in the rendered directory (git-ignored: `*.tfplan`).
pub const PLAN_FILE: &str = "shipstack.tfplan";

/// Which environment, and what Terraform gets besides the rendered files.
#[derive(clap::Args, Debug, Clone)]
pub struct Target {
    /// The environment directory, holding `env.json`.
    pub env_dir: PathBuf,
    /// The rendered directory [default: generated/<name>].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Passed to Terraform as `-var-file` (e.g. the env's recipients).
    #[arg(long, value_name = "FILE")]
    pub var_file: Option<PathBuf>,
    /// Passed to Terraform as `-var NAME=VALUE`; repeatable.
    #[arg(long, value_name = "NAME=VALUE")]
    pub var: Vec<String>,
}

impl Target {
    /// The environment as the next command takes it (with `--out` when one was given).
    fn shown(&self) -> String {
        match &self.out {
            Some(out) => format!("{} --out {}", self.env_dir.display(), out.display()),
            None => self.env_dir.display().to_string(),
        }
    }
}

/// Applying or destroying: asks first unless told not to.
#[derive(clap::Args, Debug, Clone)]
pub struct Confirmed {
    #[command(flatten)]
    pub target: Target,
    /// Do not ask (CI, scripts).
    #[arg(long)]
    pub auto_approve: bool,
}

struct Env {
    name: String,
    architecture: aws::lambda::Architecture,
    dir: PathBuf,
    target: Target,
}

impl Env {
    fn resolve(target: &Target) -> Result<Env> {
        let rendered = render::render_env(&target.env_dir)?;
        let dir = target
            .out
            .clone()
            .unwrap_or_else(|| render::default_out_dir(&target.env_dir, &rendered.env.name));
        let stale = stale_files(&dir, &rendered.files)?;
        if !stale.is_empty() {
            bail!(
                "{} is stale against the code ({}): run `cargo run -- render {}` and review the diff",
                dir.display(),
                stale.join(", "),
                target.env_dir.display()
            );
        }
        Ok(Env {
            name: rendered.env.name.clone(),
            architecture: rendered.env.functions.architecture,
            dir,
            target: target.clone(),
        })
    }

    fn terraform(&self, args: &[&str]) -> Command {
        let mut command = Command::new("terraform");
        command
            .arg(format!("-chdir={}", self.dir.display()))
            .args(args)
            .env("TF_IN_AUTOMATION", "1");
        // A CLI configuration that points nowhere only adds a warning to every command.
        if std::env::var_os("TF_CLI_CONFIG_FILE").is_some_and(|f| !Path::new(&f).exists()) {
            command.env_remove("TF_CLI_CONFIG_FILE");
        }
        command
    }

    /// `-var-file` and `-var` as given.
    fn variables(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(file) = &self.target.var_file {
            let file = fs::canonicalize(file).unwrap_or_else(|_| file.clone());
            args.push(format!("-var-file={}", file.display()));
        }
        args.extend(self.target.var.iter().map(|v| format!("-var={v}")));
        args
    }

    fn plan_path(&self) -> PathBuf {
        self.dir.join(PLAN_FILE)
    }
}

/// The rendered files that differ from what the code renders now, by name.
fn stale_files(dir: &Path, files: &render::Files) -> Result<Vec<String>> {
    let mut stale = Vec::new();
    for (name, contents) in files {
        match fs::read_to_string(dir.join(name)) {
            Ok(on_disk) if on_disk == *contents => {}
            Ok(_) => stale.push(name.clone()),
            Err(_) => stale.push(format!("{name} missing")),
        }
    }
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".tf.json") && !files.contains_key(&name) {
                stale.push(format!("{name} no longer rendered"));
            }
        }
    }
    stale.sort();
    Ok(stale)
}

/// Runs a long step with a progress line and its elapsed time.
fn step<T>(what: &str, run: impl FnOnce() -> Result<T>) -> Result<T> {
    eprintln!("==> {what}");
    let started = Instant::now();
    let result = run();
    eprintln!("    {what}: {:.1?}", started.elapsed());
    result
}

fn succeeded(what: &str, status: ExitStatus) -> Result<()> {
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

/// The zips the rendered functions reference, packaged for the env (a no-op when the
/// manifest's input fingerprint is current), and `terraform init` with the provider mirror.
fn prepare(env: &Env) -> Result<()> {
    step("package the Lambda functions", || {
        package::run(&package::args_for(env.architecture))
    })?;
    let init = root_of(&env.target.env_dir).join("scripts/terraform-init");
    step("terraform init", || {
        let status = Command::new(&init)
            .arg(&env.dir)
            .arg("-backend=true")
            .status()
            .with_context(|| format!("running {} (is terraform on PATH?)", init.display()))?;
        succeeded("terraform init", status)
    })
}

/// The repository holding `envs/<name>`.
fn root_of(env_dir: &Path) -> PathBuf {
    let root = env_dir
        .parent()
        .and_then(Path::parent)
        .unwrap_or(Path::new("."));
    if root.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        root.to_path_buf()
    }
}

/// What `plan` found: Terraform's `-detailed-exitcode` (0 nothing to do, 2 changes).
pub fn plan(target: &Target) -> Result<u8> {
    let env = Env::resolve(target)?;
    prepare(&env)?;
    let code = step("terraform plan", || {
        let plan_file = env.plan_path();
        let mut args = vec![
            "plan".to_owned(),
            "-input=false".to_owned(),
            "-detailed-exitcode".to_owned(),
            format!(
                "-out={}",
                plan_file.file_name().unwrap_or_default().to_string_lossy()
            ),
        ];
        args.extend(env.variables());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let status = env
            .terraform(&args)
            .stdout(std::process::Stdio::null())
            .status()
            .context("running terraform (is it on PATH?)")?;
        match status.code() {
            Some(code @ (0 | 2)) => Ok(code as u8),
            _ => bail!("terraform plan failed ({status})"),
        }
    })?;
    let shown = env
        .terraform(&["show", "-json", PLAN_FILE])
        .output()
        .context("terraform show")?;
    succeeded("terraform show", shown.status)?;
    let summary = Summary::of(&serde_json::from_slice(&shown.stdout)?);
    summary.print(std::io::stdout().is_terminal());
    let mut next = if code == 0 {
        "nothing to apply".to_owned()
    } else {
        format!("run `shipstack apply {}` to apply it", target.shown())
    };
    if !summary.failed_checks.is_empty() {
        next.push_str(&format!(
            "; {} check(s) failed, see CHECK FAILED above",
            summary.failed_checks.len()
        ));
    }
    println!(
        "plan of {}: {} to add, {} to change, {} to destroy, {} to replace; saved as {}: {next}",
        env.name,
        summary.count("create"),
        summary.count("update"),
        summary.count("delete"),
        summary.count("replace"),
        env.plan_path().display()
    );
    Ok(code)
}

/// A plan's resource changes, counted per action and resource type.
#[derive(Debug, Default, PartialEq)]
pub struct Summary {
    /// (action, resource type, count), sorted.
    pub counts: Vec<(String, String, usize)>,
    /// Stateful resources a plan would delete or replace.
    pub stateful_losses: Vec<String>,
    /// `check` blocks whose assertions failed: `<check>: <message>`. Terraform only warns.
    pub failed_checks: Vec<String>,
}

impl Summary {
    pub fn of(plan: &Value) -> Summary {
        let mut counts = std::collections::BTreeMap::new();
        let mut stateful_losses = Vec::new();
        for change in plan["resource_changes"].as_array().into_iter().flatten() {
            let actions: Vec<&str> = change["change"]["actions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let action = match actions.as_slice() {
                ["create"] => "create",
                ["update"] => "update",
                ["delete"] => "delete",
                [_, _] => "replace",
                _ => continue,
            };
            let ty = change["type"].as_str().unwrap_or_default();
            *counts
                .entry((action.to_owned(), ty.to_owned()))
                .or_insert(0) += 1;
            if matches!(action, "delete" | "replace") && review::is_stateful(ty) {
                stateful_losses.push(format!(
                    "{} would be {action}d",
                    change["address"].as_str().unwrap_or_default(),
                ));
            }
        }
        // https://developer.hashicorp.com/terraform/internals/json-format#checks-representation
        let failed_checks = plan["checks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|check| matches!(check["status"].as_str(), Some("fail" | "error")))
            .flat_map(|check| {
                let name = check["address"]["to_display"].as_str().unwrap_or_default();
                let problems = check["instances"].as_array().into_iter().flatten();
                let messages =
                    problems.flat_map(|i| i["problems"].as_array().into_iter().flatten());
                messages
                    .map(move |p| format!("{name}: {}", p["message"].as_str().unwrap_or_default()))
            })
            .collect();
        Summary {
            counts: counts.into_iter().map(|((a, t), n)| (a, t, n)).collect(),
            stateful_losses,
            failed_checks,
        }
    }

    pub fn count(&self, action: &str) -> usize {
        self.counts
            .iter()
            .filter(|(a, _, _)| a == action)
            .map(|(_, _, n)| n)
            .sum()
    }

    fn print(&self, color: bool) {
        for (action, ty, n) in &self.counts {
            println!("  {action:<8} {n:>3}  {ty}");
        }
        let (red, reset) = if color {
            ("\x1b[31m", "\x1b[0m")
        } else {
            ("", "")
        };
        for loss in &self.stateful_losses {
            println!("  {red}DATA LOSS: {loss}{reset}");
        }
        for check in &self.failed_checks {
            println!("  {red}CHECK FAILED: {check}{reset}");
        }
    }
}

/// Asks on the terminal; without one, only `--auto-approve` goes ahead.
fn confirm(question: &str, answer: &str, auto_approve: bool) -> Result<()> {
    if auto_approve {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        bail!("{question}: no terminal to ask on; pass --auto-approve to go ahead");
    }
    eprint!("{question} Type `{answer}` to go ahead: ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if line.trim() != answer {
        bail!("not confirmed: nothing was changed");
    }
    Ok(())
}

fn modified(path: &Path) -> Result<SystemTime> {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .with_context(|| format!("cannot read {}", path.display()))
}

/// Applies the saved plan: the one `plan` printed, never one older than the render.
pub fn apply(args: &Confirmed) -> Result<()> {
    let env = Env::resolve(&args.target)?;
    let plan_file = env.plan_path();
    if !plan_file.exists() {
        bail!(
            "no saved plan in {}: run `shipstack plan {}` first",
            env.dir.display(),
            args.target.shown()
        );
    }
    let planned = modified(&plan_file)?;
    for entry in fs::read_dir(&env.dir)? {
        let path = entry?.path();
        if path.to_string_lossy().ends_with(".tf.json") && modified(&path)? > planned {
            bail!(
                "the saved plan is older than the render ({} changed since): run `shipstack plan {}` again",
                path.display(),
                args.target.shown()
            );
        }
    }
    confirm(
        &format!("Apply the saved plan to {}?", env.name),
        "yes",
        args.auto_approve,
    )?;
    step("terraform apply", || {
        let status = env
            .terraform(&["apply", "-input=false", PLAN_FILE])
            .status()
            .context("running terraform")?;
        succeeded("terraform apply", status)
    })?;
    fs::remove_file(&plan_file).ok();
    println!(
        "applied to {}: `shipstack output {}` shows its endpoints",
        env.name,
        args.target.shown()
    );
    Ok(())
}

/// Destroys the environment (prod's `prevent_destroy` on its data stays in force).
pub fn destroy(args: &Confirmed) -> Result<()> {
    let env = Env::resolve(&args.target)?;
    confirm(
        &format!("Destroy every resource of {}?", env.name),
        &env.name,
        args.auto_approve,
    )?;
    step("terraform destroy", || {
        let mut terraform_args = vec![
            "destroy".to_owned(),
            "-input=false".to_owned(),
            "-auto-approve".to_owned(),
        ];
        terraform_args.extend(env.variables());
        let terraform_args: Vec<&str> = terraform_args.iter().map(String::as_str).collect();
        let status = env
            .terraform(&terraform_args)
            .status()
            .context("running terraform")?;
        succeeded("terraform destroy", status)
    })?;
    println!("destroyed {}", env.name);
    Ok(())
}

/// Prints the environment's outputs (Terraform's text, or `-json`).
pub fn output(target: &Target, json: bool) -> Result<()> {
    let env = Env::resolve(target)?;
    let mut args = vec!["output"];
    if json {
        args.push("-json");
    }
    let status = env.terraform(&args).status().context("running terraform")?;
    succeeded("terraform output", status)
}
