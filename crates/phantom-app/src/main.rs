//! `phantom`: the Phantom Scheduler server.

use clap::{Parser, Subcommand};
use phantom_adapters::db::DieselTokenStore;
use phantom_app::config::Settings;
use phantom_app::startup::{Application, app_state, open_database_with, token_cipher};
use phantom_app::telemetry;

/// mimalloc instead of glibc's malloc: glibc keeps the 19 MiB of each Argon2id hash once freed
/// (its mmap threshold rises to the largest block freed, so the next ones come from an arena
/// and stay there) and gives each thread that allocates an arena of its own; mimalloc hands
/// freed memory back to the system. See `docs/design.md`, "Memory".
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Self-hostable scheduling back end that keeps events in sync with Google Calendar.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (the default); pending migrations are applied first.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Deliver queued event changes to Google Calendar, without serving HTTP (any number of
    /// workers may share one PostgreSQL database).
    Worker,
    /// Re-encrypt every stored Google token under PHANTOM_TOKEN_KEY; tokens sealed under
    /// PHANTOM_TOKEN_KEY_PREVIOUS are opened with it. Run after changing the key.
    RotateTokenKey,
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // A missing .env is normal; the environment alone is enough.
    let _ = dotenvy::dotenv();
    let settings = Settings::from_env()?;
    let _log_guard = telemetry::init(settings.log_dir.as_deref())?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(settings.clone()).await?;
            if let Some(port) = app.metrics_port() {
                tracing::info!(port, "metrics listening");
            }
            tracing::info!(address = %settings.bind, port = app.port(), "phantom listening");
            app.run_until_stopped().await?;
        }
        Command::Migrate => {
            open_database_with(&settings.database_url, settings.sqlite_commit).await?;
            tracing::info!("database is up to date");
        }
        Command::Worker => {
            // SQLite has one writer: its worker runs inside `phantom serve`, on the server's
            // single write connection. Separate workers share the queue through PostgreSQL.
            anyhow::ensure!(
                !settings.database_url.starts_with("sqlite:"),
                "`phantom worker` needs PostgreSQL; with SQLite the worker runs inside `phantom serve`"
            );
            let db = open_database_with(&settings.database_url, settings.sqlite_commit).await?;
            let state = app_state(&db, &settings)?;
            if let Some((port, server)) =
                phantom_app::metrics::worker_server(settings.metrics, &db)?
            {
                tracing::info!(port, "metrics listening");
                actix_web::rt::spawn(server);
            }
            phantom_app::jobs::spawn_revocation_retries(
                state.connection.clone(),
                phantom_app::jobs::REVOCATION_INTERVAL,
            );
            phantom_app::jobs::spawn_tombstone_pruning(
                state.sync.clone(),
                phantom_app::jobs::TOMBSTONE_PRUNING_INTERVAL,
            );
            let worker = phantom_app::jobs::spawn_sync_worker(state.sync, state.sync_wakeup);
            phantom_app::shutdown::signalled().await?;
            tracing::info!("stop requested; finishing the calls in flight");
            worker.shutdown().await;
        }
        Command::RotateTokenKey => {
            let db = open_database_with(&settings.database_url, settings.sqlite_commit).await?;
            let store = DieselTokenStore::new(db, token_cipher(&settings));
            let changed = store.reseal_all().await?;
            tracing::info!(
                tokens = changed,
                "stored Google tokens re-encrypted under the current key"
            );
        }
    }
    Ok(())
}
