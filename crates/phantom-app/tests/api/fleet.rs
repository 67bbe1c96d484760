//! A fleet as operators run it (PostgreSQL only): two `phantom serve` processes that only
//! answer HTTP, two `phantom worker` processes that deliver, and a load balancer in front
//! (a round-robin TCP proxy here, as nginx would be), with a slice of the end-to-end suite
//! through it.

use std::io;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use phantom_google_emulator::{Emulator, EmulatorConfig};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::binary::{binary_env, start_with, start_worker_with};
use crate::helpers::{self, SECRET, TestApp, TestDb, body, connect_google, event_body};

/// The fleet's token key (base64 of 32 bytes).
const TOKEN_KEY: &str = "QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8=";

/// Hands each connection to the next backend in turn, for as long as the test runs.
fn round_robin(backends: Vec<String>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
    let address = format!("http://{}", listener.local_addr().expect("its address"));
    let served = Arc::new(AtomicUsize::new(0));
    let counter = served.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let backend = backends[n % backends.len()]
                .trim_start_matches("http://")
                .to_owned();
            std::thread::spawn(move || {
                let Ok(server) = TcpStream::connect(&backend) else {
                    return;
                };
                let pipe = |mut from: TcpStream, mut to: TcpStream| {
                    std::thread::spawn(move || {
                        let _ = io::copy(&mut from, &mut to);
                        let _ = to.shutdown(Shutdown::Write);
                    })
                };
                let (Ok(client_in), Ok(server_in)) = (client.try_clone(), server.try_clone())
                else {
                    return;
                };
                let up = pipe(client_in, server);
                let down = pipe(server_in, client);
                let _ = (up.join(), down.join());
            });
        }
    });
    (address, served)
}

/// Register on one server and sign in on the other, connect Google, create an event: a worker
/// delivers it, and either server reads it back synced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_and_two_workers_behind_a_balancer_serve_one_user() {
    let db = TestDb::new();
    if !db.is_postgres() {
        eprintln!("skipped: a fleet needs PostgreSQL");
        return;
    }
    let emulator = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    // Every process of a fleet shares the keys (docs/operations.md), or one server's tokens
    // and states mean nothing to the other.
    let mut env = binary_env(&db, &emulator, 50);
    env.extend([
        ("PHANTOM_SECRET_KEY", SECRET.to_owned()),
        ("PHANTOM_TOKEN_KEY", TOKEN_KEY.to_owned()),
    ]);
    let server_env: Vec<(&str, String)> = env
        .iter()
        .cloned()
        .chain([("PHANTOM_SYNC_WORKER", "off".to_owned())])
        .collect();
    let dirs: Vec<_> = (0..4)
        .map(|_| tempfile::tempdir().expect("tempdir"))
        .collect();
    let first = start_with(dirs[0].path(), &server_env).await;
    let second = start_with(dirs[1].path(), &server_env).await;
    let (balancer, served) = round_robin(vec![first.address.clone(), second.address.clone()]);
    let app = TestApp {
        address: balancer,
        // One connection per request, so that the balancer spreads them.
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .expect("client"),
        db,
    };
    // Declared after `app`, so that they stop before its schema is dropped.
    let _servers = (first, second);
    let _workers = (
        start_worker_with(dirs[2].path(), &env).await,
        start_worker_with(dirs[3].path(), &env).await,
    );

    let user = app.user().await; // register, then log in: one on each server
    connect_google(&app, &user).await;
    let created = app
        .create_event(
            &user,
            &event_body("Exam", "2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z"),
        )
        .await;
    let path = format!("/api/events/{}/", created["id"]);
    let synced = helpers::eventually(
        "a worker delivers it",
        Duration::from_secs(20),
        async || {
            let e = body(app.get(&path, &user.access).await).await;
            (e["sync_status"] == "synced").then_some(e)
        },
    )
    .await;
    let google_id = synced["google_calendar_id"].as_str().expect("in Google");
    let held = emulator
        .event(emulator.default_user(), google_id)
        .expect("Google holds it");
    assert_eq!(held.summary.as_deref(), Some("Exam"));
    for _ in 0..2 {
        let e = body(app.get(&path, &user.access).await).await;
        assert_eq!(
            (e["title"].as_str(), e["sync_status"].as_str()),
            (Some("Exam"), Some("synced"))
        );
    }
    let renamed = app
        .send(
            Method::PATCH,
            &path,
            Some(&user.access),
            Some(&json!({"title": "Exam (room 4)"})),
        )
        .await;
    assert_eq!(renamed.status(), StatusCode::OK);
    helpers::eventually(
        "the edit reaches Google",
        Duration::from_secs(20),
        async || {
            let g = emulator.event(emulator.default_user(), google_id)?;
            (g.summary.as_deref() == Some("Exam (room 4)")).then_some(())
        },
    )
    .await;
    assert!(served.load(Ordering::SeqCst) >= 8, "both servers answered");
}
