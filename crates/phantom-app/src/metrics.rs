//! Prometheus metrics: the process-wide recorder, the `/metrics` scrape, and a middleware that
//! counts and times every request by its route template.
//!
//! The names are listed in `docs/operations.md`. Labels never carry ids, paths, tokens or
//! anything about a user: routes are templates (`/api/events/{id}/`), and the adapters label
//! sync calls and token refreshes by operation and outcome only.

use std::net::{SocketAddr, TcpListener};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use chrono::Utc;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use phantom_adapters::db::Database;

use crate::config::MetricsSetting;

/// Requests answered, by `method`, `route` (template) and `status`.
pub const HTTP_REQUESTS: &str = "http_requests_total";
/// Time to answer, by `method` and `route`, as a histogram in seconds.
pub const HTTP_DURATION: &str = "http_request_duration_seconds";
/// Changes queued in the sync outbox (read at scrape time).
pub const OUTBOX_DEPTH: &str = "phantom_sync_outbox_depth";
/// Google push notifications received, by `outcome`: `read` (a read was asked for),
/// `ignored` (forged, unknown, expired, or `sync`), `failed`.
pub const NOTIFICATIONS: &str = "phantom_google_notifications_total";
/// Outbox entries by `state`: `due`, `leased` or `waiting` (for a retry time).
pub const OUTBOX_ENTRIES: &str = "phantom_sync_outbox_entries";
/// Seconds since the oldest queued change was queued (0 when the outbox is empty).
pub const OUTBOX_OLDEST_AGE: &str = "phantom_sync_outbox_oldest_age_seconds";

/// Transactions the SQLite writer committed with group commit on (one per batch; added at
/// scrape time).
pub const GROUP_COMMITS: &str = "phantom_sqlite_group_commits_total";
/// Writes those transactions held: over [`GROUP_COMMITS`], the writes per fsync.
pub const GROUP_COMMIT_WRITES: &str = "phantom_sqlite_group_commit_writes_total";

/// The `route` label of a request no route matched.
pub const UNMATCHED: &str = "unmatched";

/// Upper bounds of the latency buckets, 1 ms to 10 s.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How often histogram samples are folded in when nobody scrapes (bounds their memory).
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// How long a scrape waits for the outbox count before rendering without it.
const OUTBOX_TIMEOUT: Duration = Duration::from_secs(2);

static RECORDER: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();

/// Held from setting the outbox gauges to rendering them, so that two servers in one process
/// (as in the tests) each render the counts of their own database.
static SCRAPE: Mutex<()> = Mutex::new(());

/// The process-wide recorder, installed on first use (later calls share it: the `metrics`
/// facade has one global recorder per process). Fails if another recorder was installed.
pub fn recorder() -> anyhow::Result<PrometheusHandle> {
    RECORDER
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets(LATENCY_BUCKETS)
                .map_err(|e| e.to_string())?
                .install_recorder()
                .map_err(|e| e.to_string())?;
            describe();
            let upkeep = handle.clone();
            // Without the exporter's own listener nothing else runs upkeep. A plain thread:
            // the recorder outlives any one async runtime (tests start many).
            let spawned = std::thread::Builder::new()
                .name("metrics-upkeep".to_owned())
                .spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP_INTERVAL);
                        upkeep.run_upkeep();
                    }
                });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "metrics upkeep thread did not start; scrapes still fold samples in");
            }
            Ok(handle)
        })
        .clone()
        .map_err(|e| anyhow::anyhow!("cannot install the metrics recorder: {e}"))
}

fn describe() {
    use ::metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by route template and status."
    );
    describe_histogram!(
        HTTP_DURATION,
        ::metrics::Unit::Seconds,
        "Time to answer HTTP requests, by route template."
    );
    describe_gauge!(OUTBOX_DEPTH, "Changes waiting in the sync outbox.");
    describe_gauge!(OUTBOX_ENTRIES, "Sync outbox entries by state.");
    describe_gauge!(
        OUTBOX_OLDEST_AGE,
        ::metrics::Unit::Seconds,
        "Age of the oldest change in the sync outbox."
    );
    describe_counter!(
        phantom_adapters::google::SYNC_CALLS_METRIC,
        "Google Calendar calls by operation and outcome."
    );
    describe_counter!(
        phantom_adapters::oauth::TOKEN_REFRESHES_METRIC,
        "Google token refreshes by outcome."
    );
    describe_counter!(
        phantom_adapters::db::RESCUED_METRIC,
        "Users whose queue was taken over from a sync worker that died."
    );
    describe_counter!(
        NOTIFICATIONS,
        "Google push notifications received, by outcome: read, ignored, failed."
    );
    describe_counter!(
        phantom_adapters::db::GOOGLE_CHANGES_METRIC,
        "Changes read from Google Calendar, by what they did: updated, deleted, imported, deleted_in_google, unchanged."
    );
    describe_counter!(
        phantom_adapters::db::RENEWALS_METRIC,
        "User leases extended by sync workers' heartbeats."
    );
    describe_counter!(
        GROUP_COMMITS,
        "Transactions the SQLite writer committed with group commit, one per batch."
    );
    describe_counter!(
        GROUP_COMMIT_WRITES,
        "Writes the SQLite writer's group transactions held."
    );
}

/// Counts and times each request under its route template (never the raw path: ids would
/// make a series per event). A request no route matched is labelled [`UNMATCHED`].
pub async fn record_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let method = method_label(req.method());
    let started = Instant::now();
    let response = next.call(req).await;
    let elapsed = started.elapsed().as_secs_f64();
    let (route, status) = match &response {
        Ok(res) => (
            res.request()
                .match_pattern()
                .unwrap_or_else(|| UNMATCHED.to_owned()),
            res.status().as_u16(),
        ),
        // An error from a middleware: the request (and so its route) is gone.
        Err(e) => (
            UNMATCHED.to_owned(),
            e.as_response_error().status_code().as_u16(),
        ),
    };
    ::metrics::counter!(
        HTTP_REQUESTS,
        "method" => method,
        "route" => route.clone(),
        "status" => status.to_string()
    )
    .increment(1);
    ::metrics::histogram!(HTTP_DURATION, "method" => method, "route" => route).record(elapsed);
    response
}

/// The standard methods by name; anything else is `other` (a client picks the method).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Registers `GET /metrics/` (reached as `/metrics` too, through path normalisation).
pub fn configure(cfg: &mut web::ServiceConfig, handle: PrometheusHandle) {
    cfg.app_data(web::Data::new(handle))
        .service(web::resource("/metrics/").route(web::get().to(scrape)));
}

/// Sets the outbox gauges, then renders every metric in the Prometheus text format.
pub async fn scrape(handle: web::Data<PrometheusHandle>, db: web::Data<Database>) -> HttpResponse {
    let stats = tokio::time::timeout(OUTBOX_TIMEOUT, db.outbox_stats(Utc::now())).await;
    // A poisoned lock guards nothing but ordering: carry on.
    let _serial = SCRAPE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match stats {
        Ok(Ok(stats)) => {
            ::metrics::gauge!(OUTBOX_DEPTH).set(stats.depth as f64);
            ::metrics::gauge!(OUTBOX_ENTRIES, "state" => "due").set(stats.due as f64);
            ::metrics::gauge!(OUTBOX_ENTRIES, "state" => "leased").set(stats.leased as f64);
            ::metrics::gauge!(OUTBOX_ENTRIES, "state" => "waiting").set(stats.waiting as f64);
            ::metrics::gauge!(OUTBOX_OLDEST_AGE).set(stats.oldest_age_seconds(Utc::now()));
        }
        // The last values stay; the rest of the scrape is still worth having.
        Ok(Err(e)) => tracing::warn!(error = %e, "metrics: cannot count the sync outbox"),
        Err(_) => tracing::warn!("metrics: the sync outbox count timed out"),
    }
    if let Some(new) = db.take_unreported_group_commit_stats() {
        ::metrics::counter!(GROUP_COMMITS).increment(new.batches);
        ::metrics::counter!(GROUP_COMMIT_WRITES).increment(new.writes);
    }
    let body = handle.render();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(body)
}

/// A small server of its own for `/metrics` at `address` (`PHANTOM_METRICS=HOST:PORT`; port 0
/// picks a free one), and the port it listens on.
pub fn bind_separate(
    address: SocketAddr,
    handle: PrometheusHandle,
    db: Database,
) -> anyhow::Result<(u16, Server)> {
    separate(address, handle, db, true)
}

/// [`bind_separate`]; without `stop_on_signals` the server leaves SIGINT/SIGTERM alone (once
/// it listens for them, they no longer end a process that does not listen itself).
fn separate(
    address: SocketAddr,
    handle: PrometheusHandle,
    db: Database,
    stop_on_signals: bool,
) -> anyhow::Result<(u16, Server)> {
    let listener = TcpListener::bind(address)
        .with_context(|| format!("cannot listen on {address} for metrics"))?;
    let port = listener.local_addr()?.port();
    let db = web::Data::new(db);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(db.clone())
            .configure(|cfg| configure(cfg, handle.clone()))
            .route("/metrics", web::get().to(scrape))
            .default_service(web::to(crate::routes::not_found))
    })
    .workers(1);
    let server = if stop_on_signals {
        server
    } else {
        server.disable_signals()
    };
    let server = server.listen(listener).context("metrics listener")?;
    Ok((port, server.run()))
}

/// The metrics listener of `phantom worker`, which has no main listener: with an address in
/// `PHANTOM_METRICS` it records and serves there; with `on` or `off` it records nothing.
pub fn worker_server(
    setting: MetricsSetting,
    db: &Database,
) -> anyhow::Result<Option<(u16, Server)>> {
    match setting {
        MetricsSetting::Separate(address) => {
            // The worker runs until killed: SIGTERM must still end it.
            separate(address, recorder()?, db.clone(), false).map(Some)
        }
        MetricsSetting::Main | MetricsSetting::Off => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::middleware::from_fn;
    use actix_web::test as web_test;

    fn line_value(body: &str, prefix: &str) -> f64 {
        body.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    }

    #[actix_web::test]
    async fn requests_are_labelled_by_template_and_latency_is_a_histogram() {
        let handle = recorder().expect("recorder");
        let app = web_test::init_service(
            App::new()
                .service(
                    web::resource("/unit-metrics/{id}/")
                        .to(|| async { HttpResponse::Ok().finish() }),
                )
                .default_service(web::to(HttpResponse::NotFound))
                .wrap(from_fn(record_request)),
        )
        .await;
        let ok = r#"http_requests_total{method="GET",route="/unit-metrics/{id}/",status="200"}"#;
        let before = line_value(&handle.render(), ok);
        for id in [1, 2, 3] {
            let req = web_test::TestRequest::get()
                .uri(&format!("/unit-metrics/{id}/"))
                .to_request();
            assert_eq!(web_test::call_service(&app, req).await.status(), 200);
        }
        let req = web_test::TestRequest::with_uri("/unit-metrics-nowhere/").to_request();
        assert_eq!(web_test::call_service(&app, req).await.status(), 404);

        let body = handle.render();
        assert_eq!(line_value(&body, ok) - before, 3.0, "{body}");
        assert!(
            !body.contains("/unit-metrics/1/"),
            "raw path leaked: {body}"
        );
        assert!(body.contains(r#"route="unmatched",status="404""#), "{body}");
        assert!(
            body.contains(
                r#"http_request_duration_seconds_bucket{method="GET",route="/unit-metrics/{id}/",le="0.001"}"#
            ),
            "not a histogram: {body}"
        );
    }

    #[test]
    fn unusual_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        let custom = Method::from_bytes(b"PURGE").expect("method");
        assert_eq!(method_label(&custom), "other");
    }
}
