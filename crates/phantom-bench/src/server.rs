//! The server under test: the release `phantom` binary as a child process.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use phantom_google_emulator::Emulator;

/// The redirect URI the server gives Google; the bench calls the callback itself.
pub const REDIRECT_PATH: &str = "/api/integrations/google-calendar/callback/";
/// The per-user Calendar call budget the server is started with (calls per minute).
pub const SYNC_USER_RATE: u32 = 500;
/// The Calendar call budget of the whole server (calls per minute), the default.
pub const SYNC_PROJECT_RATE: u32 = 9_000;

/// A running `phantom serve`, killed on drop if not stopped first.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// When the process was spawned (just before `spawn`).
    pub spawned_at: DateTime<Utc>,
    /// The server's working folder (generated keys, the log file).
    _dir: tempfile::TempDir,
}

/// A running `phantom worker` (PostgreSQL only): no HTTP, killed on drop if not killed first.
pub struct Worker {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Worker {
    /// Starts `phantom worker` on `database_url`, pointed at `emulator`, and checks after
    /// `settle` that it is still running (it claims on its own from then on).
    pub async fn start(
        binary: &Path,
        database_url: &str,
        emulator: &Emulator,
        settle: Duration,
    ) -> anyhow::Result<Self> {
        Self::start_with(binary, database_url, emulator, settle, &[]).await
    }

    /// [`Worker::start`] with more environment variables (set after the bench's own).
    pub async fn start_with(
        binary: &Path,
        database_url: &str,
        emulator: &Emulator,
        settle: Duration,
        extra_env: &[(&str, String)],
    ) -> anyhow::Result<Self> {
        let (child, dir, _, _) = spawn(binary, "worker", database_url, emulator, extra_env, false)?;
        let mut worker = Worker { child, _dir: dir };
        tokio::time::sleep(settle).await;
        if let Some(status) = worker.child.try_wait()? {
            bail!("`phantom worker` exited at start-up ({status})");
        }
        Ok(worker)
    }

    /// SIGKILL, as a crash would; returns when the process is gone, with the time of the kill.
    pub fn kill(mut self) -> anyhow::Result<DateTime<Utc>> {
        kill_now(&mut self.child)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// SIGKILLs `child` and reaps it; the time is taken just before the signal.
fn kill_now(child: &mut Child) -> anyhow::Result<DateTime<Utc>> {
    let at = Utc::now();
    child.kill().context("cannot SIGKILL the child")?;
    child.wait()?;
    Ok(at)
}

/// Spawns `binary subcommand` on `database_url`, pointed at `emulator`, listening (for
/// `serve`) on a free port of 127.0.0.1. Returns the child, its folder, its base URL and the
/// spawn time. With `public`, `PHANTOM_PUBLIC_URL` is the server's own loopback address, so
/// it opens watch channels and the emulator notifies it there. `extra_env` is set last (e.g.
/// `PHANTOM_GOOGLE_POLL_SECS`).
fn spawn(
    binary: &Path,
    subcommand: &str,
    database_url: &str,
    emulator: &Emulator,
    extra_env: &[(&str, String)],
    public: bool,
) -> anyhow::Result<(Child, tempfile::TempDir, String, DateTime<Utc>)> {
    let dir = tempfile::Builder::new()
        .prefix("phantom-bench-server")
        .tempdir()?;
    let port = free_port()?;
    let base_url = format!("http://127.0.0.1:{port}");
    let spawned_at = Utc::now();
    let mut command = Command::new(binary);
    command
        .arg(subcommand)
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("PHANTOM_BIND", format!("127.0.0.1:{port}"))
        .env("DATABASE_URL", database_url)
        .env(
            "PHANTOM_SECRET_KEY",
            "bench-secret-key-that-is-long-enough-0123456789",
        )
        .env(
            "PHANTOM_TOKEN_KEY",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        )
        .env("PHANTOM_LOG_DIR", dir.path().join("logs"))
        .env("RUST_LOG", "warn")
        .env("PHANTOM_AUTH_RATE_PER_MINUTE", "0")
        .env("PHANTOM_SYNC_USER_RATE", SYNC_USER_RATE.to_string())
        .env("PHANTOM_SYNC_PROJECT_RATE", SYNC_PROJECT_RATE.to_string())
        .env("GOOGLE_CLIENT_ID", emulator.client_id())
        .env("GOOGLE_CLIENT_SECRET", emulator.client_secret())
        .env("GOOGLE_REDIRECT_URI", format!("{base_url}{REDIRECT_PATH}"))
        .env("GOOGLE_AUTH_URL", emulator.auth_url())
        .env("GOOGLE_TOKEN_URL", emulator.token_url())
        .env("GOOGLE_REVOKE_URL", emulator.revoke_url())
        .env("GOOGLE_CALENDAR_API_URL", emulator.calendar_api_url())
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    if public {
        command.env("PHANTOM_PUBLIC_URL", &base_url);
    }
    for (name, value) in extra_env {
        command.env(name, value);
    }
    let child = command
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    Ok((child, dir, base_url, spawned_at))
}

impl Server {
    /// Starts `binary` on `database_url`, pointed at `emulator`, and waits until `/healthz/`
    /// answers.
    pub async fn start(
        binary: &Path,
        database_url: &str,
        emulator: &Emulator,
    ) -> anyhow::Result<Self> {
        Self::start_with(binary, database_url, emulator, &[]).await
    }

    /// [`Server::start`] with more environment variables (set after the bench's own).
    pub async fn start_with(
        binary: &Path,
        database_url: &str,
        emulator: &Emulator,
        extra_env: &[(&str, String)],
    ) -> anyhow::Result<Self> {
        Self::launch(binary, database_url, emulator, extra_env, false).await
    }

    /// [`Server::start_with`] with push notifications: `PHANTOM_PUBLIC_URL` is the server's
    /// own `http://127.0.0.1:PORT`, where the emulator delivers them.
    pub async fn start_notified(
        binary: &Path,
        database_url: &str,
        emulator: &Emulator,
        extra_env: &[(&str, String)],
    ) -> anyhow::Result<Self> {
        Self::launch(binary, database_url, emulator, extra_env, true).await
    }

    async fn launch(
        binary: &Path,
        database_url: &str,
        emulator: &Emulator,
        extra_env: &[(&str, String)],
        public: bool,
    ) -> anyhow::Result<Self> {
        let (child, dir, base_url, spawned_at) =
            spawn(binary, "serve", database_url, emulator, extra_env, public)?;
        let mut server = Server {
            child,
            base_url,
            spawned_at,
            _dir: dir,
        };
        server.wait_ready().await?;
        Ok(server)
    }

    /// SIGKILL, as a crash would; returns when the process is gone, with the time of the kill.
    pub fn kill(mut self) -> anyhow::Result<DateTime<Utc>> {
        kill_now(&mut self.child)
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        let url = format!("{}/healthz/", self.base_url);
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("the server exited at start-up ({status})");
            }
            if let Ok(answer) = client.get(&url).send().await
                && answer.status().is_success()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the server did not answer /healthz/ within a minute");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The server's peak resident memory so far (`VmHWM`), in bytes.
    pub fn peak_rss(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        vm_hwm(&status).context("no VmHWM in /proc/PID/status")
    }

    /// The server's resident memory now (`VmRSS`), in bytes.
    pub fn rss(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status_kb(&status, "VmRSS:")
            .map(|kb| kb * 1024)
            .context("no VmRSS in /proc/PID/status")
    }

    /// Asks the server to stop (SIGTERM) and waits for it; kills it after 15 s.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                self.child.kill()?;
                bail!("the server did not stop within 15 s of SIGTERM");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Stopped already: both fail harmlessly. Otherwise (an error path) make sure it dies.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A port nobody listens on right now.
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// `VmHWM:  123456 kB` in bytes.
fn vm_hwm(status: &str) -> Option<u64> {
    status_kb(status, "VmHWM:").map(|kb| kb * 1024)
}

/// The kB figure of `field` (`VmRSS:`) in `/proc/PID/status`.
fn status_kb(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::{status_kb, vm_hwm};

    #[test]
    fn reads_the_peak_resident_set() {
        let status = "Name:\tphantom\nVmPeak:\t  900 kB\nVmHWM:\t   51200 kB\nVmRSS:\t 40000 kB\n";
        assert_eq!(vm_hwm(status), Some(51200 * 1024));
        assert_eq!(vm_hwm("Name:\tphantom\n"), None);
        assert_eq!(status_kb(status, "VmRSS:"), Some(40000));
    }
}
