//! `shipstack-local up|down|verify`: the platform on an emulated AWS, on this machine.
//!
//! `up` starts moto on 127.0.0.1:<port> (4566 by default), applies `generated/local` with
//! Terraform (state in a work directory outside the repository), runs the harness in the
//! foreground and prints how to reach it; Ctrl-C destroys, stops moto and cleans up. With
//! `--watch` it also rebuilds the functions on every source change ([`local::watch`]).
//! `down` does the same for an `up` running elsewhere (or left behind by a crash). `verify`
//! is the local proof in one command (see [`local::verify`]): exit 1 on any failure.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use local::{Deployment, Harness, HarnessOptions, Moto};

#[derive(Parser)]
#[command(
    name = "shipstack-local",
    about = "The platform end to end on moto, with the real Lambda binaries"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start moto, apply generated/local, run the harness until Ctrl-C, then tear down.
    Up {
        /// moto's port on 127.0.0.1.
        #[arg(long, default_value_t = 4566)]
        port: u16,
        /// REST API port (default: port + 1).
        #[arg(long)]
        rest_port: Option<u16>,
        /// WebSocket port (default: port + 2).
        #[arg(long)]
        ws_port: Option<u16>,
        /// Print the functions' log lines.
        #[arg(long)]
        logs: bool,
        /// Rebuild the functions when a processor's source changes and run the new code from
        /// the next invocation on, without re-applying.
        #[arg(long)]
        watch: bool,
    },
    /// Tear down an `up` on this port: it destroys and stops; leftovers are cleaned.
    Down {
        #[arg(long, default_value_t = 4566)]
        port: u16,
    },
    /// Apply generated/local to a fresh moto, drive one event per seed dialect through every
    /// entry point, require a clean second plan, destroy; exit 1 on any failure.
    Verify,
}

fn work_dir(port: u16) -> PathBuf {
    std::env::temp_dir().join(format!("shipstack-local-{port}"))
}

fn alive(pid: u32) -> bool {
    PathBuf::from(format!("/proc/{pid}")).exists()
}

fn read_pid(path: &std::path::Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Up {
            port,
            rest_port,
            ws_port,
            logs,
            watch,
        } => runtime.block_on(up(
            port,
            rest_port.unwrap_or(port + 1),
            ws_port.unwrap_or(port + 2),
            logs,
            watch,
        )),
        Command::Down { port } => down(port),
        Command::Verify => {
            let failures = runtime.block_on(local::verify::run())?;
            if !failures.is_empty() {
                for failure in &failures {
                    eprintln!("FAIL {failure}");
                }
                std::process::exit(1);
            }
            Ok(())
        }
    }
}

async fn up(port: u16, rest_port: u16, ws_port: u16, logs: bool, watch: bool) -> Result<()> {
    let work = work_dir(port);
    if let Some(pid) = read_pid(&work.join("up.pid")).filter(|p| alive(*p)) {
        bail!("an `up` (pid {pid}) already runs on port {port}: `shipstack-local down --port {port}` first");
    }
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    std::fs::write(work.join("up.pid"), std::process::id().to_string())?;

    println!("starting moto on 127.0.0.1:{port} ...");
    let mut moto = Moto::start_iam_on(port).await?;
    std::fs::write(work.join("moto.pid"), moto.pid().to_string())?;
    let endpoint = moto.endpoint();
    let admin = moto.credentials();
    // For `down` after a killed `up`: destroying needs the admin (moto enforces IAM).
    // Readable by this user only: they are keys, if only to a throwaway emulator.
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(work.join("admin.key"))?;
        writeln!(
            file,
            "{}\n{}",
            admin.access_key_id(),
            admin.secret_access_key()
        )?;
    }
    let (key, secret) = (admin.access_key_id(), admin.secret_access_key());
    let deployment = Deployment::in_dir(&work, &endpoint)?;
    println!(
        "terraform init + apply of generated/local (about 90 s) in {} ...",
        deployment.dir().display()
    );
    let (harness, outputs, applied) = Harness::deploy(
        &deployment,
        HarnessOptions {
            echo_logs: logs,
            rest_port,
            ws_port,
            ..Default::default()
        },
    )
    .await?;
    println!("applied in {:.0} s", applied.as_secs_f64());
    let rest_url = harness
        .rest_url("/shipments")
        .context("no POST /shipments route deployed")?;
    let bus = outputs.get("event_bus_name")?;
    let table = outputs.get("shipments_table_name")?;
    println!(
        r#"
shipstack local is up (moto {endpoint}, IAM enforced; Ctrl-C tears it down)

  REST      POST {rest_url}
  WebSocket {ws}   (send {{"action":"subscribe","shipmentId":"SHIP-1"}})
  Bus       {bus}

Send a shipment (IAM auth: the harness requires a SigV4 header and does not verify it):

  curl -sS --aws-sigv4 "aws:amz:us-east-1:execute-api" --user test:test \
    -H 'Content-Type: application/json' -H 'Idempotency-Key: demo-1' \
    -d '{{"shipmentId":"SHIP-1","status":"IN_TRANSIT","timestamp":"2025-10-17T12:00:00Z","location":"Memphis, TN"}}' \
    {rest_url}

moto takes only its admin user's keys (or role sessions) from here on:

  AWS_ACCESS_KEY_ID={key} AWS_SECRET_ACCESS_KEY={secret} AWS_DEFAULT_REGION=us-east-1 \
  aws --endpoint-url {endpoint} events put-events --entries \
    '[{{"EventBusName":"{bus}","Source":"logistics.shipments","DetailType":"Shipment Update","Detail":"{{\"shipmentId\":\"SHIP-2\",\"status\":\"DELAYED\"}}"}}]'

  AWS_ACCESS_KEY_ID={key} AWS_SECRET_ACCESS_KEY={secret} AWS_DEFAULT_REGION=us-east-1 \
  aws --endpoint-url {endpoint} dynamodb query --table-name {table} \
    --key-condition-expression 'shipmentId = :s' --expression-attribute-values '{{":s":{{"S":"SHIP-1"}}}}'
"#,
        ws = harness.ws_url,
    );

    let watching = async {
        if watch {
            if let Err(error) = local::watch::run(&harness).await {
                eprintln!("watching stopped (the harness keeps running): {error:#}");
            }
        }
        std::future::pending::<()>().await
    };
    tokio::select! {
        _ = wait_for_stop(&work) => {}
        _ = watching => {}
    }
    println!("\nstopping the harness, destroying, stopping moto ...");
    drop(harness);
    match deployment.destroy() {
        Ok(took) => println!("destroyed in {:.0} s", took.as_secs_f64()),
        Err(error) => eprintln!(
            "destroy failed (moto is stopped anyway, which discards everything): {error:#}"
        ),
    }
    moto.stop();
    drop(deployment);
    let _ = std::fs::remove_dir_all(&work);
    println!("down.");
    Ok(())
}

/// Ctrl-C, SIGTERM, or `down` (which removes up.pid and signals us).
async fn wait_for_stop(work: &std::path::Path) {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let pid_file = work.join("up.pid");
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return,
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => return,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {
                if !pid_file.exists() { return; }
            }
        }
    }
}

fn down(port: u16) -> Result<()> {
    let work = work_dir(port);
    let up_pid = read_pid(&work.join("up.pid"));
    let moto_pid = read_pid(&work.join("moto.pid"));
    if up_pid.is_none() && moto_pid.is_none() {
        println!("nothing is up on port {port}");
        return Ok(());
    }
    if let Some(pid) = up_pid.filter(|p| alive(*p)) {
        println!("asking `up` (pid {pid}) to destroy and stop ...");
        std::fs::remove_file(work.join("up.pid"))?;
        let deadline = std::time::Instant::now() + Duration::from_secs(300);
        while alive(pid) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(500));
        }
        if alive(pid) {
            bail!("`up` (pid {pid}) did not stop within 5 minutes");
        }
        println!("down.");
        return Ok(());
    }
    // `up` is gone (killed): destroy what is left, then stop its moto.
    if let Some(pid) = moto_pid.filter(|p| alive(*p)) {
        let endpoint = format!("http://127.0.0.1:{port}");
        if let Ok(key) = std::fs::read_to_string(work.join("admin.key")) {
            let mut lines = key.lines();
            if let (Some(id), Some(secret)) = (lines.next(), lines.next()) {
                local::sdk_clients::register_credentials(
                    &endpoint,
                    local::sdk_clients::Credentials::new(id, secret, None, None, "emulator admin"),
                );
            }
        }
        if let Ok(deployment) = Deployment::in_dir(&work, &endpoint) {
            if let Err(error) = deployment.destroy() {
                eprintln!("destroy failed: {error:#}");
            }
        }
        println!("stopping moto (pid {pid}) ...");
        let _ = std::process::Command::new("kill")
            .arg(pid.to_string())
            .status();
    }
    let _ = std::fs::remove_dir_all(&work);
    println!("down.");
    Ok(())
}
