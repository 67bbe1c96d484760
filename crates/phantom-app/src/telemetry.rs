//! Logging: `tracing` to stdout and to `phantom.log`, and one span per HTTP request.

use std::path::Path;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use tracing::Instrument;
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, fmt};

/// Log lines queued for the file writer at most (beyond, lines are dropped, as before). The
/// queue is allocated whole at start: `tracing-appender`'s default of 128,000 lines took 4 MiB
/// of an idle server's resident memory; this many are 0.5 MiB, seconds of lines at full load.
pub const LOG_BUFFER_LINES: usize = 16_384;

/// Installs the global subscriber: `RUST_LOG` filtering (default `info`), stdout, and JSON
/// lines in `log_dir/phantom.log` when given. Keep the guard alive: dropping it flushes the file.
pub fn init(log_dir: Option<&Path>) -> anyhow::Result<Option<WorkerGuard>> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let stdout = fmt::layer().with_target(false);
    let (file, guard) = match log_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            let (writer, guard) = NonBlockingBuilder::default()
                .buffered_lines_limit(LOG_BUFFER_LINES)
                .finish(tracing_appender::rolling::never(dir, "phantom.log"));
            // JSON lines for machines; also a field formatter of its own, without which two fmt
            // layers share recorded span fields and print them twice.
            let layer = fmt::layer().json().with_target(false).with_writer(writer);
            (Some(layer), Some(guard))
        }
        None => (None, None),
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(stdout)
        .with(file)
        .try_init()?;
    Ok(guard)
}

/// Wraps each request in a span with method, path (never the query string: it can carry
/// OAuth codes and state), and, once authenticated, the user id; logs status and latency.
pub async fn request_span(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let span = tracing::info_span!(
        "request",
        method = %req.method(),
        path = %req.path(),
        user_id = tracing::field::Empty,
    );
    let started = Instant::now();
    let response = next.call(req).instrument(span.clone()).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let _entered = span.enter();
    match &response {
        Ok(res) => {
            let status = res.status().as_u16();
            if res.status().is_server_error() {
                tracing::error!(status, latency_ms, "request failed");
            } else {
                tracing::info!(status, latency_ms, "request finished");
            }
        }
        Err(e) => tracing::error!(error = %e, latency_ms, "request failed"),
    }
    response
}
