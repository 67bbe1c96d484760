//! The liveness and readiness probes.

use diesel::connection::SimpleConnection;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, body, spawn_app};

async fn probe(app: &TestApp, path: &str) -> (StatusCode, Value) {
    let response = app.send(Method::GET, path, None, None).await;
    (response.status(), body(response).await)
}

/// Runs `sql` on the test's database through a second handle, as an operator would.
async fn execute(app: &TestApp, sql: impl Into<String>) {
    let sql = sql.into();
    app.database()
        .await
        .write(move |c| {
            c.batch_execute(&sql)
                .map_err(phantom_domain::error::RepoError::storage)
        })
        .await
        .expect("sql runs");
}

/// A `503` in the readiness shape that does not leak the database URL.
fn assert_unavailable(app: &TestApp, status: StatusCode, answer: &Value) {
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert_eq!(answer["status"], "unavailable", "{answer}");
    let detail = answer["detail"].as_str().expect("detail");
    assert!(!detail.is_empty());
    let text = answer.to_string();
    assert!(
        !text.contains(&app.db.url()) && !text.contains("sqlite://") && !text.contains("postgres"),
        "{text}"
    );
}

#[tokio::test]
async fn healthz_is_ok_with_or_without_the_trailing_slash() {
    let app = spawn_app().await;
    for path in ["/healthz/", "/healthz"] {
        let (status, answer) = probe(&app, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(answer, json!({"status": "ok"}));
    }
    let response = app
        .send(Method::POST, "/healthz/", None, Some(&json!({})))
        .await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn readyz_names_the_backend_of_a_migrated_database() {
    let app = spawn_app().await;
    let backend = if app.db.is_postgres() {
        "postgresql"
    } else {
        "sqlite"
    };
    for path in ["/readyz/", "/readyz"] {
        let (status, answer) = probe(&app, path).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer, json!({"status": "ready", "database": backend}));
    }
}

/// What a server sees when its database lags behind its binary (say, a new release started
/// with migrations skipped): the newest embedded migration is not recorded as applied.
#[tokio::test]
async fn readyz_is_503_while_a_migration_is_pending() {
    let app = spawn_app().await;
    execute(
        &app,
        "DELETE FROM __diesel_schema_migrations \
         WHERE version = (SELECT MAX(version) FROM __diesel_schema_migrations)",
    )
    .await;
    let (status, answer) = probe(&app, "/readyz/").await;
    assert_unavailable(&app, status, &answer);
    assert!(
        answer["detail"]
            .as_str()
            .is_some_and(|d| d.contains("migrations")),
        "{answer}"
    );
    // Liveness does not look at the database.
    assert_eq!(probe(&app, "/healthz/").await.0, StatusCode::OK);
}

/// The database still accepts connections but its queries fail: on PostgreSQL the test's
/// schema is dropped under the running server; on SQLite (whose open connections outlive any
/// change to the file) the migrations table is swapped for a view over a dropped table. Both
/// take the same path as an unreachable server: the readiness query fails.
#[tokio::test]
async fn readyz_is_503_when_the_database_fails() {
    let app = spawn_app().await;
    match &app.db {
        crate::helpers::TestDb::Postgres { schema, .. } => {
            execute(&app, format!("DROP SCHEMA {schema} CASCADE")).await;
        }
        crate::helpers::TestDb::Sqlite(_) => {
            execute(
                &app,
                "CREATE TABLE gone (version TEXT, run_on TIMESTAMP);
                 DROP TABLE __diesel_schema_migrations;
                 CREATE VIEW __diesel_schema_migrations AS SELECT version, run_on FROM gone;
                 DROP TABLE gone;",
            )
            .await;
        }
    }
    let (status, answer) = probe(&app, "/readyz/").await;
    assert_unavailable(&app, status, &answer);
    assert_eq!(answer["detail"], "The database does not answer.");
    assert_eq!(probe(&app, "/healthz/").await.0, StatusCode::OK);
}
