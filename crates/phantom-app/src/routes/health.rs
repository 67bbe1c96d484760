//! Probes for load balancers and orchestrators: liveness (`/healthz/`) and readiness
//! (`/readyz/`). Both are public and answer in the shape `{"status": …}`.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use phantom_adapters::db::Database;
use phantom_adapters::db::health::ReadinessError;
use serde::Serialize;
use utoipa::ToSchema;

/// The answer of `/healthz/`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Health)]
pub struct HealthBody {
    /// Always `ok`.
    pub status: &'static str,
}

/// The answer of `/readyz/` when ready.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Ready)]
pub struct ReadyBody {
    /// Always `ready`.
    pub status: &'static str,
    /// The database backend: `sqlite` or `postgresql`.
    pub database: &'static str,
}

/// The answer of `/readyz/` when not ready.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NotReady)]
pub struct UnavailableBody {
    /// Always `unavailable`.
    pub status: &'static str,
    /// What is wrong, without the cause (which goes to the log).
    pub detail: &'static str,
}

/// How long readiness waits for the database before answering `503`.
const READINESS_TIMEOUT: Duration = Duration::from_secs(5);

/// `200 {"status":"ok"}` whenever the process serves HTTP; touches nothing else.
#[utoipa::path(
    get,
    path = "/healthz/",
    tag = "health",
    responses((status = 200, description = "The process serves HTTP.", body = HealthBody))
)]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(HealthBody { status: "ok" })
}

/// `200 {"status":"ready","database":…}` when the database answers and every embedded
/// migration is applied; otherwise `503 {"status":"unavailable","detail":…}`. The detail
/// never carries the cause (which may name the database host): that goes to the log.
#[utoipa::path(
    get,
    path = "/readyz/",
    tag = "health",
    responses(
        (status = 200, description = "The database answers and is migrated.", body = ReadyBody),
        (status = 503, description = "The database does not answer, or has pending migrations.", body = UnavailableBody),
    )
)]
pub async fn readyz(db: web::Data<Database>) -> HttpResponse {
    let result = tokio::time::timeout(READINESS_TIMEOUT, db.readiness()).await;
    let detail = match result {
        Ok(Ok(())) => {
            return HttpResponse::Ok().json(ReadyBody {
                status: "ready",
                database: db.backend_name(),
            });
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
    HttpResponse::ServiceUnavailable().json(UnavailableBody {
        status: "unavailable",
        detail,
    })
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
