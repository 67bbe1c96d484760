//! Chaos, sized for CI: several users create, edit and delete events over HTTP while about
//! a third of the Calendar calls fail (`503`, `429` with `Retry-After`, answers lost after the
//! write was applied, dropped connections) and the real `phantom` binary is killed with
//! `SIGKILL` several times and restarted on the same database. On PostgreSQL the server
//! only serves (`PHANTOM_SYNC_WORKER=off`) and two `phantom worker` processes deliver the
//! queue; one of them is killed mid-queue and the other takes over its users. Once the
//! faults stop and the queue drains, Google holds exactly what the API acknowledged.
//!
//! The seed is printed; `PHANTOM_CHAOS_SEED=<n>` replays a run's workload, fault rolls and
//! kill times (the interleaving with the processes is up to the scheduler).

mod check;
mod editor;
mod proxy;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use phantom_google_emulator::{Emulator, EmulatorConfig, Operation};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tempfile::TempDir;
use tokio::sync::watch;
use tokio::task::JoinSet;

use self::check::{check_user, list_events};
use self::editor::{Api, Model, Target, edit};
use self::proxy::{FaultyProxy, Tally};
use crate::binary::{Server, start_with, start_worker_with};
use crate::helpers::{REDIRECT_URI, SECRET, TestApp, TestDb, TestUser, body, connect_google};

/// Users editing at the same time, each with a Google account of their own.
const USERS: usize = 4;
/// How long the users keep editing (each makes at most `editor::MAX_CHANGES`).
const WORKLOAD: Duration = Duration::from_secs(30);
/// `SIGKILL`s of the server during the workload.
const SERVER_KILLS: usize = 4;
/// How long the queue may take to drain once the faults stop: a killed worker's rows wait
/// out their lease first.
const DRAIN: Duration = Duration::from_secs(90);
/// How many problems a failure lists.
const SHOWN: usize = 40;
/// The token-encryption key every process shares (base64 of 32 bytes).
const TOKEN_KEY: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

/// Property: whatever the failures and crashes on the way, every event the API acknowledged
/// and did not delete is in Google exactly once, under its `google_calendar_id`, with its
/// final title, description, start, end and colour; every deleted one is gone; Google holds
/// nothing else for these users; and nothing is left pending or failed, nor in the outbox.
/// On PostgreSQL two `phantom worker` processes deliver the queue, and one of them is killed
/// mid-queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_every_acknowledged_change_reaches_google_exactly_once() {
    let seed = std::env::var("PHANTOM_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    let began = Instant::now();
    let emulator = Arc::new(
        Emulator::start(EmulatorConfig::default())
            .await
            .expect("emulator"),
    );
    let proxy = FaultyProxy::start(Arc::clone(&emulator), seed);
    let db = TestDb::new();
    let db_is_postgres = db.is_postgres();
    let backend = if db_is_postgres {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!("chaos: seed {seed} ({backend}); replay with PHANTOM_CHAOS_SEED={seed}");
    let env = [
        ("DATABASE_URL", db.url()),
        ("PHANTOM_SECRET_KEY", SECRET.to_owned()),
        ("PHANTOM_TOKEN_KEY", TOKEN_KEY.to_owned()),
        ("GOOGLE_CLIENT_ID", emulator.client_id().to_owned()),
        ("GOOGLE_CLIENT_SECRET", emulator.client_secret().to_owned()),
        ("GOOGLE_REDIRECT_URI", REDIRECT_URI.to_owned()),
        ("GOOGLE_AUTH_URL", emulator.auth_url()),
        ("GOOGLE_TOKEN_URL", emulator.token_url()),
        ("GOOGLE_REVOKE_URL", emulator.revoke_url()),
        ("GOOGLE_CALENDAR_API_URL", proxy.calendar_api_url()),
        ("PHANTOM_AUTH_RATE_PER_MINUTE", "0".to_owned()),
        ("PHANTOM_SYNC_RETRY_BASE_MS", "50".to_owned()),
    ];
    // On PostgreSQL the server only serves: the two workers deliver everything, so the one
    // killed holds users when it dies.
    let server_env: Vec<(&str, String)> = if db_is_postgres {
        env.iter()
            .cloned()
            .chain([("PHANTOM_SYNC_WORKER", "off".to_owned())])
            .collect()
    } else {
        env.to_vec()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start_with(dir.path(), &server_env).await;
    let mut app = TestApp {
        address: server.address.clone(),
        client: crate::helpers::http_client(),
        db,
    };
    // Declared after `app`, so that they are stopped before its schema is dropped.
    let mut workers = Vec::new();
    if app.db.is_postgres() {
        for _ in 0..2 {
            let dir = tempfile::tempdir().expect("tempdir");
            let worker = start_worker_with(dir.path(), &env).await;
            workers.push((worker, dir));
        }
    }

    // Each user connects their own Google account before anything fails.
    let mut users = Vec::new();
    for n in 0..USERS {
        let owner = format!("chaos{n}.{}@gmail.com", uuid::Uuid::new_v4().simple());
        emulator.set_signed_in_user(&owner);
        let user = app.user().await;
        connect_google(&app, &user).await;
        users.push((user, owner));
    }

    let (target_tx, target) = watch::channel(Target {
        address: Some(server.address.clone()),
        generation: 0,
    });
    let api = Api {
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            // A new connection per request: a restarted server may get the old port back.
            .pool_max_idle_per_host(0)
            .build()
            .expect("client"),
        target,
        in_flight: Arc::new(AtomicUsize::new(0)),
    };
    let workload_began = Instant::now();
    let until = workload_began + WORKLOAD;
    let mut editors = JoinSet::new();
    for (n, (user, _)) in users.iter().enumerate() {
        let rng = StdRng::seed_from_u64(seed.wrapping_add(100 + n as u64));
        editors.spawn(edit(api.clone(), user.access.clone(), n, rng, until));
    }
    let killer_rng = StdRng::seed_from_u64(seed.wrapping_add(1));
    let (server_kills, models, worker_kill) = tokio::join!(
        kill_and_restart(
            server,
            dir.path(),
            &server_env,
            target_tx,
            killer_rng,
            &api,
            &proxy
        ),
        async {
            let mut models = BTreeMap::new();
            while let Some(done) = editors.join_next().await {
                let (n, model) = done.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
                models.insert(n, model);
            }
            models
        },
        kill_worker_mid_queue(&mut workers),
    );
    let workload_took = workload_began.elapsed();
    let (server, kills) = server_kills;

    proxy.calm();
    app.address = server.address.clone();
    let drain_began = Instant::now();
    let drained = until_drained(&app, &users, DRAIN).await;
    let drain_took = drain_began.elapsed();

    let mut problems = Vec::new();
    if let Err(why) = drained {
        problems.push(format!("not drained after {DRAIN:?}: {why}"));
    }
    for (n, (user, owner)) in users.iter().enumerate() {
        let api_events = list_events(&app, user).await;
        check_user(
            n,
            &models[&n],
            &api_events,
            &emulator.events(owner),
            &mut problems,
        );
    }

    let tally = proxy.tally();
    let mut deliveries = vec![("the server".to_owned(), delivered(dir.path()))];
    for (n, (_, dir)) in workers.iter().enumerate() {
        let killed = if worker_kill.is_some_and(|(victim, _)| victim == n) {
            " (killed)"
        } else {
            ""
        };
        deliveries.push((format!("worker {}{killed}", n + 1), delivered(dir.path())));
    }
    report(
        &tally,
        &emulator,
        &models,
        &kills,
        &deliveries,
        worker_kill,
        [workload_took, drain_took, began.elapsed()],
    );
    assert!(
        problems.is_empty(),
        "seed {seed} ({backend}): {} problems (the first {SHOWN}):\n{}",
        problems.len(),
        problems[..problems.len().min(SHOWN)].join("\n")
    );
    // At least one call in five failed, or the test proves less than it claims.
    assert!(
        tally.failed() * 5 >= tally.calls,
        "only {} of {} calls failed",
        tally.failed(),
        tally.calls
    );
    drop(workers);
    drop(server);
}

/// What was under way when the server was killed.
#[derive(Debug, Clone, Copy)]
struct Kill {
    /// API requests.
    requests: usize,
    /// Calendar calls.
    calls: usize,
}

/// Kills the server `SERVER_KILLS` times at random moments spread over the workload, each time
/// (if it comes within half a second) while a Calendar call or an API request is under way, and
/// restarts it on the same database; returns the last one.
async fn kill_and_restart(
    mut server: Server,
    dir: &Path,
    env: &[(&str, String)],
    target: watch::Sender<Target>,
    mut rng: StdRng,
    api: &Api,
    proxy: &FaultyProxy,
) -> (Server, Vec<Kill>) {
    let mut kills = Vec::new();
    let began = tokio::time::Instant::now();
    // The last kill lands well before the users stop.
    let slot = WORKLOAD.mul_f64(0.85) / u32::try_from(SERVER_KILLS).expect("few");
    for kill in 0..SERVER_KILLS {
        let at = began
            + slot * u32::try_from(kill).expect("few")
            + slot.mul_f64(rng.random_range(0.2..0.9));
        tokio::time::sleep_until(at).await;
        // Every other kill catches a Calendar call under way, the others an API request.
        let busy = || {
            if kill % 2 == 0 {
                proxy.in_flight() > 0
            } else {
                api.in_flight.load(Ordering::SeqCst) > 0
            }
        };
        let wait = Instant::now() + Duration::from_millis(500);
        while !busy() && Instant::now() < wait {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        kills.push(Kill {
            requests: api.in_flight.load(Ordering::SeqCst),
            calls: proxy.in_flight(),
        });
        target.send_modify(|t| t.address = None);
        server.kill_now();
        server = start_with(dir, env).await;
        target.send_modify(|t| {
            t.address = Some(server.address.clone());
            t.generation += 1;
        });
    }
    (server, kills)
}

/// Rows the `phantom` process logging to `dir` has delivered to Google so far.
fn delivered(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("logs/phantom.log"))
        .unwrap_or_default()
        .lines()
        .filter(|line| line.contains("synced to Google Calendar"))
        .count()
}

/// On PostgreSQL, a third into the workload, kills with `SIGKILL` the first of `workers` to
/// deliver a row from then on (so that it holds the rest of its claimed batch), or the first
/// one if none does before the workload ends; returns which one it killed and how many rows
/// it had delivered.
async fn kill_worker_mid_queue(workers: &mut [(Server, TempDir)]) -> Option<(usize, usize)> {
    if workers.is_empty() {
        return None;
    }
    tokio::time::sleep(WORKLOAD / 3).await;
    let before: Vec<usize> = workers
        .iter()
        .map(|(_, dir)| delivered(dir.path()))
        .collect();
    let deadline = Instant::now() + WORKLOAD / 2;
    let victim = loop {
        let busy = workers
            .iter()
            .zip(&before)
            .position(|((_, dir), before)| delivered(dir.path()) > *before);
        match busy {
            Some(victim) => break victim,
            None if Instant::now() >= deadline => break 0,
            None => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    };
    let (worker, dir) = &mut workers[victim];
    worker.kill_now();
    Some((victim, delivered(dir.path())))
}

/// Waits up to `limit` for every user's queue to be empty: nothing pending or failed, no
/// outbox row left (deletes included). `Err` says what is still there.
async fn until_drained(
    app: &TestApp,
    users: &[(TestUser, String)],
    limit: Duration,
) -> Result<(), String> {
    let database = app.database().await;
    let deadline = Instant::now() + limit;
    loop {
        let mut left = Vec::new();
        for (user, _) in users {
            let status = body(
                app.get("/api/integrations/google-calendar/status/", &user.access)
                    .await,
            )
            .await;
            let sync = &status["sync"];
            if sync["pending"] != 0 || sync["failed"] != 0 {
                left.push(format!("user {}: {sync}", user.id));
            }
        }
        let outbox = database
            .outbox_stats(Utc::now())
            .await
            .expect("outbox stats");
        if outbox.depth > 0 {
            left.push(format!("outbox: {outbox:?}"));
        }
        if left.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(left.join("; "));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Prints what happened, so the figures can be quoted.
fn report(
    tally: &Tally,
    emulator: &Emulator,
    models: &BTreeMap<usize, Model>,
    kills: &[Kill],
    deliveries: &[(String, usize)],
    worker_kill: Option<(usize, usize)>,
    [workload, drain, total]: [Duration; 3],
) {
    let percent = |part: u64| 100.0 * part as f64 / tally.calls.max(1) as f64;
    println!(
        "chaos: {} Calendar calls while failing, {} failed ({:.0}%): {} connections dropped, {} \
         answers lost after the write, {} 503, {} 429 + Retry-After, {} applied then 503; then {} \
         calls while draining",
        tally.calls,
        tally.failed(),
        percent(tally.failed()),
        tally.dropped,
        tally.answer_lost,
        tally.unavailable,
        tally.rate_limited,
        tally.applied_then_503,
        tally.calm_calls
    );
    let log = emulator.request_log();
    let calendar: Vec<_> = log
        .iter()
        .filter(|r| {
            matches!(
                r.operation,
                Operation::Insert | Operation::Update | Operation::Patch | Operation::Delete
            )
        })
        .collect();
    let count = |status: u16| calendar.iter().filter(|r| r.status == status).count();
    println!(
        "chaos: the emulator answered {} writes: {} 200, {} 204, {} 409, {} 404/410, {} 503, {} 429",
        calendar.len(),
        count(200),
        count(204),
        count(409),
        count(404) + count(410),
        count(503),
        count(429)
    );
    // After a kill, the dead process's leased rows (and their users' later rows) wait out
    // the lease: the longest silence shows it.
    let mut times: Vec<_> = calendar.iter().map(|r| r.at).collect();
    times.push(Utc::now());
    let longest_silence = times
        .windows(2)
        .map(|pair| pair[1] - pair[0])
        .max()
        .unwrap_or_default();
    println!(
        "chaos: longest pause in Calendar writes (the last one until now included): {:.1} s",
        longest_silence.as_seconds_f64()
    );
    let sum = |f: fn(&Model) -> usize| models.values().map(f).sum::<usize>();
    println!(
        "chaos: {} users made {} changes ({} events live, {} deleted); {} server kills with \
         {} API requests and {} Calendar calls under way; {} requests lost (sent again), {} of them \
         found done after the restart",
        models.len(),
        sum(|m| m.changes),
        sum(|m| m.live.len()),
        sum(|m| m.deleted.len()),
        kills.len(),
        kills.iter().map(|k| k.requests).sum::<usize>(),
        kills.iter().map(|k| k.calls).sum::<usize>(),
        sum(|m| m.lost),
        sum(|m| m.done_before_kill)
    );
    if let Some((victim, rows)) = worker_kill {
        println!(
            "chaos: `phantom worker` {} killed after delivering {rows} rows",
            victim + 1
        );
    }
    let deliveries: Vec<String> = deliveries
        .iter()
        .map(|(who, rows)| format!("{who} {rows}"))
        .collect();
    println!("chaos: rows delivered: {}", deliveries.join(", "));
    println!(
        "chaos: workload {:.1} s, drain {:.1} s, total {:.1} s",
        workload.as_secs_f64(),
        drain.as_secs_f64(),
        total.as_secs_f64()
    );
}
