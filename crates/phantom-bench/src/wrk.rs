//! Load from `wrk` (Debian's package): running it and reading its `--latency` report.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};

/// How hard and how long to load the server.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// Open connections.
    pub connections: u32,
    /// Length of each run.
    pub duration: Duration,
}

/// What one `wrk` run measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WrkReport {
    /// Requests per second over the run.
    pub rps: f64,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// Requests completed.
    pub requests: u64,
    /// Answers that were not 2xx or 3xx.
    pub non_2xx: u64,
    /// Socket errors (connect, read, write, timeout) wrk counted.
    pub socket_errors: u64,
}

/// Runs `wrk -t1 --latency` against `url`, with the Lua `script` (if any) and `token` in the
/// script's `BENCH_TOKEN`.
pub fn run(
    url: &str,
    load: Load,
    script: Option<&Path>,
    token: Option<&str>,
) -> anyhow::Result<WrkReport> {
    let env: Vec<(String, String)> = token
        .map(|t| ("BENCH_TOKEN".to_owned(), t.to_owned()))
        .into_iter()
        .collect();
    run_with_env(url, load, script, &env)
}

/// Runs `wrk -t1 --latency` against `url`, with the Lua `script` (if any) and `env` set for it
/// (the script reads its tokens and settings there).
pub fn run_with_env(
    url: &str,
    load: Load,
    script: Option<&Path>,
    env: &[(String, String)],
) -> anyhow::Result<WrkReport> {
    let mut command = Command::new("wrk");
    command
        .arg("-t1")
        .arg(format!("-c{}", load.connections))
        .arg(format!("-d{}s", load.duration.as_secs().max(1)))
        .arg("--timeout")
        .arg("10s")
        .arg("--latency");
    if let Some(script) = script {
        command.arg("-s").arg(script);
    }
    command.envs(env.iter().map(|(k, v)| (k, v)));
    command.arg(url);
    let output = command
        .output()
        .context("cannot run wrk (install it: apt-get install -y wrk)")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "wrk failed: {}{}",
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    parse(&stdout).with_context(|| format!("cannot read wrk's report:\n{stdout}"))
}

/// [`run`] on a blocking thread, so the async threads (which serve the emulator) go on.
pub async fn run_async(
    url: String,
    load: Load,
    script: Option<std::path::PathBuf>,
    token: Option<String>,
) -> anyhow::Result<WrkReport> {
    tokio::task::spawn_blocking(move || run(&url, load, script.as_deref(), token.as_deref()))
        .await
        .context("wrk task failed")?
}

/// [`run_with_env`] on a blocking thread, so the async threads (which serve the emulator) go on.
pub async fn run_with_env_async(
    url: String,
    load: Load,
    script: std::path::PathBuf,
    env: Vec<(String, String)>,
) -> anyhow::Result<WrkReport> {
    tokio::task::spawn_blocking(move || run_with_env(&url, load, Some(&script), &env))
        .await
        .context("wrk task failed")?
}

/// Reads the report `wrk --latency` prints.
pub fn parse(text: &str) -> anyhow::Result<WrkReport> {
    let mut rps = None;
    let mut p50 = None;
    let mut p99 = None;
    let mut requests = None;
    let mut non_2xx = 0;
    let mut socket_errors = 0;
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", value] => rps = Some(value.parse::<f64>()?),
            ["50%", value] => p50 = Some(duration(value)?),
            ["99%", value] => p99 = Some(duration(value)?),
            [count, "requests", "in", ..] => requests = Some(count.parse::<u64>()?),
            ["Non-2xx", "or", "3xx", "responses:", count] => non_2xx = count.parse()?,
            ["Socket", "errors:", rest @ ..] => {
                // "connect 0, read 0, write 0, timeout 0"
                socket_errors = rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum();
            }
            _ => {}
        }
    }
    match (rps, p50, p99, requests) {
        (Some(rps), Some(p50), Some(p99), Some(requests)) => Ok(WrkReport {
            rps,
            p50,
            p99,
            requests,
            non_2xx,
            socket_errors,
        }),
        _ => bail!("missing Requests/sec, 50%, 99% or the request count"),
    }
}

/// `635.91us`, `1.38ms`, `2.01s`, `1.02m` as wrk prints them.
fn duration(text: &str) -> anyhow::Result<Duration> {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .with_context(|| format!("no unit in {text:?}"))?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse()?;
    let seconds = match unit {
        "us" => number / 1e6,
        "ms" => number / 1e3,
        "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        other => bail!("unknown unit {other:?}"),
    };
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "Running 10s test @ http://127.0.0.1:8080/api/events/
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     8.48ms    3.05ms  52.38ms   80.21%
    Req/Sec     1.90k   184.12     2.22k    72.00%
  Latency Distribution
     50%  635.91us
     75%    9.77ms
     90%   11.86ms
     99%    1.02s
  18864 requests in 10.01s, 11.03MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 12
Requests/sec:   1885.12
Transfer/sec:      1.10MB
";

    #[test]
    fn reads_throughput_latency_and_errors() {
        let report = parse(REPORT).unwrap();
        assert_eq!(report.rps, 1885.12);
        let ms = |d: Duration| (d.as_secs_f64() * 1e5).round() / 100.0;
        assert_eq!(ms(report.p50), 0.64);
        assert_eq!(ms(report.p99), 1020.0);
        assert_eq!(report.requests, 18864);
        assert_eq!(report.non_2xx, 12);
        assert_eq!(report.socket_errors, 3);
    }

    #[test]
    fn a_report_without_percentiles_is_refused() {
        let truncated: Vec<&str> = REPORT.lines().filter(|l| !l.contains("99%")).collect();
        let truncated = truncated.join("\n");
        assert!(parse(&truncated).is_err());
        assert!(duration("12.5xs").is_err());
    }
}
