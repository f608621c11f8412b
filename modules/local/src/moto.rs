//! moto's server on a loopback port: started by us, killed (with its process group) on drop,
//! so it is never left running.
//!
//! moto always runs through `modules/local/moto/launch.py`, which patches what moto gets wrong
//! (see there: PartiQL INSERT batches in every mode, the rest only matters with IAM). Two modes:
//! - [`Moto::start`]: accepting any credentials (the processors' tests);
//! - [`Moto::start_iam`]: IAM enforced, with `INITIAL_NO_AUTH_ACTION_COUNT`
//!   set to the [`BOOTSTRAP_REQUESTS`] that create an admin user; from then on only that
//!   user's keys and role sessions it assumes are accepted, and every call must be allowed
//!   by the caller's policies. The admin's keys are registered for the endpoint
//!   ([`crate::sdk_clients::register_credentials`]): Terraform and the harness act as the admin,
//!   each function and poller as its execution role.

use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

use crate::faults::iam_api;
use crate::paths;
use crate::sdk_clients::{self, Credentials};

/// A running `moto_server`.
pub struct Moto {
    child: Child,
    port: u16,
    /// The admin user's keys, when IAM is enforced.
    admin: Option<Credentials>,
}

/// The admin user that Terraform and the harness act as under [`Moto::start_iam`].
pub const ADMIN_USER: &str = "shipstack-admin";

/// The unauthenticated requests that make the admin: CreateUser, CreateAccessKey,
/// PutUserPolicy (an inline `*` on `*`: AdministratorAccess exists in moto only with
/// `MOTO_IAM_LOAD_MANAGED_POLICIES`). moto counts every request to any service (not
/// `/moto-api`), so nothing else may reach it first.
pub const BOOTSTRAP_REQUESTS: u32 = 3;

/// A free loopback port (bound then released).
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Moto {
    /// Starts moto (no IAM checks) on a free loopback port.
    pub fn start() -> Result<Moto> {
        Moto::start_on(free_port()?)
    }

    /// Starts moto (no IAM checks) on `127.0.0.1:port` and waits until it answers.
    pub fn start_on(port: u16) -> Result<Moto> {
        let python = paths::venv_python();
        let mut command = Command::new(&python);
        command
            .arg(paths::moto_launcher())
            .env_remove("INITIAL_NO_AUTH_ACTION_COUNT");
        Moto::spawn(command, &python, port)
    }

    /// Starts moto enforcing IAM on a free loopback port, with its admin user made.
    pub async fn start_iam() -> Result<Moto> {
        Moto::start_iam_on(free_port()?).await
    }

    /// Starts moto enforcing IAM on `127.0.0.1:port`, then makes the admin user (the only
    /// unauthenticated requests moto takes) and registers its keys for the endpoint.
    pub async fn start_iam_on(port: u16) -> Result<Moto> {
        let python = paths::venv_python();
        let mut command = Command::new(&python);
        command
            .arg(paths::moto_launcher())
            .env(
                "INITIAL_NO_AUTH_ACTION_COUNT",
                BOOTSTRAP_REQUESTS.to_string(),
            )
            .env_remove("MOTO_IAM_LOAD_MANAGED_POLICIES");
        let mut moto = Moto::spawn(command, &python, port)?;
        let admin = moto.bootstrap_admin().await?;
        sdk_clients::register_credentials(&moto.endpoint(), admin.clone());
        moto.admin = Some(admin);
        Ok(moto)
    }

    fn spawn(mut command: Command, program: &Path, port: u16) -> Result<Moto> {
        if !program.exists() {
            bail!(
                "{} is missing: run scripts/setup-python first (it installs moto[server] into .venv/)",
                program.display()
            );
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            bail!("127.0.0.1:{port} is already in use (another emulator or `shipstack-local up`?)");
        }
        // SAFETY: prctl is async-signal-safe; it only asks the kernel to SIGTERM moto if
        // the thread that started it dies, so a killed test never leaves it running.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let child = command
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: a Ctrl-C in the terminal reaches us, and we stop it.
            .process_group(0)
            .spawn()
            .with_context(|| format!("start {}", program.display()))?;
        let mut moto = Moto {
            child,
            port,
            admin: None,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = moto.child.try_wait()? {
                bail!("moto_server exited during start-up ({status})");
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(moto);
            }
            if Instant::now() > deadline {
                bail!("moto_server did not listen on 127.0.0.1:{port} within 60 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The [`BOOTSTRAP_REQUESTS`] (unsigned: moto does not check them), then a check that
    /// the admin's keys work and the test keys no longer do.
    async fn bootstrap_admin(&self) -> Result<Credentials> {
        let endpoint = self.endpoint();
        iam_api(
            &endpoint,
            &format!("Action=CreateUser&UserName={ADMIN_USER}"),
        )
        .await
        .context("bootstrap iam:CreateUser")?;
        let key = iam_api(
            &endpoint,
            &format!("Action=CreateAccessKey&UserName={ADMIN_USER}"),
        )
        .await
        .context("bootstrap iam:CreateAccessKey")?;
        let field = |tag: &str| {
            sdk_clients::xml_text(&key, tag)
                .map(str::to_owned)
                .with_context(|| format!("no <{tag}> in the CreateAccessKey answer {key}"))
        };
        let admin = Credentials::new(
            field("AccessKeyId")?,
            field("SecretAccessKey")?,
            None,
            None,
            "emulator admin",
        );
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
        iam_api(
            &endpoint,
            &format!(
                "Action=PutUserPolicy&UserName={ADMIN_USER}&PolicyName=admin&PolicyDocument={}",
                sdk_clients::form_encode(policy)
            ),
        )
        .await
        .context("bootstrap iam:PutUserPolicy")?;
        let identity = crate::faults::query_api_as(
            &endpoint,
            &admin,
            "sts",
            "Action=GetCallerIdentity&Version=2011-06-15",
        )
        .await
        .context("the admin's keys are refused")?;
        ensure!(
            identity.contains(&format!("user/{ADMIN_USER}")),
            "sts:GetCallerIdentity as the admin: {identity}"
        );
        let refused = crate::faults::query_api_as(
            &endpoint,
            &sdk_clients::test_credentials(),
            "sts",
            "Action=GetCallerIdentity&Version=2011-06-15",
        )
        .await;
        ensure!(
            refused.is_err(),
            "moto still accepts the test credentials: IAM is not enforced"
        );
        Ok(admin)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Whether IAM is enforced ([`Moto::start_iam`]).
    pub fn enforces_iam(&self) -> bool {
        self.admin.is_some()
    }

    /// The credentials with every permission: the admin's under IAM enforcement, else the
    /// test credentials.
    pub fn credentials(&self) -> Credentials {
        self.admin
            .clone()
            .unwrap_or_else(sdk_clients::test_credentials)
    }

    /// Stops it now (also done on drop).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
        if self.admin.is_some() {
            sdk_clients::unregister_credentials(&self.endpoint());
        }
    }
}
