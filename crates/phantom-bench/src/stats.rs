//! Pure figures: percentiles and the busiest sliding window of a series of timestamps.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The `p`-th percentile (0–100) of `samples` by the nearest-rank method; `None` when empty.
pub fn percentile(samples: &[Duration], p: f64) -> Option<Duration> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    // Nearest rank: the smallest value with at least p% of the samples at or below it.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// The largest number of `times` inside any window of length `window` (a window starting at
/// each time, which is where the maximum of a sliding count is always reached).
pub fn peak_in_window(times: &[DateTime<Utc>], window: Duration) -> usize {
    let Ok(window) = chrono::Duration::from_std(window) else {
        return times.len();
    };
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    let mut peak = 0;
    let mut end = 0;
    for (start, at) in sorted.iter().enumerate() {
        while end < sorted.len() && sorted[end] - *at < window {
            end += 1;
        }
        peak = peak.max(end - start);
    }
    peak
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|v| Duration::from_millis(*v)).collect()
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let samples = ms(&[50, 10, 40, 20, 30, 60, 70, 80, 90, 100]);
        assert_eq!(percentile(&samples, 50.0), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&samples, 95.0), Some(Duration::from_millis(100)));
        assert_eq!(percentile(&samples, 10.0), Some(Duration::from_millis(10)));
        assert_eq!(percentile(&samples, 0.0), Some(Duration::from_millis(10)));
        assert_eq!(percentile(&ms(&[7]), 99.0), Some(Duration::from_millis(7)));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn the_peak_window_counts_the_busiest_minute() {
        let base = DateTime::parse_from_rfc3339("2026-11-24T00:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        let at = |s: i64| base + chrono::Duration::seconds(s);
        // 3 calls in the first minute, then 4 within 59 s of each other, then one a minute on.
        let times = [
            at(0),
            at(10),
            at(20),
            at(70),
            at(80),
            at(100),
            at(129),
            at(200),
        ];
        assert_eq!(peak_in_window(&times, Duration::from_secs(60)), 4);
        // A call exactly one window later is not in the same window.
        assert_eq!(peak_in_window(&[at(0), at(60)], Duration::from_secs(60)), 1);
        assert_eq!(peak_in_window(&[], Duration::from_secs(60)), 0);
        assert_eq!(peak_in_window(&times, Duration::from_secs(1000)), 8);
    }
}
