//! Settings from the environment (and `.env`), with the defaults of the API contract.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use phantom_adapters::db::SqliteCommit;
use phantom_adapters::oauth::GoogleOAuthConfig;
use rand::RngCore;

/// Where generated secrets are kept when the environment gives none.
pub const SECRETS_DIR: &str = ".phantom";

/// Everything the server needs to start.
#[derive(Clone)]
pub struct Settings {
    /// `sqlite://PATH` or `postgres://…`.
    pub database_url: String,
    /// How SQLite commits writes (`PHANTOM_SQLITE_GROUP_COMMIT`, default on); PostgreSQL
    /// ignores it.
    pub sqlite_commit: SqliteCommit,
    /// Listen address.
    pub bind: SocketAddr,
    /// Signs JWTs and OAuth state.
    pub secret_key: Vec<u8>,
    /// AES-256-GCM key for stored Google tokens.
    pub token_key: [u8; 32],
    /// The key before the last rotation: still opens old tokens (`PHANTOM_TOKEN_KEY_PREVIOUS`).
    pub token_key_previous: Option<[u8; 32]>,
    /// Google OAuth and Calendar settings.
    pub google: GoogleSettings,
    /// Sync retry policy.
    pub sync: SyncSettings,
    /// Folder of `phantom.log`; `None` logs to stdout only.
    pub log_dir: Option<PathBuf>,
    /// Lifetime of access tokens.
    pub access_token_ttl: Duration,
    /// Lifetime of refresh tokens.
    pub refresh_token_ttl: Duration,
    /// HTTP worker threads; `None` means one per core.
    pub http_workers: Option<usize>,
    /// Login, register and token-refresh requests per client IP and minute; 0 turns limiting off.
    pub auth_rate_per_minute: u32,
    /// How many of those one client IP may send at once; 0 turns limiting off.
    pub auth_rate_burst: u32,
    /// Reverse proxies whose `X-Forwarded-For` is believed (`PHANTOM_TRUSTED_PROXIES`):
    /// addresses or CIDR ranges; empty, the header is ignored.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Where Prometheus metrics are served (`PHANTOM_METRICS`).
    pub metrics: MetricsSetting,
    /// Password hashes run at once, each on its own thread holding 19 MiB
    /// (`PHANTOM_PASSWORD_HASH_THREADS`, default 1).
    pub password_hash_threads: usize,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys and the database URL (which may hold a password) stay out of logs.
        f.debug_struct("Settings")
            .field("bind", &self.bind)
            .field("log_dir", &self.log_dir)
            .field("metrics", &self.metrics)
            .finish_non_exhaustive()
    }
}

/// Google endpoints and client credentials.
#[derive(Clone, Default)]
pub struct GoogleSettings {
    /// Client credentials and OAuth endpoints, as the OAuth adapter takes them.
    pub oauth: GoogleOAuthConfig,
    /// Base of the Calendar v3 API.
    pub calendar_api_url: String,
    /// Calendar events are written to.
    pub calendar_id: String,
    /// Require the browser-binding cookie at the callback (RFC 9700 §2.1); see
    /// `docs/oauth-browser-binding.md` for the trade-off.
    pub strict_browser_binding: bool,
}

/// Where `/metrics` (Prometheus text format) is served: `PHANTOM_METRICS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsSetting {
    /// `off`: no route, and nothing is recorded.
    Off,
    /// `on` (the default): at `/metrics` on the main listener.
    Main,
    /// A socket address: at `/metrics` on a second listener there, not on the main one.
    Separate(SocketAddr),
}

impl MetricsSetting {
    fn parse(value: Option<&str>) -> Result<Self, ConfigError> {
        match value.map(str::trim) {
            None | Some("on") => Ok(MetricsSetting::Main),
            Some("off") => Ok(MetricsSetting::Off),
            Some(address) => address.parse().map(MetricsSetting::Separate).map_err(|_| {
                invalid(
                    "PHANTOM_METRICS",
                    "expected on, off, or HOST:PORT, e.g. 127.0.0.1:9464",
                )
            }),
        }
    }
}

/// How failed syncs are retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncSettings {
    /// First backoff delay; each next one doubles.
    pub retry_base: Duration,
    /// Retries per round.
    pub max_retries: u32,
    /// Most Google Calendar calls per user and minute; `0` is unpaced.
    pub user_rate: u32,
    /// Most Google Calendar calls per minute of this process, all users together
    /// (`PHANTOM_SYNC_PROJECT_RATE`, default 9,000); `0` is unpaced.
    pub project_rate: u32,
    /// A worker's lease on the users it works, renewed by its heartbeat every third of it; a
    /// crashed worker's users are claimable again after it.
    pub lease: Duration,
    /// `phantom serve` runs a sync worker beside the API (`PHANTOM_SYNC_WORKER`, default
    /// on); off leaves delivery to `phantom worker` processes (PostgreSQL only).
    pub in_server: bool,
    /// How often each connected user's calendar is read for changes
    /// (`PHANTOM_GOOGLE_POLL_SECS`, default 300); `None` (`0`): only when asked.
    pub poll: Option<Duration>,
    /// Google events that ended longer ago are not imported
    /// (`PHANTOM_GOOGLE_IMPORT_DAYS_BACK`, default 30).
    pub import_days_back: u32,
    /// The server's public base URL (`PHANTOM_PUBLIC_URL`): when set, Google push
    /// notifications are used. `https`, or `http` on a loopback host (tests, the emulator).
    pub public_url: Option<String>,
    /// The lifetime asked for a watch channel (`PHANTOM_GOOGLE_CHANNEL_TTL_SECS`, 604800).
    pub channel_ttl: Duration,
}

/// Checks a public base URL: Google calls only `https` addresses, so plain `http` is
/// accepted only for a loopback host. Returns it without a trailing `/`.
pub fn public_url(url: &str) -> Result<String, ConfigError> {
    let url = url.trim().trim_end_matches('/');
    let bad = || {
        invalid(
            "PHANTOM_PUBLIC_URL",
            "expected https://HOST[:PORT][/PATH], or http:// on 127.0.0.1, localhost or [::1]",
        )
    };
    let (secure, rest) = match url.split_once("://") {
        Some(("https", rest)) => (true, rest),
        Some(("http", rest)) => (false, rest),
        _ => return Err(bad()),
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().map(|h| format!("[{h}]")),
        None => authority.split(':').next().map(str::to_owned),
    }
    .filter(|h| !h.is_empty())
    .ok_or_else(bad)?;
    if secure || matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]") {
        Ok(url.to_owned())
    } else {
        Err(bad())
    }
}

/// A setting that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The value does not parse.
    #[error("{name} is invalid: {reason}")]
    Invalid {
        /// Variable name.
        name: &'static str,
        /// What is wrong (never the value itself: it may be a secret).
        reason: String,
    },
    /// A generated secret could not be kept.
    #[error("cannot keep the generated secret in {path}")]
    SecretFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

fn invalid(name: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name,
        reason: reason.into(),
    }
}

impl Settings {
    /// Reads the process environment (call `dotenvy::dotenv()` first to include `.env`).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(
            |name| std::env::var(name).ok().filter(|v| !v.is_empty()),
            Path::new(SECRETS_DIR),
        )
    }

    /// Reads settings from `var`; secrets missing there are generated once and kept in
    /// `secrets_dir` with owner-only permissions.
    pub fn from_source(
        var: impl Fn(&str) -> Option<String>,
        secrets_dir: &Path,
    ) -> Result<Self, ConfigError> {
        let or = |name: &str, default: &str| var(name).unwrap_or_else(|| default.to_owned());
        let number = |name: &'static str, default: u64| -> Result<u64, ConfigError> {
            var(name).map_or(Ok(default), |v| {
                v.trim()
                    .parse()
                    .map_err(|_| invalid(name, "expected a whole number"))
            })
        };

        let bind = or("PHANTOM_BIND", "127.0.0.1:8000")
            .parse()
            .map_err(|_| invalid("PHANTOM_BIND", "expected HOST:PORT, e.g. 127.0.0.1:8000"))?;

        let secret_key = match var("PHANTOM_SECRET_KEY") {
            Some(key) if key.len() < 32 => {
                return Err(invalid("PHANTOM_SECRET_KEY", "use at least 32 characters"));
            }
            Some(key) => key.into_bytes(),
            None => B64
                .encode(kept_secret(
                    secrets_dir,
                    "secret_key",
                    "PHANTOM_SECRET_KEY",
                )?)
                .into_bytes(),
        };
        let token_key_bytes = match var("PHANTOM_TOKEN_KEY") {
            Some(key) => B64
                .decode(key.trim())
                .map_err(|_| invalid("PHANTOM_TOKEN_KEY", "expected base64"))?,
            None => kept_secret(secrets_dir, "token_key", "PHANTOM_TOKEN_KEY")?,
        };
        let token_key = key_bytes("PHANTOM_TOKEN_KEY", token_key_bytes)?;
        let token_key_previous = var("PHANTOM_TOKEN_KEY_PREVIOUS")
            .map(|key| {
                let bytes = B64
                    .decode(key.trim())
                    .map_err(|_| invalid("PHANTOM_TOKEN_KEY_PREVIOUS", "expected base64"))?;
                key_bytes("PHANTOM_TOKEN_KEY_PREVIOUS", bytes)
            })
            .transpose()?;
        let strict_browser_binding = match var("PHANTOM_OAUTH_STRICT_BROWSER_BINDING").as_deref() {
            None | Some("false" | "0") => false,
            Some("true" | "1") => true,
            Some(_) => {
                return Err(invalid(
                    "PHANTOM_OAUTH_STRICT_BROWSER_BINDING",
                    "expected true or false",
                ));
            }
        };

        let metrics = MetricsSetting::parse(var("PHANTOM_METRICS").as_deref())?;
        let lease = match number("PHANTOM_SYNC_LEASE_SECS", 10)? {
            0 => return Err(invalid("PHANTOM_SYNC_LEASE_SECS", "must be at least 1")),
            secs => Duration::from_secs(secs),
        };
        let sqlite_commit = match var("PHANTOM_SQLITE_GROUP_COMMIT").as_deref() {
            None | Some("on") => SqliteCommit::Group,
            Some("off") => SqliteCommit::PerWrite,
            Some(_) => return Err(invalid("PHANTOM_SQLITE_GROUP_COMMIT", "expected on or off")),
        };
        let in_server = match var("PHANTOM_SYNC_WORKER").as_deref() {
            None | Some("on") => true,
            Some("off") => false,
            Some(_) => return Err(invalid("PHANTOM_SYNC_WORKER", "expected on or off")),
        };
        let poll = match number("PHANTOM_GOOGLE_POLL_SECS", 300)? {
            0 => None,
            secs => Some(Duration::from_secs(secs)),
        };
        let import_days_back = u32::try_from(number("PHANTOM_GOOGLE_IMPORT_DAYS_BACK", 30)?)
            .map_err(|_| invalid("PHANTOM_GOOGLE_IMPORT_DAYS_BACK", "too large"))?;
        let public_url = var("PHANTOM_PUBLIC_URL")
            .map(|url| public_url(&url))
            .transpose()?;
        let channel_ttl = match number("PHANTOM_GOOGLE_CHANNEL_TTL_SECS", 604_800)? {
            0 => {
                return Err(invalid(
                    "PHANTOM_GOOGLE_CHANNEL_TTL_SECS",
                    "must be at least 1",
                ));
            }
            secs => Duration::from_secs(secs),
        };
        let max_retries = u32::try_from(number("PHANTOM_SYNC_MAX_RETRIES", 3)?)
            .map_err(|_| invalid("PHANTOM_SYNC_MAX_RETRIES", "too large"))?;
        let auth_rate_per_minute = u32::try_from(number("PHANTOM_AUTH_RATE_PER_MINUTE", 10)?)
            .map_err(|_| invalid("PHANTOM_AUTH_RATE_PER_MINUTE", "too large"))?;
        let auth_rate_burst = u32::try_from(number("PHANTOM_AUTH_RATE_BURST", 5)?)
            .map_err(|_| invalid("PHANTOM_AUTH_RATE_BURST", "too large"))?;
        let trusted_proxies = trusted_proxies(&or("PHANTOM_TRUSTED_PROXIES", ""))?;
        let password_hash_threads = match number("PHANTOM_PASSWORD_HASH_THREADS", 1)? {
            0 => {
                return Err(invalid(
                    "PHANTOM_PASSWORD_HASH_THREADS",
                    "must be at least 1",
                ));
            }
            n => usize::try_from(n)
                .map_err(|_| invalid("PHANTOM_PASSWORD_HASH_THREADS", "too large"))?,
        };

        Ok(Settings {
            database_url: or("DATABASE_URL", "sqlite://phantom.db"),
            sqlite_commit,
            bind,
            secret_key,
            token_key,
            token_key_previous,
            google: GoogleSettings {
                oauth: GoogleOAuthConfig {
                    client_id: var("GOOGLE_CLIENT_ID"),
                    client_secret: var("GOOGLE_CLIENT_SECRET"),
                    redirect_uri: or(
                        "GOOGLE_REDIRECT_URI",
                        "http://localhost:8000/api/integrations/google-calendar/callback/",
                    ),
                    auth_url: or(
                        "GOOGLE_AUTH_URL",
                        "https://accounts.google.com/o/oauth2/v2/auth",
                    ),
                    token_url: or("GOOGLE_TOKEN_URL", "https://oauth2.googleapis.com/token"),
                    revoke_url: or("GOOGLE_REVOKE_URL", "https://oauth2.googleapis.com/revoke"),
                },
                calendar_api_url: or(
                    "GOOGLE_CALENDAR_API_URL",
                    "https://www.googleapis.com/calendar/v3/",
                ),
                calendar_id: or("GOOGLE_CALENDAR_ID", "primary"),
                strict_browser_binding,
            },
            sync: SyncSettings {
                retry_base: Duration::from_millis(number("PHANTOM_SYNC_RETRY_BASE_MS", 1000)?),
                max_retries,
                user_rate: u32::try_from(number("PHANTOM_SYNC_USER_RATE", 500)?)
                    .map_err(|_| invalid("PHANTOM_SYNC_USER_RATE", "too large"))?,
                project_rate: u32::try_from(number("PHANTOM_SYNC_PROJECT_RATE", 9_000)?)
                    .map_err(|_| invalid("PHANTOM_SYNC_PROJECT_RATE", "too large"))?,
                lease,
                in_server,
                poll,
                import_days_back,
                public_url,
                channel_ttl,
            },
            log_dir: Some(PathBuf::from(or("PHANTOM_LOG_DIR", "logs"))),
            access_token_ttl: Duration::from_secs(5 * 60),
            refresh_token_ttl: Duration::from_secs(24 * 60 * 60),
            http_workers: None,
            auth_rate_per_minute,
            auth_rate_burst,
            trusted_proxies,
            metrics,
            password_hash_threads,
        })
    }
}

/// `PHANTOM_TRUSTED_PROXIES`: comma-separated addresses (`10.0.0.5`, `::1`) or CIDR ranges
/// (`10.0.0.0/8`); blank items are skipped.
fn trusted_proxies(list: &str) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    list.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.parse::<ipnet::IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    invalid(
                        "PHANTOM_TRUSTED_PROXIES",
                        format!("{item:?} is neither an IP address nor a CIDR range"),
                    )
                })
        })
        .collect()
}

fn key_bytes(name: &'static str, bytes: Vec<u8>) -> Result<[u8; 32], ConfigError> {
    bytes
        .try_into()
        .map_err(|_| invalid(name, "expected base64 of exactly 32 bytes"))
}

/// 32 random bytes kept in `dir/name`: read if present, else generated, written 0600, and
/// announced on stderr (logging is not set up yet when settings are read).
fn kept_secret(dir: &Path, name: &str, variable: &str) -> Result<Vec<u8>, ConfigError> {
    let path = dir.join(name);
    let io_err = |source| ConfigError::SecretFile {
        path: path.clone(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            return B64
                .decode(text.trim())
                .map_err(|_| invalid("secret file", format!("{} is not base64", path.display())));
        }
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io_err(e)),
        Err(_) => {}
    }
    let mut bytes = vec![0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    std::fs::create_dir_all(dir).map_err(io_err)?;
    write_private(&path, &B64.encode(&bytes)).map_err(io_err)?;
    eprintln!(
        "WARNING: {variable} is not set; generated one and kept it in {} (set {variable} in production).",
        path.display()
    );
    Ok(bytes)
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)], dir: &Path) -> Result<Settings, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_source(|k| vars.get(k).cloned(), dir)
    }

    #[test]
    fn defaults_follow_the_contract_and_secrets_are_generated_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = settings(&[], dir.path()).expect("settings");
        assert_eq!(first.database_url, "sqlite://phantom.db");
        assert_eq!(first.bind.to_string(), "127.0.0.1:8000");
        assert_eq!(first.google.calendar_id, "primary");
        assert_eq!(first.sync.retry_base, Duration::from_millis(1000));
        assert_eq!(first.sync.max_retries, 3);
        assert_eq!(first.sync.user_rate, 500);
        assert_eq!(first.sync.project_rate, 9_000);
        assert_eq!(first.sync.lease, Duration::from_secs(10));
        assert!(first.sync.in_server);
        assert_eq!(first.sqlite_commit, SqliteCommit::Group);
        assert_eq!(first.sync.poll, Some(Duration::from_secs(300)));
        assert_eq!(first.sync.import_days_back, 30);
        assert_eq!((first.auth_rate_per_minute, first.auth_rate_burst), (10, 5));
        assert_eq!(first.metrics, MetricsSetting::Main);
        assert_eq!(first.password_hash_threads, 1);
        let again = settings(&[], dir.path()).expect("settings");
        assert_eq!(first.secret_key, again.secret_key, "secret not kept");
        assert_eq!(first.token_key, again.token_key);
        assert_ne!(first.secret_key.as_slice(), first.token_key.as_slice());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("secret_key"))
                .expect("file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn trusted_proxies_are_addresses_and_ranges_and_none_by_default() {
        let dir = tempfile::tempdir().expect("tempdir");
        let none = settings(&[], dir.path()).expect("settings");
        assert!(none.trusted_proxies.is_empty());
        let some = settings(
            &[("PHANTOM_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.4,::1,")],
            dir.path(),
        )
        .expect("settings");
        let shown: Vec<String> = some
            .trusted_proxies
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(shown, ["10.0.0.0/8", "192.0.2.4/32", "::1/128"]);
        let bad = settings(
            &[("PHANTOM_TRUSTED_PROXIES", "10.0.0.0/8,proxy")],
            dir.path(),
        );
        assert!(
            bad.err()
                .is_some_and(|e| e.to_string().contains("PHANTOM_TRUSTED_PROXIES"))
        );
    }

    #[test]
    fn rejects_bad_values_without_echoing_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let short = settings(&[("PHANTOM_SECRET_KEY", "hunter2")], dir.path());
        let message = short.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("PHANTOM_SECRET_KEY") && !message.contains("hunter2"));
        assert!(settings(&[("PHANTOM_TOKEN_KEY", "c2hvcnQ=")], dir.path()).is_err());
        assert!(settings(&[("PHANTOM_BIND", "nowhere")], dir.path()).is_err());
        assert!(settings(&[("PHANTOM_SYNC_MAX_RETRIES", "-1")], dir.path()).is_err());
        assert!(settings(&[("PHANTOM_SYNC_LEASE_SECS", "0")], dir.path()).is_err());
        assert!(settings(&[("PHANTOM_SYNC_USER_RATE", "fast")], dir.path()).is_err());
        assert!(settings(&[("PHANTOM_SYNC_PROJECT_RATE", "-5")], dir.path()).is_err());
        assert!(settings(&[("PHANTOM_SYNC_WORKER", "maybe")], dir.path()).is_err());
        let bad = settings(&[("PHANTOM_SQLITE_GROUP_COMMIT", "sometimes")], dir.path())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(bad.contains("PHANTOM_SQLITE_GROUP_COMMIT") && bad.contains("on or off"));
        let off = settings(&[("PHANTOM_SQLITE_GROUP_COMMIT", "off")], dir.path());
        assert_eq!(
            off.map(|s| s.sqlite_commit).ok(),
            Some(SqliteCommit::PerWrite)
        );
        assert!(settings(&[("PHANTOM_GOOGLE_POLL_SECS", "-5")], dir.path()).is_err());
        assert!(settings(&[("PHANTOM_GOOGLE_IMPORT_DAYS_BACK", "x")], dir.path()).is_err());
        assert!(settings(&[("PHANTOM_GOOGLE_CHANNEL_TTL_SECS", "0")], dir.path()).is_err());
        assert!(settings(&[("PHANTOM_PUBLIC_URL", "http://example.com")], dir.path()).is_err());
        assert!(settings(&[("PHANTOM_AUTH_RATE_BURST", "-1")], dir.path()).is_err());
        assert!(settings(&[("PHANTOM_PASSWORD_HASH_THREADS", "0")], dir.path()).is_err());
        let two = settings(&[("PHANTOM_PASSWORD_HASH_THREADS", "2")], dir.path());
        assert_eq!(two.map(|s| s.password_hash_threads).ok(), Some(2));
        assert!(settings(&[("PHANTOM_TOKEN_KEY_PREVIOUS", "c2hvcnQ=")], dir.path()).is_err());
        assert!(
            settings(
                &[("PHANTOM_OAUTH_STRICT_BROWSER_BINDING", "maybe")],
                dir.path()
            )
            .is_err()
        );
    }

    #[test]
    fn a_public_url_is_https_or_loopback_http() {
        for good in [
            "https://phantom.example.com",
            "https://phantom.example.com:8443/base/",
            "http://127.0.0.1:8000",
            "http://localhost:8000",
            "http://[::1]:8000",
        ] {
            assert!(public_url(good).is_ok(), "{good}");
        }
        assert_eq!(
            public_url("https://phantom.example.com/").ok().as_deref(),
            Some("https://phantom.example.com")
        );
        for bad in [
            "http://phantom.example.com",
            "http://10.0.0.1:8000",
            "ftp://x",
            "phantom.example.com",
            "https://",
        ] {
            assert!(public_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn metrics_are_on_off_or_at_an_address() {
        let dir = tempfile::tempdir().expect("tempdir");
        let metrics =
            |value: &str| settings(&[("PHANTOM_METRICS", value)], dir.path()).map(|s| s.metrics);
        assert_eq!(metrics("on").ok(), Some(MetricsSetting::Main));
        assert_eq!(metrics("off").ok(), Some(MetricsSetting::Off));
        assert_eq!(
            metrics("127.0.0.1:9464").ok(),
            Some(MetricsSetting::Separate(
                "127.0.0.1:9464".parse().expect("address")
            ))
        );
        let bad = metrics("sometimes").err().map(|e| e.to_string());
        let bad = bad.unwrap_or_default();
        assert!(
            bad.contains("PHANTOM_METRICS") && !bad.contains("sometimes"),
            "{bad}"
        );
        assert!(metrics("127.0.0.1").is_err());
    }
}
