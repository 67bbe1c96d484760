//! Probes for load balancers and orchestrators: liveness (`/healthz/`) and readiness
//! (`/readyz/`). Both are public and answer in the shape `{"status": …}`.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use phantom_adapters::db::Database;
use phantom_adapters::db::health::ReadinessError;
use serde_json::json;

/// How long readiness waits for the database before answering `503`.
const READINESS_TIMEOUT: Duration = Duration::from_secs(5);

/// `200 {"status":"ok"}` whenever the process serves HTTP; touches nothing else.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// `200 {"status":"ready","database":…}` when the database answers and every embedded
/// migration is applied; otherwise `503 {"status":"unavailable","detail":…}`. The detail
/// never carries the cause (which may name the database host): that goes to the log.
pub async fn readyz(db: web::Data<Database>) -> HttpResponse {
    let result = tokio::time::timeout(READINESS_TIMEOUT, db.readiness()).await;
    let detail = match result {
        Ok(Ok(())) => {
            return HttpResponse::Ok()
                .json(json!({ "status": "ready", "database": db.backend_name() }));
        }
        Ok(Err(ReadinessError::PendingMigrations)) => {
            tracing::warn!("not ready: the database has pending migrations");
            "The database has pending migrations: run `phantom migrate`."
        }
        Ok(Err(ReadinessError::Unavailable(cause))) => {
            tracing::warn!(error = %error_chain(&cause), "not ready: the database does not answer");
            "The database does not answer."
        }
        Err(_) => {
            tracing::warn!("not ready: the database did not answer in time");
            "The database did not answer in time."
        }
    };
    HttpResponse::ServiceUnavailable().json(json!({ "status": "unavailable", "detail": detail }))
}

/// `outer: inner: innermost`, for the log line.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
