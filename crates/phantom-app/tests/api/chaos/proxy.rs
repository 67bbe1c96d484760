//! A faulty network between `phantom` and the Google emulator: a loopback TCP proxy that,
//! with a seeded RNG, fails a share of the Calendar calls passing through it. It drops some
//! connections before forwarding, forwards some and then drops the connection before the
//! answer (the write is applied, the answer lost), and has the emulator fail others (`503`,
//! `429` with `Retry-After: 1`, applied-then-`503`). It lives in the test process, so it and
//! the emulator survive the `phantom` processes being killed.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use phantom_google_emulator::{Emulator, Fault, FaultAction, Match, Operation, RetryAfter};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Percent of Calendar calls failed, by kind, while chaos is on (30 in all).
const DROP_PERCENT: u32 = 6;
const LOSE_ANSWER_PERCENT: u32 = 6;
const UNAVAILABLE_PERCENT: u32 = 7;
const RATE_LIMITED_PERCENT: u32 = 5;
const APPLY_THEN_503_PERCENT: u32 = 6;

/// Longest a proxied connection may stay silent.
const SOCKET_TIMEOUT: Duration = Duration::from_secs(30);

/// What happened to the Calendar calls that went through the proxy.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tally {
    /// Every call while failing (each HTTP request; the proxy makes each connection carry one).
    pub calls: u64,
    /// Calls after [`FaultyProxy::calm`], none of them failed.
    pub calm_calls: u64,
    /// Connection dropped before the request was forwarded.
    pub dropped: u64,
    /// Forwarded, answered by Google, and the connection dropped before the answer.
    pub answer_lost: u64,
    /// Emulator fault `503`.
    pub unavailable: u64,
    /// Emulator fault `429` with `Retry-After: 1`.
    pub rate_limited: u64,
    /// Emulator fault: applied, then `503`.
    pub applied_then_503: u64,
}

impl Tally {
    /// Calls that failed, whatever the kind.
    pub fn failed(&self) -> u64 {
        self.dropped
            + self.answer_lost
            + self.unavailable
            + self.rate_limited
            + self.applied_then_503
    }
}

/// What the proxy does to one call.
enum Fate {
    Forward,
    Drop,
    LoseAnswer,
    Emulator(FaultAction),
}

struct Shared {
    upstream: SocketAddr,
    emulator: Arc<Emulator>,
    rng: Mutex<StdRng>,
    chaos: AtomicBool,
    stopped: AtomicBool,
    in_flight: AtomicUsize,
    tally: Mutex<Tally>,
}

/// A running proxy; stops accepting when dropped.
pub struct FaultyProxy {
    address: SocketAddr,
    shared: Arc<Shared>,
}

impl FaultyProxy {
    /// Listens on 127.0.0.1 and forwards to `emulator`, failing calls from the start.
    pub fn start(emulator: Arc<Emulator>, seed: u64) -> Self {
        let upstream: SocketAddr = emulator
            .base_url()
            .trim_start_matches("http://")
            .parse()
            .expect("emulator address");
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy binds");
        let address = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared {
            upstream,
            emulator,
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            chaos: AtomicBool::new(true),
            stopped: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            tally: Mutex::new(Tally::default()),
        });
        let accepting = Arc::clone(&shared);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if accepting.stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let shared = Arc::clone(&accepting);
                shared.in_flight.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || {
                    // Errors here are the chaos itself, or `phantom` killed mid-call.
                    let _ = shared.serve(stream);
                    shared.in_flight.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Self { address, shared }
    }

    /// The Calendar API base to give `phantom` (`GOOGLE_CALENDAR_API_URL`).
    pub fn calendar_api_url(&self) -> String {
        format!("http://{}/calendar/v3/", self.address)
    }

    /// From now on every call passes untouched, and no emulator fault is left queued.
    pub fn calm(&self) {
        self.shared.chaos.store(false, Ordering::SeqCst);
        self.shared.emulator.clear_faults();
    }

    /// Calendar calls under way now (a `phantom` process is waiting for their answer).
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight.load(Ordering::SeqCst)
    }

    /// What happened so far.
    pub fn tally(&self) -> Tally {
        *self
            .shared
            .tally
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for FaultyProxy {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.address);
    }
}

impl Shared {
    /// One connection, one call.
    fn serve(&self, mut client: TcpStream) -> io::Result<()> {
        client.set_read_timeout(Some(SOCKET_TIMEOUT))?;
        let (head, body) = read_request(&mut client)?;
        let mut request_line = head.split("\r\n").next().unwrap_or("").split(' ');
        let method = request_line.next().unwrap_or("").to_owned();
        let path = request_line
            .next()
            .unwrap_or("")
            .split('?')
            .next()
            .unwrap_or("")
            .to_owned();
        let fate = self.fate();
        match &fate {
            Fate::Drop => {
                // Closed without a word, as a reset connection looks to the client.
                let _ = client.shutdown(Shutdown::Both);
                return Ok(());
            }
            Fate::Emulator(action) => {
                // The next such call on this path, almost always this one, fails.
                self.emulator.push_fault(Fault::once(
                    Match::operation(operation(&method, &path)).path_contains(path.as_str()),
                    action.clone(),
                ));
            }
            Fate::Forward | Fate::LoseAnswer => {}
        }
        let mut upstream = TcpStream::connect(self.upstream)?;
        upstream.set_read_timeout(Some(SOCKET_TIMEOUT))?;
        upstream.write_all(one_shot(&head).as_bytes())?;
        upstream.write_all(&body)?;
        let mut answer = Vec::new();
        upstream.read_to_end(&mut answer)?;
        if matches!(fate, Fate::LoseAnswer) {
            let _ = client.shutdown(Shutdown::Both);
            return Ok(());
        }
        client.write_all(&answer)?;
        client.flush()
    }

    /// Rolls the dice for one call and counts the outcome.
    fn fate(&self) -> Fate {
        let mut tally = self.tally.lock().unwrap_or_else(PoisonError::into_inner);
        if !self.chaos.load(Ordering::SeqCst) {
            tally.calm_calls += 1;
            return Fate::Forward;
        }
        let roll = self
            .rng
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .random_range(0..100u32);
        tally.calls += 1;
        let mut bound = 0;
        let mut below = |percent: u32| {
            bound += percent;
            roll < bound
        };
        if below(DROP_PERCENT) {
            tally.dropped += 1;
            Fate::Drop
        } else if below(LOSE_ANSWER_PERCENT) {
            tally.answer_lost += 1;
            Fate::LoseAnswer
        } else if below(UNAVAILABLE_PERCENT) {
            tally.unavailable += 1;
            Fate::Emulator(FaultAction::Status {
                code: 503,
                retry_after: None,
            })
        } else if below(RATE_LIMITED_PERCENT) {
            tally.rate_limited += 1;
            Fate::Emulator(FaultAction::Status {
                code: 429,
                retry_after: Some(RetryAfter::Seconds(1)),
            })
        } else if below(APPLY_THEN_503_PERCENT) {
            tally.applied_then_503 += 1;
            Fate::Emulator(FaultAction::ApplyThen503)
        } else {
            Fate::Forward
        }
    }
}

/// The emulator's name for a Calendar call.
fn operation(method: &str, path: &str) -> Operation {
    let collection = path.trim_end_matches('/').ends_with("/events");
    match (method, collection) {
        ("POST", true) => Operation::Insert,
        ("GET", true) => Operation::List,
        ("GET", false) => Operation::Get,
        ("PUT", false) => Operation::Update,
        ("PATCH", false) => Operation::Patch,
        ("DELETE", false) => Operation::Delete,
        _ => Operation::Other,
    }
}

/// The request head with `Connection: close`, so that each connection carries one call and
/// a fate applies to exactly one call.
fn one_shot(head: &str) -> String {
    let mut out: String = head
        .split("\r\n")
        .filter(|line| !line.is_empty() && !line.to_ascii_lowercase().starts_with("connection:"))
        .map(|line| format!("{line}\r\n"))
        .collect();
    out.push_str("Connection: close\r\n\r\n");
    out
}

/// One HTTP/1.1 request: its head (through the blank line) and its body.
fn read_request(stream: &mut TcpStream) -> io::Result<(String, Vec<u8>)> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let mut more = |buffer: &mut Vec<u8>| -> io::Result<()> {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buffer.extend_from_slice(&chunk[..n]);
        Ok(())
    };
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        more(&mut buffer)?;
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let header = |name: &str| {
        head.split("\r\n").find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_ascii_lowercase())
        })
    };
    let chunked = header("transfer-encoding").is_some_and(|v| v.contains("chunked"));
    let length: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    loop {
        let body = &buffer[head_end..];
        let complete = if chunked {
            body.ends_with(b"0\r\n\r\n")
        } else {
            body.len() >= length
        };
        if complete {
            return Ok((head, buffer[head_end..].to_vec()));
        }
        more(&mut buffer)?;
    }
}
