//! Wiring adapters into services and services into an actix-web server.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::{Condition, NormalizePath, TrailingSlash, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use phantom_adapters::auth::{Argon2Hasher, JwtCodec};
use phantom_adapters::crypto::{HmacStateCodec, TokenCipher};
use phantom_adapters::db::{
    Database, DieselBlacklist, DieselCategoryRepository, DieselEventRepository,
    DieselOAuthStateStore, DieselRevocationQueue, DieselSyncQueue, DieselTokenStore,
    DieselUserRepository, SqliteCommit,
};
use phantom_adapters::google::GoogleCalendar;
use phantom_adapters::oauth::GoogleOAuth;
use phantom_adapters::runtime::TokioSleeper;
use phantom_domain::ports::SystemClock;
use phantom_domain::services::{
    AccountService, ConnectionService, Pacing, PushSettings, ReadSettings, RetryPolicy,
    SchedulingService, SyncService,
};

use crate::config::{MetricsSetting, Settings};
use crate::error::ApiError;
use crate::state::AppState;
use crate::{routes, telemetry};

/// Opens the database and applies pending migrations (blocking work, off the executor);
/// SQLite writes are group-committed.
pub async fn open_database(url: &str) -> anyhow::Result<Database> {
    open_database_with(url, SqliteCommit::default()).await
}

/// Like [`open_database`], committing SQLite writes as `commit` says.
pub async fn open_database_with(url: &str, commit: SqliteCommit) -> anyhow::Result<Database> {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || {
        let db = Database::connect_with(&url, commit)?;
        let applied = db.run_migrations()?;
        if !applied.is_empty() {
            tracing::info!(backend = db.backend_name(), migrations = ?applied, "database migrated");
        }
        anyhow::Ok(db)
    })
    .await
    .context("database start-up task failed")?
}

/// The token cipher of `settings`: the current key, and the previous one while rotating.
pub fn token_cipher(settings: &Settings) -> Arc<TokenCipher> {
    Arc::new(TokenCipher::new(
        &settings.token_key,
        settings.token_key_previous.as_ref(),
    ))
}

/// The services over the diesel adapters of `db`.
pub fn app_state(db: &Database, settings: &Settings) -> anyhow::Result<AppState> {
    let google = &settings.google;
    let oauth = GoogleOAuth::new(google.oauth.clone())?;
    let clock = Arc::new(SystemClock);
    let cipher = token_cipher(settings);
    let sleeper = Arc::new(TokioSleeper);
    let calendar = Arc::new(GoogleCalendar::new(
        &google.calendar_api_url,
        &google.calendar_id,
    ));
    let connection = ConnectionService::new(
        Arc::new(oauth),
        Arc::new(DieselOAuthStateStore::new(db.clone(), cipher.clone())),
        Arc::new(HmacStateCodec::new(&settings.secret_key)),
        Arc::new(DieselTokenStore::new(db.clone(), cipher.clone())),
        Arc::new(DieselRevocationQueue::new(db.clone(), cipher)),
        clock.clone(),
        sleeper.clone(),
    )
    .stopping_channels_with(calendar.clone());
    let sync = SyncService::new(
        Arc::new(DieselSyncQueue::new(db.clone())),
        calendar,
        connection.clone(),
        clock.clone(),
        sleeper,
        RetryPolicy {
            base: settings.sync.retry_base,
            max_retries: settings.sync.max_retries,
            ..RetryPolicy::default()
        },
    )
    .with_pacing(Pacing {
        per_user: settings.sync.user_rate,
        per_project: settings.sync.project_rate,
    })
    .with_lease(settings.sync.lease)
    .with_reads(ReadSettings {
        poll: settings.sync.poll,
        import_days_back: settings.sync.import_days_back,
        push: settings.sync.public_url.as_ref().map(|base| PushSettings {
            address: format!("{base}{}", crate::routes::NOTIFICATIONS_PATH),
            ttl: settings.sync.channel_ttl,
        }),
    });
    let tokens = JwtCodec::new(
        &settings.secret_key,
        settings.access_token_ttl,
        settings.refresh_token_ttl,
    );
    Ok(AppState {
        connection,
        sync,
        sync_wakeup: Arc::new(tokio::sync::Notify::new()),
        strict_browser_binding: google.strict_browser_binding,
        secure_cookies: google.oauth.redirect_uri.starts_with("https://"),
        accounts: AccountService::new(
            Arc::new(DieselUserRepository::new(db.clone())),
            Arc::new(Argon2Hasher::with_threads(settings.password_hash_threads)),
            Arc::new(tokens),
            Arc::new(DieselBlacklist::new(db.clone())),
            Arc::new(DieselCategoryRepository::new(db.clone())),
            clock.clone(),
        ),
        scheduling: SchedulingService::new(
            Arc::new(DieselEventRepository::new(db.clone())),
            Arc::new(DieselCategoryRepository::new(db.clone())),
            Arc::new(DieselUserRepository::new(db.clone())),
            clock,
        ),
    })
}

/// A bound, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
    /// The `/metrics` listener of `PHANTOM_METRICS=HOST:PORT`, and its port.
    metrics: Option<(u16, Server)>,
    /// The sync worker, unless `PHANTOM_SYNC_WORKER=off`.
    sync_worker: Option<crate::jobs::SyncWorker>,
}

impl Application {
    /// Binds the listen address (port 0 picks a free one), opens and migrates the database,
    /// and prepares the server.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(settings.bind)
            .with_context(|| format!("cannot listen on {}", settings.bind))?;
        Self::build_on(settings, listener).await
    }

    /// [`Application::build`] on a listener already bound (`settings.bind` is not used): for
    /// a caller that must know the port before the settings are made (a public URL, a
    /// redirect URI) and may not release it meanwhile, when another process could take it.
    pub async fn build_on(settings: Settings, listener: TcpListener) -> anyhow::Result<Self> {
        let db = open_database_with(&settings.database_url, settings.sqlite_commit).await?;
        let state = web::Data::new(app_state(&db, &settings)?);
        crate::jobs::spawn_revocation_retries(
            state.connection.clone(),
            crate::jobs::REVOCATION_INTERVAL,
        );
        let embedded = db.backend_name() == "sqlite";
        anyhow::ensure!(
            settings.sync.in_server || !embedded,
            "PHANTOM_SYNC_WORKER=off needs PostgreSQL: with SQLite only `phantom serve` can deliver the sync queue"
        );
        if embedded {
            // The embedded server is its database's only worker: whatever a previous life of
            // it held (a crash leaves leases behind) is free now, not after the leases lapse.
            let expired = state.sync.expire_leases().await?;
            if expired > 0 {
                tracing::info!(users = expired, "sync leases of the previous run released");
            }
        }
        let sync_worker = settings.sync.in_server.then(|| {
            crate::jobs::spawn_tombstone_pruning(
                state.sync.clone(),
                crate::jobs::TOMBSTONE_PRUNING_INTERVAL,
            );
            crate::jobs::spawn_sync_worker(state.sync.clone(), state.sync_wakeup.clone())
        });
        let port = listener.local_addr()?.port();
        // Shared by every worker, so the limit holds per server, not per worker.
        let auth_limiter = web::Data::new(crate::rate_limit::AuthRateLimiter::behind(
            settings.auth_rate_per_minute,
            settings.auth_rate_burst,
            settings.trusted_proxies.clone(),
        ));
        let database = web::Data::new(db.clone());
        let recorder = match settings.metrics {
            MetricsSetting::Off => None,
            _ => Some(crate::metrics::recorder()?),
        };
        let metrics = match (settings.metrics, &recorder) {
            (MetricsSetting::Separate(address), Some(handle)) => Some(
                crate::metrics::bind_separate(address, handle.clone(), db.clone())?,
            ),
            _ => None,
        };
        let main_metrics = recorder.filter(|_| settings.metrics == MetricsSetting::Main);
        let recording = settings.metrics != MetricsSetting::Off;
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(auth_limiter.clone())
                .app_data(database.clone())
                .app_data(web::PayloadConfig::new(crate::extract::BODY_LIMIT))
                .app_data(
                    web::PathConfig::default().error_handler(|_, _| ApiError::NotFound.into()),
                )
                .configure(routes::configure)
                .configure(|cfg| {
                    if let Some(handle) = &main_metrics {
                        crate::metrics::configure(cfg, handle.clone());
                    }
                })
                .default_service(web::to(routes::not_found))
                .wrap(NormalizePath::new(TrailingSlash::Always))
                .wrap(Condition::new(
                    recording,
                    from_fn(crate::metrics::record_request),
                ))
                .wrap(from_fn(telemetry::request_span))
        })
        .listen(listener)?;
        if let Some(workers) = settings.http_workers {
            server = server.workers(workers);
        }
        Ok(Self {
            port,
            server: server.run(),
            metrics,
            sync_worker,
        })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the separate metrics listener (`PHANTOM_METRICS=HOST:PORT`), if any.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(port, _)| *port)
    }

    /// Serves until the process is asked to stop (SIGINT/SIGTERM stop it gracefully: the
    /// HTTP server drains, then the sync worker finishes its calls in flight and releases its
    /// users).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = match self.metrics {
            Some((_, metrics)) => tokio::try_join!(self.server, metrics).map(|_| ()),
            None => self.server.await,
        };
        if let Some(worker) = self.sync_worker {
            worker.shutdown().await;
        }
        served
    }
}
