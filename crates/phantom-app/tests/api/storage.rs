//! What the API cannot show directly: migrations agree across backends, and event writes and
//! their outbox rows commit together.

use std::collections::BTreeSet;
use std::path::Path;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use phantom_adapters::db::schema::{events, sync_outbox, users};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, TestDb, body, event_body, spawn_app};

fn migration_names(backend: &str) -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../migrations")
        .join(backend);
    std::fs::read_dir(&dir)
        .expect("migrations folder")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[derive(QueryableByName, PartialEq, Eq, PartialOrd, Ord, Debug)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
}

const SQLITE_COLUMNS: &str = "SELECT m.name AS table_name, p.name AS column_name \
     FROM sqlite_master m JOIN pragma_table_info(m.name) p \
     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '__diesel_schema_migrations'";
const PG_COLUMNS: &str = "SELECT table_name::text AS table_name, column_name::text AS column_name \
     FROM information_schema.columns \
     WHERE table_schema = current_schema() AND table_name <> '__diesel_schema_migrations'";

#[tokio::test]
async fn both_backends_have_the_same_migrations_tables_and_columns() {
    assert_eq!(migration_names("sqlite"), migration_names("postgres"));

    let sqlite_dir = tempfile::tempdir().expect("tempdir");
    let sqlite_url = format!("sqlite://{}/parity.db", sqlite_dir.path().display());
    let sqlite_db = phantom_app::startup::open_database(&sqlite_url)
        .await
        .expect("sqlite");
    drop(sqlite_db);
    let mut sqlite =
        SqliteConnection::establish(&format!("{}/parity.db", sqlite_dir.path().display()))
            .expect("open sqlite");
    let mut sqlite_columns: Vec<Column> = diesel::sql_query(SQLITE_COLUMNS)
        .load(&mut sqlite)
        .expect("sqlite columns");
    sqlite_columns.sort();
    let tables: BTreeSet<&str> = sqlite_columns
        .iter()
        .map(|c| c.table_name.as_str())
        .collect();
    assert_eq!(
        tables,
        BTreeSet::from([
            "blacklisted_tokens",
            "categories",
            "event_occurrences",
            "event_stats",
            "events",
            "google_channels",
            "google_revocations",
            "google_tombstones",
            "oauth_states",
            "sync_outbox",
            "sync_workers",
            "users"
        ])
    );

    // The PostgreSQL half needs a server: it runs in the PostgreSQL pass of the suite.
    let pg = TestDb::new();
    if !pg.is_postgres() {
        return;
    }
    phantom_app::startup::open_database(&pg.url())
        .await
        .expect("postgres");
    let mut conn = PgConnection::establish(&pg.url()).expect("open postgres");
    let mut pg_columns: Vec<Column> = diesel::sql_query(PG_COLUMNS)
        .load(&mut conn)
        .expect("pg columns");
    pg_columns.sort();
    assert_eq!(sqlite_columns, pg_columns);
}

/// Marks the user as connected to Google Calendar, as the connection flow will.
async fn connect_google(app: &TestApp, user_id: i64) {
    app.database()
        .await
        .write(move |c| {
            diesel::update(users::table.find(user_id))
                .set(users::google_calendar_token.eq("encrypted-token-placeholder"))
                .execute(c)
                .map_err(phantom_domain::error::RepoError::storage)
        })
        .await
        .expect("mark connected");
}

async fn outbox(app: &TestApp) -> Vec<(i64, String, i32)> {
    app.database()
        .await
        .read(|c| {
            sync_outbox::table
                .select((
                    sync_outbox::event_id,
                    sync_outbox::operation,
                    sync_outbox::version,
                ))
                .order(sync_outbox::id)
                .load(c)
                .map_err(phantom_domain::error::RepoError::storage)
        })
        .await
        .expect("outbox")
}

#[tokio::test]
async fn writes_of_a_connected_user_queue_one_collapsing_outbox_row() {
    let app = spawn_app().await;
    let offline = app.user().await;
    let online = app.user().await;
    connect_google(&app, online.id).await;

    let window = ("2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z");
    let quiet = app
        .create_event(&offline, &event_body("Offline", window.0, window.1))
        .await;
    assert_eq!(quiet["sync_status"], "not_connected");
    assert!(
        outbox(&app).await.is_empty(),
        "a user without Google got an outbox row"
    );

    let event = app
        .create_event(&online, &event_body("Online", window.0, window.1))
        .await;
    assert_eq!(event["sync_status"], "pending");
    let id = event["id"].as_i64().expect("id");
    assert_eq!(outbox(&app).await, [(id, "upsert".to_owned(), 1)]);

    let path = format!("/api/events/{id}/");
    for title in ["Edit 1", "Edit 2"] {
        let patched = app
            .send(
                Method::PATCH,
                &path,
                Some(&online.access),
                Some(&json!({"title": title})),
            )
            .await;
        assert_eq!(body(patched).await["sync_status"], "pending");
    }
    assert_eq!(
        outbox(&app).await,
        [(id, "upsert".to_owned(), 3)],
        "edits did not collapse"
    );

    let deleted = app
        .send(Method::DELETE, &path, Some(&online.access), None)
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        outbox(&app).await,
        [(id, "delete".to_owned(), 4)],
        "delete did not supersede"
    );
}

#[tokio::test]
async fn an_outbox_failure_rolls_the_event_back_and_answers_a_generic_500() {
    let app = spawn_app().await;
    let user = app.user().await;
    connect_google(&app, user.id).await;
    let trigger = if app.db.is_postgres() {
        "CREATE FUNCTION fail_outbox() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$ LANGUAGE plpgsql;
         CREATE TRIGGER fail_outbox BEFORE INSERT ON sync_outbox FOR EACH ROW EXECUTE FUNCTION fail_outbox();"
    } else {
        "CREATE TRIGGER fail_outbox BEFORE INSERT ON sync_outbox BEGIN SELECT RAISE(ABORT, 'injected fault'); END;"
    };
    app.database()
        .await
        .write(move |c| {
            c.batch_execute(trigger)
                .map_err(phantom_domain::error::RepoError::storage)
        })
        .await
        .expect("install trigger");

    let response = app
        .post(
            "/api/events/",
            Some(&user.access),
            &event_body("Doomed", "2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let error = body(response).await;
    assert_eq!(error, json!({"detail": "A server error occurred."}));

    let stored: i64 = app
        .database()
        .await
        .read(|c| {
            events::table
                .count()
                .get_result(c)
                .map_err(phantom_domain::error::RepoError::storage)
        })
        .await
        .expect("count");
    assert_eq!(stored, 0, "the event outlived its failed outbox write");
}

/// Two servers started at the same moment on one empty PostgreSQL database (as a fleet's
/// servers do after a deploy) both come up; the schema is made once (the migrations take a
/// PostgreSQL advisory lock in turn), and what one server stores the other serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_starting_at_once_on_an_empty_database_both_come_up() {
    let db = TestDb::new();
    if !db.is_postgres() {
        eprintln!("skipped: one SQLite file has one server");
        return;
    }
    let settings = || {
        let mut s = crate::helpers::test_settings(&db.url());
        s.sync.in_server = false;
        s
    };
    let (first, second) = tokio::join!(
        phantom_app::startup::Application::build(settings()),
        phantom_app::startup::Application::build(settings()),
    );
    let (first, second) = (
        first.expect("the first server"),
        second.expect("the second"),
    );
    let addresses = [first.port(), second.port()].map(|p| format!("http://127.0.0.1:{p}"));
    tokio::spawn(first.run_until_stopped());
    tokio::spawn(second.run_until_stopped());

    let applied: i64 = {
        let mut c = PgConnection::establish(&db.url()).expect("connect");
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        diesel::sql_query("SELECT COUNT(*) AS n FROM __diesel_schema_migrations")
            .get_result::<Count>(&mut c)
            .expect("count")
            .n
    };
    assert_eq!(applied as usize, migration_names("postgres").len());

    // Registered on one, signed in on the other, an event made on the first read on the
    // second.
    let [one, other] = addresses;
    let client = crate::helpers::http_client();
    let credentials = json!({"username": "fleet", "password": crate::helpers::PASSWORD});
    let registered = client
        .post(format!("{one}/api/auth/register/"))
        .json(&credentials)
        .send()
        .await
        .expect("register");
    assert_eq!(registered.status(), StatusCode::CREATED);
    let tokens = body(
        client
            .post(format!("{other}/api/auth/login/"))
            .json(&credentials)
            .send()
            .await
            .expect("login"),
    )
    .await;
    let access = tokens["access"].as_str().expect("an access token");
    let created = client
        .post(format!("{one}/api/events/"))
        .bearer_auth(access)
        .json(&event_body(
            "Exam",
            "2026-11-24T09:00:00Z",
            "2026-11-24T10:00:00Z",
        ))
        .send()
        .await
        .expect("create");
    assert_eq!(created.status(), StatusCode::CREATED);
    let id = body(created).await["id"].clone();
    let served = client
        .get(format!("{other}/api/events/{id}/"))
        .bearer_auth(access)
        .send()
        .await
        .expect("read");
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(body(served).await["title"], "Exam");
}
