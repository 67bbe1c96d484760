//! An independent expander for a subset of rules (DAILY, WEEKLY+BYDAY, MONTHLY+BYMONTHDAY,
//! INTERVAL, COUNT, UNTIL, EXDATE), walking local dates one by one, against which the real
//! expansion is compared.

use chrono::{Datelike, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc, Weekday};
use proptest::prelude::*;

use super::super::*;
use super::date;

const ZONES: [&str; 4] = [
    "Europe/London",
    "America/New_York",
    "Australia/Sydney",
    "Asia/Tokyo",
];
/// Local times that exist once, twice or not at all on clock-change days in those zones.
const TIMES: [(u32, u32); 6] = [(0, 0), (1, 30), (2, 30), (9, 0), (12, 15), (23, 30)];
const DAYS: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

#[derive(Debug, Clone)]
enum Kind {
    Daily,
    Weekly(Vec<Weekday>),
    Monthly(Vec<u32>),
}

#[derive(Debug, Clone)]
enum End {
    Never,
    Count(u32),
    /// Hours after the start.
    Until(i64),
}

#[derive(Debug, Clone)]
struct Case {
    zone: &'static str,
    start: NaiveDateTime,
    minutes: i64,
    kind: Kind,
    interval: u32,
    end: End,
    /// Which of the occurrences the reference finds (modulo their number) to exclude.
    exdates: Vec<usize>,
    /// Window start, days after the series' start (far ones make the expansion skip ahead).
    from_days: i64,
    window_days: i64,
}

fn case() -> impl Strategy<Value = Case> {
    let kind = prop_oneof![
        Just(Kind::Daily),
        proptest::sample::subsequence(DAYS.to_vec(), 1..=3).prop_map(Kind::Weekly),
        proptest::collection::btree_set(1_u32..=31, 1..=3)
            .prop_map(|days| Kind::Monthly(days.into_iter().collect())),
    ];
    let end = prop_oneof![
        Just(End::Never),
        (1_u32..=60).prop_map(End::Count),
        (0_i64..=12_000).prop_map(End::Until),
    ];
    (
        (0..ZONES.len(), 0_i64..730, 0..TIMES.len(), 1_i64..=1_500),
        (kind, 1_u32..=4, end),
        (
            proptest::collection::vec(0_usize..1_000, 0..4),
            prop_oneof![-30_i64..400, 400_i64..4_000],
            1_i64..=400,
        ),
    )
        .prop_map(
            |((z, day, t, minutes), (kind, interval, end), (exdates, from_days, window_days))| {
                let (h, m) = TIMES[t];
                let date = date(2026, 1, 1) + TimeDelta::days(day);
                Case {
                    zone: ZONES[z],
                    start: date.and_time(NaiveTime::from_hms_opt(h, m, 0).expect("time")),
                    minutes,
                    kind,
                    interval,
                    end,
                    exdates,
                    from_days,
                    window_days,
                }
            },
        )
}

fn monday_of(d: chrono::NaiveDate) -> chrono::NaiveDate {
    d - TimeDelta::days(i64::from(d.weekday().num_days_from_monday()))
}

fn months(d: chrono::NaiveDate) -> i64 {
    i64::from(d.year()) * 12 + i64::from(d.month0())
}

/// The rule's starts up to `until_walk`, by walking local dates: the series' start, then
/// every later existing local time on a matching date (RFC 5545: a skipped local time is
/// none, a repeated one the first), `COUNT`/`UNTIL` applied (`COUNT` counting the start only
/// when it is on the rule).
fn reference_starts(c: &Case, until_walk: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let tz: chrono_tz::Tz = c.zone.parse().expect("zone");
    let d0 = c.start.date();
    let first = tz
        .from_local_datetime(&c.start)
        .earliest()
        .expect("an existing start")
        .with_timezone(&Utc);
    let interval = i64::from(c.interval);
    let until = match c.end {
        End::Until(hours) => Some(first + TimeDelta::hours(hours)),
        _ => None,
    };
    // A start off the rule is shown and not counted (Google's reading, see the module doc
    // of `recurrence`).
    let start_matches = match &c.kind {
        Kind::Daily => true,
        Kind::Weekly(days) => days.contains(&d0.weekday()),
        Kind::Monthly(days) => days.contains(&d0.day()),
    };
    let mut out = vec![first];
    let mut day = d0;
    loop {
        if let End::Count(n) = c.end
            && out.len() - usize::from(!start_matches) >= n as usize
        {
            break;
        }
        let matches = match &c.kind {
            Kind::Daily => (day - d0).num_days() % interval == 0,
            Kind::Weekly(days) => {
                days.contains(&day.weekday())
                    && ((monday_of(day) - monday_of(d0)).num_days() / 7) % interval == 0
            }
            Kind::Monthly(days) => {
                days.contains(&day.day()) && (months(day) - months(d0)) % interval == 0
            }
        };
        if matches
            && let Some(at) = tz
                .from_local_datetime(&day.and_time(c.start.time()))
                .earliest()
        {
            let at = at.with_timezone(&Utc);
            if at > until_walk || until.is_some_and(|u| at > u) {
                break;
            }
            if at > first {
                out.push(at);
            }
        }
        if day.and_time(NaiveTime::MIN).and_utc() > until_walk + TimeDelta::days(2) {
            break;
        }
        day = day.succ_opt().expect("date");
    }
    out
}

fn rule_line(c: &Case, first: DateTime<Utc>) -> String {
    let mut rule = match &c.kind {
        Kind::Daily => "RRULE:FREQ=DAILY".to_owned(),
        Kind::Weekly(days) => format!(
            "RRULE:FREQ=WEEKLY;BYDAY={}",
            days.iter()
                .map(|d| super::super::expand::weekday_code(*d))
                .collect::<Vec<_>>()
                .join(",")
        ),
        Kind::Monthly(days) => format!(
            "RRULE:FREQ=MONTHLY;BYMONTHDAY={}",
            days.iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",")
        ),
    };
    if c.interval > 1 {
        rule.push_str(&format!(";INTERVAL={}", c.interval));
    }
    match c.end {
        End::Never => {}
        End::Count(n) => rule.push_str(&format!(";COUNT={n}")),
        End::Until(hours) => rule.push_str(&format!(
            ";UNTIL={}",
            (first + TimeDelta::hours(hours)).format("%Y%m%dT%H%M%SZ")
        )),
    }
    rule
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// For DAILY, WEEKLY+BYDAY and MONTHLY+BYMONTHDAY rules with any INTERVAL, COUNT or
    /// UNTIL and EXDATEs, in four zones (daylight saving in both hemispheres, and none), the
    /// occurrences meeting any window, near the start or years after it, are exactly those of
    /// the walk over local dates.
    #[test]
    fn expansion_equals_a_walk_over_local_dates(c in case()) {
        let tz: chrono_tz::Tz = c.zone.parse().expect("zone");
        let start = tz.from_local_datetime(&c.start).earliest();
        prop_assume!(start.is_some());
        let first = start.expect("checked").with_timezone(&Utc);
        let length = TimeDelta::minutes(c.minutes);
        let from = first + TimeDelta::days(c.from_days);
        let to = from + TimeDelta::days(c.window_days);

        let starts = reference_starts(&c, to);
        let excluded: Vec<DateTime<Utc>> = c.exdates.iter().map(|i| starts[i % starts.len()]).collect();
        let expected: Vec<DateTime<Utc>> = starts
            .iter()
            .copied()
            .filter(|s| !excluded.contains(s) && *s < to && *s + length > from)
            .collect();

        let zone: TimeZoneName = c.zone.parse().expect("zone");
        let mut lines = vec![rule_line(&c, first)];
        lines.extend(excluded.iter().map(|at| {
            format!("EXDATE;TZID={}:{}", c.zone, at.with_timezone(&tz).format("%Y%m%dT%H%M%S"))
        }));
        let r = Recurrence::parse(&lines, SeriesTiming { start: first, end: first + length, zone, all_day: false })
            .expect("a valid recurrence");
        let got: Vec<DateTime<Utc>> = r.occurrences(from, to).iter().map(|o| o.start).collect();
        prop_assert_eq!(got, expected, "lines {:?}", lines);
    }
}
