//! moto's server on a loopback port: started by us, killed (with its process group) on drop,
//! so it is never left running.

use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::paths;

/// A running `moto_server`.
pub struct Moto {
    child: Child,
    port: u16,
}

/// A free loopback port (bound then released).
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Moto {
    /// Starts moto on a free loopback port.
    pub fn start() -> Result<Moto> {
        Moto::start_on(free_port()?)
    }

    /// Starts moto on `127.0.0.1:port` and waits until it answers.
    pub fn start_on(port: u16) -> Result<Moto> {
        let server = paths::moto_server();
        Moto::start_with(&server, port)
    }

    pub fn start_with(server: &Path, port: u16) -> Result<Moto> {
        if !server.exists() {
            bail!(
                "{} is missing: run scripts/setup-python first (it installs moto[server] into .venv/)",
                server.display()
            );
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            bail!("127.0.0.1:{port} is already in use (another emulator or `shipstack-local up`?)");
        }
        let mut command = Command::new(server);
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
            .with_context(|| format!("start {}", server.display()))?;
        let mut moto = Moto { child, port };
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

    /// Stops it now (also done on drop).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}
