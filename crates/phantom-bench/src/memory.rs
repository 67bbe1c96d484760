//! Memory: the server's resident set idle, after one register + login, and over a soak of
//! mixed requests (creates by a connected user whose Google fails half the time, list pages,
//! logins), sampled after every load chunk, with its peak (`VmHWM`).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use phantom_google_emulator::{Emulator, EmulatorConfig, Fault, FaultAction, Match};

use crate::api::{self, Api};
use crate::run::ensure_clean;
use crate::scratch::{Backend, ScratchDb};
use crate::server::Server;
use crate::wrk::{self, Load};

/// How the soak is run.
#[derive(Debug, Clone, Copy)]
pub struct SoakPlan {
    /// Requests to make in all (the last chunk may go a little past).
    pub requests: u64,
    /// Connections and length of each `wrk` chunk; RSS is read after each.
    pub chunk: Load,
    /// One request in this many is a login (an Argon2id verification).
    pub login_every: u32,
    /// Events of the user whose first page is listed.
    pub list_events: usize,
}

/// RSS after one chunk of the soak.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Requests answered so far.
    pub requests: u64,
    /// `VmRSS` after the chunk, in bytes.
    pub rss: u64,
    /// Whether Google answered 503 to everything during the chunk.
    pub google_failing: bool,
}

/// What the memory section measured.
#[derive(Debug, Clone)]
pub struct Memory {
    /// `VmRSS` 2 s after the server answered its first `/healthz/`.
    pub idle: u64,
    /// `VmRSS` after one register and one login (two Argon2id hashes).
    pub after_login: u64,
    /// `VmRSS` when the soak's load starts (users made, Google connected, the list seeded).
    pub start: u64,
    /// One sample per chunk, in order.
    pub samples: Vec<Sample>,
    /// `VmHWM` at the end: the peak over the server's whole life.
    pub peak: u64,
    /// The plan it ran.
    pub plan: SoakPlan,
    /// Wall time of the soak's load.
    pub elapsed: Duration,
}

impl Memory {
    /// The first sample at or past a tenth of the requests.
    pub fn at_tenth(&self) -> Option<Sample> {
        let tenth = self.plan.requests / 10;
        self.samples.iter().copied().find(|s| s.requests >= tenth)
    }

    /// The last sample.
    pub fn end(&self) -> Option<Sample> {
        self.samples.last().copied()
    }

    /// End RSS over RSS after the first tenth (the goal: at most 1.05).
    pub fn growth(&self) -> Option<f64> {
        let (tenth, end) = (self.at_tenth()?, self.end()?);
        (tenth.rss > 0).then(|| end.rss as f64 / tenth.rss as f64)
    }
}

/// The memory figures on SQLite: a fresh database and server, the emulator in-process.
pub async fn run(plan: SoakPlan, binary: &Path, scripts: &Path) -> anyhow::Result<Memory> {
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    let db = ScratchDb::create(&Backend::Sqlite, "memory")?;
    let server = Server::start(binary, &db.url(), &emulator).await?;
    let api = Api::new(&server.base_url)?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = server.rss()?;

    let lister = api.user("mem-lister").await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after_login = server.rss()?;

    let creator_name = "mem-creator";
    let creator = api.user(creator_name).await?;
    api.connect_google(&creator, &emulator, "memory@bench.example")
        .await?;
    api.create_many(&lister, "Listed", plan.list_events, 16)
        .await?;
    let start = server.rss()?;

    let script = scripts.join("soak.lua");
    let url = format!("{}/", server.base_url);
    let began = Instant::now();
    let mut samples = Vec::new();
    let mut done = 0;
    let failing = Fault::always(
        Match::any(),
        FaultAction::Status {
            code: 503,
            retry_after: None,
        },
    );
    while done < plan.requests {
        // Google fails every other chunk: half the time.
        let google_failing = samples.len() % 2 == 1;
        if google_failing {
            emulator.push_fault(failing.clone());
        } else {
            emulator.clear_faults();
        }
        // Access tokens last minutes; the soak may last longer.
        let (creator, lister) = (
            api.login(creator_name).await?,
            api.login("mem-lister").await?,
        );
        let env = vec![
            ("BENCH_TOKEN".to_owned(), creator.access),
            ("BENCH_LIST_TOKEN".to_owned(), lister.access),
            ("BENCH_USERNAME".to_owned(), "mem-lister".to_owned()),
            ("BENCH_PASSWORD".to_owned(), api::PASSWORD.to_owned()),
            ("BENCH_LOGIN_EVERY".to_owned(), plan.login_every.to_string()),
        ];
        let report = wrk::run_with_env_async(url.clone(), plan.chunk, script.clone(), env)
            .await
            .context("soak chunk")?;
        ensure_clean("soak chunk", &report)?;
        done += report.requests + 2;
        let rss = server.rss()?;
        eprintln!(
            "  soak: {done} requests, RSS {:.1} MiB{}",
            rss as f64 / 1_048_576.0,
            if google_failing { " (Google 503)" } else { "" }
        );
        samples.push(Sample {
            requests: done,
            rss,
            google_failing,
        });
    }
    emulator.clear_faults();
    let elapsed = began.elapsed();
    let peak = server.peak_rss()?;
    server.stop().await?;
    emulator.shutdown().await;
    drop(db);
    Ok(Memory {
        idle,
        after_login,
        start,
        samples,
        peak,
        plan,
        elapsed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory(samples: &[(u64, u64)]) -> Memory {
        Memory {
            idle: 1,
            after_login: 2,
            start: 3,
            samples: samples
                .iter()
                .map(|&(requests, rss)| Sample {
                    requests,
                    rss,
                    google_failing: false,
                })
                .collect(),
            peak: 9,
            plan: SoakPlan {
                requests: 1000,
                chunk: Load {
                    connections: 16,
                    duration: Duration::from_secs(1),
                },
                login_every: 200,
                list_events: 10,
            },
            elapsed: Duration::from_secs(1),
        }
    }

    #[test]
    fn the_tenth_is_the_first_sample_past_it_and_growth_compares_the_end() {
        let m = memory(&[(40, 10), (120, 20), (600, 21), (1010, 22)]);
        assert_eq!(m.at_tenth().map(|s| s.requests), Some(120));
        assert_eq!(m.end().map(|s| s.requests), Some(1010));
        assert_eq!(m.growth(), Some(22.0 / 20.0));
        assert_eq!(memory(&[]).growth(), None);
    }
}
