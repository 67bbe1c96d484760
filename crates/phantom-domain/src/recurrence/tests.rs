use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, TimeZone, Utc, Weekday};

use super::*;
use crate::ids::EventId;

mod reference;

fn zone(name: &str) -> TimeZoneName {
    name.parse().expect("zone")
}

/// A local wall-clock time in `zone` (the first of two in a repeated hour).
fn local(zone: TimeZoneName, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    zone.tz()
        .with_ymd_and_hms(y, mo, d, h, mi, 0)
        .earliest()
        .expect("a real local time")
        .with_timezone(&Utc)
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
        .single()
        .expect("valid")
}

fn date(y: i32, mo: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, mo, d).expect("date")
}

fn timed(zone: TimeZoneName, start: DateTime<Utc>, minutes: i64, lines: &[&str]) -> Recurrence {
    Recurrence::parse(
        lines,
        SeriesTiming {
            start,
            end: start + TimeDelta::minutes(minutes),
            zone,
            all_day: false,
        },
    )
    .expect("a valid recurrence")
}

fn all_day(zone: TimeZoneName, first: NaiveDate, days: i64, lines: &[&str]) -> Recurrence {
    Recurrence::parse(
        lines,
        SeriesTiming {
            start: local_midnight(first, zone),
            end: local_midnight(first + TimeDelta::days(days), zone),
            zone,
            all_day: true,
        },
    )
    .expect("a valid recurrence")
}

/// Starts as local `YYYY-MM-DD HH:MM` in the series' zone.
fn local_starts(r: &Recurrence, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<String> {
    let tz = r.timing().zone.tz();
    r.occurrences(from, to)
        .iter()
        .map(|o| {
            o.start
                .with_timezone(&tz)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .collect()
}

fn utc_starts(r: &Recurrence, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    r.occurrences(from, to).iter().map(|o| o.start).collect()
}

const FOREVER: (i32, i32) = (2000, 2200);

fn all(r: &Recurrence) -> Vec<Occurrence> {
    r.occurrences(utc(FOREVER.0, 1, 1, 0, 0), utc(FOREVER.1, 1, 1, 0, 0))
}

/// chrono-tz 0.10's tables end in 2099: later local times have no daylight saving. Occurrences
/// that far out follow whatever the zone table says, like every other time in Phantom.
#[test]
fn chrono_tz_has_clock_changes_until_2099_only() {
    let london = zone("Europe/London");
    assert_eq!(local(london, 2099, 7, 1, 9, 0), utc(2099, 7, 1, 8, 0));
    assert_eq!(local(london, 2100, 7, 1, 9, 0), utc(2100, 7, 1, 9, 0));
}

#[test]
fn a_weekly_0900_in_london_stays_0900_local_across_both_clock_changes() {
    let london = zone("Europe/London");
    let r = timed(
        london,
        local(london, 2026, 10, 13, 9, 0),
        60,
        &["RRULE:FREQ=WEEKLY;BYDAY=TU"],
    );
    let got = utc_starts(&r, utc(2026, 10, 1, 0, 0), utc(2026, 11, 4, 0, 0));
    // BST (UTC+1) until 25 October, then GMT.
    assert_eq!(
        got,
        [
            utc(2026, 10, 13, 8, 0),
            utc(2026, 10, 20, 8, 0),
            utc(2026, 10, 27, 9, 0),
            utc(2026, 11, 3, 9, 0)
        ]
    );
    let spring = utc_starts(&r, utc(2027, 3, 20, 0, 0), utc(2027, 4, 7, 0, 0));
    assert_eq!(
        spring,
        [
            utc(2027, 3, 23, 9, 0),
            utc(2027, 3, 30, 8, 0),
            utc(2027, 4, 6, 8, 0)
        ]
    );
    // Every occurrence lasts the series' hour.
    assert!(
        r.occurrences(utc(2026, 10, 1, 0, 0), utc(2027, 4, 7, 0, 0))
            .iter()
            .all(|o| o.end - o.start == TimeDelta::hours(1))
    );
}

#[test]
fn a_daily_series_keeps_its_local_time_across_both_clock_changes() {
    let ny = zone("America/New_York");
    let r = timed(ny, local(ny, 2026, 3, 6, 9, 0), 30, &["RRULE:FREQ=DAILY"]);
    assert_eq!(
        local_starts(&r, utc(2026, 3, 7, 0, 0), utc(2026, 3, 10, 0, 0)),
        ["2026-03-07 09:00", "2026-03-08 09:00", "2026-03-09 09:00"]
    );
    assert_eq!(
        utc_starts(&r, utc(2026, 10, 31, 0, 0), utc(2026, 11, 3, 0, 0)),
        [
            utc(2026, 10, 31, 13, 0),
            utc(2026, 11, 1, 14, 0),
            utc(2026, 11, 2, 14, 0)
        ]
    );
}

#[test]
fn an_hourly_rule_across_the_spring_change_skips_the_missing_hour_without_duplicates() {
    // London, 29 March 2026: 01:00 GMT becomes 02:00 BST; local 01:xx does not exist.
    let london = zone("Europe/London");
    let r = timed(
        london,
        local(london, 2026, 3, 28, 22, 0),
        30,
        &["RRULE:FREQ=HOURLY;COUNT=6"],
    );
    let got = all(&r);
    assert_eq!(
        local_starts(&r, utc(2026, 3, 28, 0, 0), utc(2026, 3, 30, 0, 0)),
        [
            "2026-03-28 22:00",
            "2026-03-28 23:00",
            "2026-03-29 00:00",
            "2026-03-29 02:00",
            "2026-03-29 03:00",
            "2026-03-29 04:00"
        ]
    );
    // Six occurrences (the skipped hour is not counted), one real hour apart.
    assert_eq!(got.len(), 6);
    assert!(
        got.windows(2)
            .all(|w| w[1].start - w[0].start == TimeDelta::hours(1))
    );
}

#[test]
fn an_hourly_rule_across_the_autumn_change_names_the_repeated_hour_once() {
    // London, 25 October 2026: 02:00 BST becomes 01:00 GMT; local 01:xx happens twice.
    let london = zone("Europe/London");
    let r = timed(
        london,
        local(london, 2026, 10, 24, 23, 0),
        30,
        &["RRULE:FREQ=HOURLY;COUNT=5"],
    );
    assert_eq!(
        utc_starts(&r, utc(2026, 10, 24, 0, 0), utc(2026, 10, 26, 0, 0)),
        [
            utc(2026, 10, 24, 22, 0),
            utc(2026, 10, 24, 23, 0),
            utc(2026, 10, 25, 0, 0), // 01:00 BST, the first 01:00
            utc(2026, 10, 25, 2, 0), // 02:00 GMT
            utc(2026, 10, 25, 3, 0),
        ]
    );
}

#[test]
fn several_byhours_a_day_across_both_changes_in_new_york() {
    let ny = zone("America/New_York");
    let r = timed(
        ny,
        local(ny, 2026, 3, 7, 1, 0),
        15,
        &["RRULE:FREQ=DAILY;BYHOUR=1,2,3;BYMINUTE=30"],
    );
    assert_eq!(
        local_starts(&r, utc(2026, 3, 8, 0, 0), utc(2026, 3, 9, 0, 0)),
        // 8 March: 02:30 does not exist (RFC 5545 §3.3.10); nothing is doubled at 03:30.
        ["2026-03-08 01:30", "2026-03-08 03:30"]
    );
    let autumn = utc_starts(&r, utc(2026, 11, 1, 4, 0), utc(2026, 11, 1, 10, 0));
    // 1 November: 01:30 is the first one (EDT); 02:30 and 03:30 EST.
    assert_eq!(
        autumn,
        [
            utc(2026, 11, 1, 5, 30),
            utc(2026, 11, 1, 7, 30),
            utc(2026, 11, 1, 8, 30)
        ]
    );
}

/// What rrule 0.14 does by itself with a zone (its issue #115), which the module works around.
#[test]
fn rrule_alone_duplicates_and_loses_hours_at_clock_changes() {
    let spring: rrule::RRuleSet =
        "DTSTART;TZID=Europe/London:20260328T220000\nRRULE:FREQ=HOURLY;COUNT=6"
            .parse()
            .expect("rrule parses it");
    let spring: Vec<DateTime<Utc>> = spring
        .all(100)
        .dates
        .iter()
        .map(|t| t.with_timezone(&Utc))
        .collect();
    let autumn: rrule::RRuleSet =
        "DTSTART;TZID=Europe/London:20261024T230000\nRRULE:FREQ=HOURLY;COUNT=5"
            .parse()
            .expect("rrule parses it");
    let autumn: Vec<DateTime<Utc>> = autumn
        .all(100)
        .dates
        .iter()
        .map(|t| t.with_timezone(&Utc))
        .collect();
    eprintln!("rrule alone, spring: {spring:?}\nrrule alone, autumn: {autumn:?}");
    // Spring: local 01:00 (skipped) is moved to 02:00 BST = 01:00Z, which 02:00 also gives.
    assert_eq!(spring[3], utc(2026, 3, 29, 1, 0));
    assert_eq!(spring[4], utc(2026, 3, 29, 1, 0));
    let r = timed(
        zone("Europe/London"),
        utc(2026, 3, 28, 22, 0),
        30,
        &["RRULE:FREQ=HOURLY;COUNT=6"],
    );
    let ours: Vec<DateTime<Utc>> = all(&r).iter().map(|o| o.start).collect();
    assert!(ours.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(autumn.len(), 5);
}

#[test]
fn byday_follows_the_series_zone_not_utc() {
    // 08:00 on Mondays in Sydney is Sunday in UTC.
    let sydney = zone("Australia/Sydney");
    let r = timed(
        sydney,
        local(sydney, 2026, 11, 2, 8, 0),
        60,
        &["RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=4"],
    );
    let got = all(&r);
    assert_eq!(got.len(), 4);
    for o in &got {
        assert_eq!(o.start.with_timezone(&sydney.tz()).weekday(), Weekday::Mon);
        assert_eq!(o.start.weekday(), Weekday::Sun);
    }
    // 21:30 on Mondays in New York is Tuesday in UTC, across the November change.
    let ny = zone("America/New_York");
    let r = timed(
        ny,
        local(ny, 2026, 10, 19, 21, 30),
        60,
        &["RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=8"],
    );
    let got = all(&r);
    assert_eq!(got.len(), 8);
    for o in &got {
        let day = o.start.with_timezone(&ny.tz()).weekday();
        assert!(matches!(day, Weekday::Mon | Weekday::Wed), "{o:?}");
        assert_eq!(
            o.start.with_timezone(&ny.tz()).format("%H:%M").to_string(),
            "21:30"
        );
    }
}

#[test]
fn monthly_on_the_31st_skips_short_months() {
    let r = timed(
        TimeZoneName::UTC,
        utc(2027, 1, 31, 10, 0),
        60,
        &["RRULE:FREQ=MONTHLY;COUNT=5"],
    );
    let days: Vec<NaiveDate> = all(&r).iter().map(|o| o.start.date_naive()).collect();
    assert_eq!(
        days,
        [
            date(2027, 1, 31),
            date(2027, 3, 31),
            date(2027, 5, 31),
            date(2027, 7, 31),
            date(2027, 8, 31)
        ]
    );
}

#[test]
fn an_all_day_series_goes_by_dates_and_takes_exdate_value_date() {
    let paris = zone("Europe/Paris");
    let r = all_day(
        paris,
        date(2026, 10, 23),
        2,
        &["RRULE:FREQ=DAILY;COUNT=4", "EXDATE;VALUE=DATE:20261024"],
    );
    let got = all(&r);
    let days: Vec<OriginalStart> = got.iter().map(|o| o.original_start).collect();
    assert_eq!(
        days,
        [
            OriginalStart::Day(date(2026, 10, 23)),
            OriginalStart::Day(date(2026, 10, 25)),
            OriginalStart::Day(date(2026, 10, 26))
        ]
    );
    // Local midnights across the 25 October change; two days long each.
    assert_eq!(got[0].start, utc(2026, 10, 22, 22, 0));
    assert_eq!(got[1].start, utc(2026, 10, 24, 22, 0));
    assert_eq!(got[1].end, utc(2026, 10, 26, 23, 0));
    assert_eq!(got[2].start, utc(2026, 10, 25, 23, 0));
    assert_eq!(
        r.lines(),
        ["RRULE:FREQ=DAILY;COUNT=4", "EXDATE;VALUE=DATE:20261024"]
    );
    // A date-time EXDATE on an all-day series is read as its local date and written as one.
    let r = all_day(
        paris,
        date(2026, 10, 23),
        1,
        &["RRULE:FREQ=DAILY;COUNT=4", "EXDATE:20261023T230000Z"],
    );
    assert_eq!(r.lines()[1], "EXDATE;VALUE=DATE:20261024");
    assert!(!r.is_occurrence(OriginalStart::Day(date(2026, 10, 24))));
}

#[test]
fn exdates_with_a_tzid_or_in_utc_remove_occurrences_and_are_written_in_the_series_zone() {
    let london = zone("Europe/London");
    let r = timed(
        london,
        local(london, 2026, 12, 1, 9, 0),
        60,
        &[
            "RRULE:FREQ=WEEKLY;COUNT=5",
            "EXDATE;TZID=Europe/London:20261208T090000",
            "EXDATE:20261215T090000Z",
            "exdate;tzid=America/New_York:20261222T040000",
        ],
    );
    assert_eq!(
        local_starts(&r, utc(2026, 11, 1, 0, 0), utc(2027, 2, 1, 0, 0)),
        ["2026-12-01 09:00", "2026-12-29 09:00"]
    );
    assert_eq!(
        r.lines(),
        [
            "RRULE:FREQ=WEEKLY;COUNT=5",
            "EXDATE;TZID=Europe/London:20261208T090000,20261215T090000,20261222T090000"
        ]
    );
    // A normalised list reads back to the same series.
    let again = Recurrence::parse(&r.lines(), r.timing()).expect("valid");
    assert_eq!(again.lines(), r.lines());
    assert_eq!(all(&again), all(&r));
}

#[test]
fn rdates_add_occurrences_and_count_nothing() {
    let r = timed(
        TimeZoneName::UTC,
        utc(2026, 12, 1, 9, 0),
        60,
        &[
            "RRULE:FREQ=DAILY;COUNT=2",
            "RDATE:20261205T120000Z",
            "RDATE:20261202T090000Z",
        ],
    );
    assert_eq!(
        utc_starts(&r, utc(2026, 1, 1, 0, 0), utc(2027, 1, 1, 0, 0)),
        [
            utc(2026, 12, 1, 9, 0),
            utc(2026, 12, 2, 9, 0),
            utc(2026, 12, 5, 12, 0)
        ]
    );
    assert_eq!(r.span().last_end, Some(utc(2026, 12, 5, 13, 0)));
}

/// Google's reading (see the module doc): a start off the rule is shown beside the rule's
/// `COUNT` matches, not counted among them.
#[test]
fn a_start_the_rule_does_not_match_is_still_the_first_occurrence_and_is_not_counted() {
    // A Wednesday start, a Monday rule.
    let r = timed(
        TimeZoneName::UTC,
        utc(2026, 12, 2, 9, 0),
        60,
        &["RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=3"],
    );
    assert_eq!(
        utc_starts(&r, utc(2026, 1, 1, 0, 0), utc(2027, 1, 1, 0, 0)),
        [
            utc(2026, 12, 2, 9, 0),
            utc(2026, 12, 7, 9, 0),
            utc(2026, 12, 14, 9, 0),
            utc(2026, 12, 21, 9, 0)
        ]
    );
    assert!(r.is_occurrence(OriginalStart::At(utc(2026, 12, 2, 9, 0))));
    assert!(r.is_occurrence(OriginalStart::At(utc(2026, 12, 21, 9, 0))));
    assert!(!r.is_occurrence(OriginalStart::At(utc(2026, 12, 28, 9, 0))));
    assert_eq!(r.span().last_end, Some(utc(2026, 12, 21, 10, 0)));
    // Split after the odd start: the new series has the Mondays left, all of them counted.
    let Split { old, new } = r
        .split_at(OriginalStart::At(utc(2026, 12, 14, 9, 0)))
        .expect("splits");
    assert_eq!(new.lines(), ["RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=2"]);
    assert_eq!(
        utc_starts(&new, utc(2026, 1, 1, 0, 0), utc(2027, 1, 1, 0, 0)),
        [utc(2026, 12, 14, 9, 0), utc(2026, 12, 21, 9, 0)]
    );
    assert_eq!(
        utc_starts(&old, utc(2026, 1, 1, 0, 0), utc(2027, 1, 1, 0, 0)),
        [utc(2026, 12, 2, 9, 0), utc(2026, 12, 7, 9, 0)]
    );
}

#[test]
fn a_start_on_the_rule_counts_towards_count() {
    let r = timed(
        TimeZoneName::UTC,
        utc(2026, 12, 7, 9, 0),
        60,
        &["RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=3"],
    );
    assert_eq!(
        utc_starts(&r, utc(2026, 1, 1, 0, 0), utc(2027, 1, 1, 0, 0)),
        [
            utc(2026, 12, 7, 9, 0),
            utc(2026, 12, 14, 9, 0),
            utc(2026, 12, 21, 9, 0)
        ]
    );
}

#[test]
fn a_window_meets_an_occurrence_that_started_before_it() {
    let r = timed(
        TimeZoneName::UTC,
        utc(2026, 12, 1, 9, 0),
        120,
        &["RRULE:FREQ=DAILY"],
    );
    let got = r.occurrences(utc(2026, 12, 3, 10, 0), utc(2026, 12, 3, 10, 30));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].start, utc(2026, 12, 3, 9, 0));
    // Ends exactly at the window's start: not in it.
    assert!(
        r.occurrences(utc(2026, 12, 3, 11, 0), utc(2026, 12, 3, 12, 0))
            .is_empty()
    );
}

/// How long a call may take here: debug build, two shared cores.
const BOUNDED: Duration = Duration::from_secs(2);

#[test]
fn an_endless_series_answers_a_window_in_2100_in_bounded_time() {
    let london = zone("Europe/London");
    let cases: [(&str, usize); 5] = [
        ("RRULE:FREQ=DAILY", 365),
        ("RRULE:FREQ=WEEKLY;INTERVAL=3;BYDAY=MO,FR", 36),
        // No clock change in 2100 in chrono-tz (see above): every local hour exists once.
        ("RRULE:FREQ=HOURLY;INTERVAL=1", 8_760),
        ("RRULE:FREQ=MINUTELY;INTERVAL=15", 35_040),
        ("RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", 0), // never matches
    ];
    for (rule, expected) in cases {
        let r = timed(london, local(london, 2026, 1, 5, 9, 0), 10, &[rule]);
        let began = Instant::now();
        let got = r.occurrences(utc(2100, 1, 1, 0, 0), utc(2101, 1, 1, 0, 0));
        let took = began.elapsed();
        eprintln!("{rule}: {} occurrences in 2100 in {took:?}", got.len());
        assert_eq!(got.len(), expected, "{rule}");
        assert!(took < BOUNDED, "{rule} took {took:?}");
        assert_eq!(r.span().last_end, None);
    }
}

#[test]
fn a_far_window_gives_what_walking_from_the_start_gives() {
    let ny = zone("America/New_York");
    for rule in [
        "RRULE:FREQ=MONTHLY;INTERVAL=5;BYDAY=-1FR",
        "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;WKST=SU",
        "RRULE:FREQ=YEARLY;INTERVAL=3;BYMONTH=3,11;BYDAY=1SU",
        "RRULE:FREQ=DAILY;INTERVAL=7;BYHOUR=2,9;BYMINUTE=30",
        "RRULE:FREQ=HOURLY;INTERVAL=5;BYMINUTE=10",
        "RRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
    ] {
        let r = timed(ny, local(ny, 2026, 1, 13, 9, 0), 45, &[rule]);
        let (from, to) = (utc(2041, 2, 3, 4, 5), utc(2042, 2, 3, 4, 5));
        // Walking from the start: a window from the first start, then cut.
        let walked: Vec<Occurrence> = r
            .occurrences(r.timing().start, to)
            .into_iter()
            .filter(|o| o.end > from)
            .collect();
        assert!(!walked.is_empty(), "{rule}");
        assert_eq!(r.occurrences(from, to), walked, "{rule}");
    }
}

#[test]
fn the_span_of_a_series() {
    let start = utc(2026, 12, 1, 9, 0);
    let endless = timed(TimeZoneName::UTC, start, 60, &["RRULE:FREQ=DAILY"]);
    assert_eq!(
        endless.span(),
        SeriesSpan {
            first_start: start,
            last_end: None
        }
    );
    let count = timed(
        TimeZoneName::UTC,
        start,
        60,
        &["RRULE:FREQ=DAILY;COUNT=3", "EXDATE:20261203T090000Z"],
    );
    assert_eq!(count.span().last_end, Some(utc(2026, 12, 2, 10, 0)));
    let until = timed(
        TimeZoneName::UTC,
        start,
        60,
        &["RRULE:FREQ=WEEKLY;UNTIL=20361231T235959Z"],
    );
    assert_eq!(until.span().last_end, Some(utc(2036, 12, 30, 10, 0)));
    let sparse = timed(
        TimeZoneName::UTC,
        start,
        60,
        &["RRULE:FREQ=YEARLY;INTERVAL=20;UNTIL=20991231T000000Z"],
    );
    assert_eq!(sparse.span().last_end, Some(utc(2086, 12, 1, 10, 0)));
    // An UNTIL date is through that local day.
    let paris = zone("Europe/Paris");
    let r = timed(
        paris,
        local(paris, 2026, 12, 1, 23, 30),
        60,
        &["RRULE:FREQ=DAILY;UNTIL=20261203"],
    );
    assert_eq!(
        local_starts(&r, start - TimeDelta::days(2), start + TimeDelta::days(9)).len(),
        3
    );
    assert_eq!(r.lines(), ["RRULE:FREQ=DAILY;UNTIL=20261203T225959Z"]);
}

#[test]
fn occurrence_ids_read_back_and_nothing_else_is_one() {
    let timed = OccurrenceKey {
        series: EventId(17),
        original_start: OriginalStart::At(utc(2026, 12, 8, 9, 0)),
    };
    assert_eq!(timed.to_string(), "17_20261208T090000Z");
    assert_eq!("17_20261208T090000Z".parse(), Ok(timed));
    let day = OccurrenceKey {
        series: EventId(17),
        original_start: OriginalStart::Day(date(2026, 12, 8)),
    };
    assert_eq!(day.to_string(), "17_20261208");
    assert_eq!("17_20261208".parse(), Ok(day));
    for not in [
        "17",
        "17_",
        "_20261208",
        "17_20261208t090000Z",
        "17_20261208T090000z",
        "17_20261208T090000",
        "17_2026120",
        "17_202612080",
        "17_20261332",
        "17_20261208T250000Z",
        "17_20261208T090060Z",
        "017_20261208",
        "-17_20261208",
        "x_20261208",
        "17_20261208T090000ZZ",
        "17_2026-12-08",
        "17_20261208_20261208",
        "99999999999999999999_20261208",
    ] {
        assert!(not.parse::<OccurrenceKey>().is_err(), "{not}");
    }
    let google = google_instance_id("abc123", OriginalStart::At(utc(2026, 12, 8, 9, 0)));
    assert_eq!(google, "abc123_20261208T090000Z");
    assert_eq!(
        parse_google_instance_id(&google),
        Some(("abc123", OriginalStart::At(utc(2026, 12, 8, 9, 0))))
    );
    assert_eq!(
        parse_google_instance_id("abc123_20261208"),
        Some(("abc123", OriginalStart::Day(date(2026, 12, 8))))
    );
    assert_eq!(parse_google_instance_id("abc123"), None);
    assert_eq!(parse_google_instance_id("abc123_20261208t090000z"), None);
    assert_eq!(parse_google_instance_id("_20261208"), None);
}

#[test]
fn a_split_of_a_count_series_ends_the_old_one_before_it_and_counts_the_rest() {
    let london = zone("Europe/London");
    let r = timed(
        london,
        local(london, 2026, 12, 1, 9, 0),
        60,
        &[
            "RRULE:FREQ=DAILY;COUNT=10",
            "EXDATE;TZID=Europe/London:20261202T090000,20261206T090000",
        ],
    );
    let at = OriginalStart::At(utc(2026, 12, 4, 9, 0));
    let Split { old, new } = r.split_at(at).expect("splits");
    assert_eq!(
        old.lines(),
        [
            "RRULE:FREQ=DAILY;UNTIL=20261204T085959Z",
            "EXDATE;TZID=Europe/London:20261202T090000"
        ]
    );
    assert_eq!(
        new.lines(),
        [
            "RRULE:FREQ=DAILY;COUNT=7",
            "EXDATE;TZID=Europe/London:20261206T090000"
        ]
    );
    assert_eq!(new.timing().start, utc(2026, 12, 4, 9, 0));
    assert_eq!(new.timing().end, utc(2026, 12, 4, 10, 0));
    // Together they are the old series.
    let mut both = all(&old);
    both.extend(all(&new));
    assert_eq!(both, all(&r));
}

#[test]
fn a_split_of_an_until_series_keeps_the_until_and_all_day_ends_the_day_before() {
    let ny = zone("America/New_York");
    let r = timed(
        ny,
        local(ny, 2026, 10, 26, 18, 0),
        60,
        &["RRULE:FREQ=WEEKLY;BYDAY=MO,TH;UNTIL=20261231T235959Z"],
    );
    let at = OriginalStart::At(local(ny, 2026, 11, 12, 18, 0));
    let Split { old, new } = r.split_at(at).expect("splits");
    assert_eq!(
        old.lines(),
        ["RRULE:FREQ=WEEKLY;BYDAY=MO,TH;UNTIL=20261112T225959Z"]
    );
    assert_eq!(
        new.lines(),
        ["RRULE:FREQ=WEEKLY;BYDAY=MO,TH;UNTIL=20261231T235959Z"]
    );
    let mut both = all(&old);
    both.extend(all(&new));
    assert_eq!(both, all(&r));

    let paris = zone("Europe/Paris");
    let r = all_day(paris, date(2026, 12, 1), 1, &["RRULE:FREQ=WEEKLY;COUNT=6"]);
    let Split { old, new } = r
        .split_at(OriginalStart::Day(date(2026, 12, 15)))
        .expect("splits");
    assert_eq!(old.lines(), ["RRULE:FREQ=WEEKLY;UNTIL=20261214"]);
    assert_eq!(new.lines(), ["RRULE:FREQ=WEEKLY;COUNT=4"]);
    assert_eq!(
        new.timing().start,
        local_midnight(date(2026, 12, 15), paris)
    );
}

#[test]
fn a_split_at_the_first_occurrence_or_at_no_occurrence_is_refused() {
    let r = timed(
        TimeZoneName::UTC,
        utc(2026, 12, 1, 9, 0),
        60,
        &["RRULE:FREQ=DAILY;COUNT=5", "EXDATE:20261203T090000Z"],
    );
    assert_eq!(
        r.split_at(OriginalStart::At(utc(2026, 12, 1, 9, 0))),
        Err(SplitError::FirstOccurrence)
    );
    assert_eq!(
        r.split_at(OriginalStart::At(utc(2026, 12, 3, 9, 0))),
        Err(SplitError::NotAnOccurrence)
    );
    assert_eq!(
        r.split_at(OriginalStart::At(utc(2026, 12, 2, 9, 30))),
        Err(SplitError::NotAnOccurrence)
    );
    assert_eq!(
        r.split_at(OriginalStart::Day(date(2026, 12, 2))),
        Err(SplitError::NotAnOccurrence)
    );
    // At a start the rule does not match, the new series keeps the old weekday.
    let r = timed(
        TimeZoneName::UTC,
        utc(2026, 12, 7, 9, 0),
        60,
        &["RRULE:FREQ=WEEKLY", "RDATE:20261210T120000Z"],
    );
    let Split { new, .. } = r
        .split_at(OriginalStart::At(utc(2026, 12, 10, 12, 0)))
        .expect("splits");
    assert_eq!(
        new.lines(),
        [
            "RRULE:FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0;BYSECOND=0",
            "RDATE;TZID=UTC:20261210T120000"
        ]
    );
    assert_eq!(
        utc_starts(&new, utc(2026, 12, 1, 0, 0), utc(2026, 12, 20, 0, 0)),
        [utc(2026, 12, 10, 12, 0), utc(2026, 12, 14, 9, 0)]
    );
}

#[test]
fn an_occurrence_after_a_rule_change_may_no_longer_be_one() {
    let start = utc(2026, 12, 7, 9, 0);
    let mondays = timed(
        TimeZoneName::UTC,
        start,
        60,
        &["RRULE:FREQ=WEEKLY;BYDAY=MO"],
    );
    let weekdays = timed(
        TimeZoneName::UTC,
        start,
        60,
        &["RRULE:FREQ=WEEKLY;BYDAY=TU,WE"],
    );
    let tuesday = OriginalStart::At(utc(2026, 12, 8, 9, 0));
    let monday = OriginalStart::At(utc(2026, 12, 14, 9, 0));
    assert!(mondays.is_occurrence(monday) && !mondays.is_occurrence(tuesday));
    assert!(weekdays.is_occurrence(tuesday) && !weekdays.is_occurrence(monday));
    assert_eq!(
        mondays.occurrence_at(monday).map(|o| o.end),
        Some(utc(2026, 12, 14, 10, 0))
    );
    assert!(mondays.is_occurrence(OriginalStart::At(start + TimeDelta::weeks(5_200))));
    assert!(!mondays.is_occurrence(OriginalStart::At(
        start + TimeDelta::weeks(5_200) + TimeDelta::days(1)
    )));
}

fn refused(lines: &[&str], all_day: bool) -> RecurrenceError {
    Recurrence::parse(
        lines,
        SeriesTiming {
            start: utc(2026, 12, 1, 0, 0),
            end: utc(2026, 12, 2, 0, 0),
            zone: zone("America/New_York"),
            all_day,
        },
    )
    .expect_err("refused")
}

#[test]
fn every_refusal_says_what_to_fix() {
    use RecurrenceError as E;
    let cases: Vec<(Vec<&str>, RecurrenceError)> = vec![
        (vec![], E::NoRule),
        (vec!["EXDATE:20261208T090000Z"], E::NoRule),
        (
            vec!["RRULE:FREQ=DAILY", "RRULE:FREQ=WEEKLY"],
            E::SeveralRules,
        ),
        (vec!["RRULE:FREQ=DAILY", "EXRULE:FREQ=WEEKLY"], E::ExRule),
        (
            vec!["DTSTART:20261201T090000Z", "RRULE:FREQ=DAILY"],
            E::DtStart,
        ),
        (
            vec!["RRULE:FREQ=DAILY", "X-FOO:1"],
            E::UnsupportedLine("X-FOO:1".into()),
        ),
        (vec!["FREQ=DAILY"], E::UnsupportedLine("FREQ=DAILY".into())),
        (vec!["RRULE:INTERVAL=2"], E::NoFreq),
        (
            vec!["RRULE:FREQ=DAILY;COUNT=3;UNTIL=20261231T000000Z"],
            E::CountWithUntil,
        ),
        (vec!["RRULE:FREQ=DAILY;COUNT=0"], E::CountOutOfRange),
        (vec!["RRULE:FREQ=DAILY;COUNT=10001"], E::CountOutOfRange),
        (
            vec!["RRULE:FREQ=DAILY;UNTIL=20261101T000000Z"],
            E::UntilBeforeStart,
        ),
        (vec!["RRULE:FREQ=MINUTELY"], E::TooFrequent),
        (
            vec![
                "RRULE:FREQ=DAILY;BYHOUR=1,2,3,4,5,6,7,8,9;BYMINUTE=0,5,10,15,20,25,30,35,40,45,50,55",
            ],
            E::TooFrequent,
        ),
        (
            vec!["RRULE:FREQ=DAILY;UNTIL=2026"],
            E::InvalidDate {
                property: "UNTIL".into(),
                value: "2026".into(),
            },
        ),
        (
            vec!["RRULE:FREQ=DAILY", "EXDATE:2026-12-08"],
            E::InvalidDate {
                property: "EXDATE".into(),
                value: "2026-12-08".into(),
            },
        ),
        (
            vec!["RRULE:FREQ=DAILY", "RDATE:20261208T090000z"],
            E::InvalidDate {
                property: "RDATE".into(),
                value: "20261208T090000z".into(),
            },
        ),
        (
            vec!["RRULE:FREQ=DAILY", "EXDATE;VALUE=DATE:20261208"],
            E::DateOnTimedSeries("EXDATE".into()),
        ),
        (
            vec![
                "RRULE:FREQ=DAILY",
                "EXDATE;TZID=Mars/Olympus:20261208T090000",
            ],
            E::UnknownZone("Mars/Olympus".into()),
        ),
        (
            vec![
                "RRULE:FREQ=DAILY",
                "EXDATE;TZID=America/New_York:20270314T023000",
            ],
            E::NonexistentTime {
                value: "20270314T023000".into(),
                zone: "America/New_York".into(),
            },
        ),
    ];
    for (lines, expected) in cases {
        let got = refused(&lines, false);
        assert_eq!(got, expected, "{lines:?}");
        assert!(got.to_string().ends_with('.'), "{got}");
    }
    assert_eq!(refused(&["RRULE:FREQ=HOURLY"], true), E::AllDayTimeParts);
    assert_eq!(
        refused(&["RRULE:FREQ=DAILY;BYHOUR=9"], true),
        E::AllDayTimeParts
    );
    for bad in [
        "RRULE:FREQ=FORTNIGHTLY",
        "RRULE:FREQ=DAILY;INTERVAL=0",
        "RRULE:FREQ=DAILY;INTERVAL=x",
        "RRULE:FREQ=WEEKLY;BYDAY=XX",
        "RRULE:FREQ=MONTHLY;BYMONTHDAY=32",
        "RRULE:FREQ=MONTHLY;BYDAY=MO;BYSETPOS=0",
        "RRULE:FREQ=DAILY;FREQ=WEEKLY",
        "RRULE:FREQ=DAILY;COUNT=x",
        "RRULE:FREQ=DAILY;NOPE=1",
        "RRULE:FREQ=DAILY;INTERVAL",
        "RRULE;X=1:FREQ=DAILY",
        "RRULE:FREQ=YEARLY;BYWEEKNO=54",
    ] {
        let got = refused(&[bad], false);
        assert!(matches!(got, E::InvalidRule(_)), "{bad}: {got:?}");
        assert!(
            got.to_string().ends_with('.') && !got.to_string().ends_with(".."),
            "{got}"
        );
    }
}

#[test]
fn a_once_a_day_time_the_clocks_skip_has_no_occurrence_that_day() {
    // RFC 5545 §3.3.10; rrule alone would give 03:30 on 8 March.
    let ny = zone("America/New_York");
    let r = timed(
        ny,
        local(ny, 2026, 3, 6, 2, 30),
        30,
        &["RRULE:FREQ=DAILY;COUNT=4"],
    );
    assert_eq!(
        local_starts(&r, utc(2026, 3, 1, 0, 0), utc(2026, 3, 20, 0, 0)),
        [
            "2026-03-06 02:30",
            "2026-03-07 02:30",
            "2026-03-09 02:30",
            "2026-03-10 02:30"
        ]
    );
}

#[test]
fn the_largest_count_parses_in_bounded_time() {
    let began = Instant::now();
    let r = timed(
        TimeZoneName::UTC,
        utc(2026, 1, 1, 9, 0),
        60,
        &["RRULE:FREQ=DAILY;COUNT=10000"],
    );
    let took = began.elapsed();
    assert!(took < BOUNDED, "{took:?}");
    assert_eq!(
        r.span().last_end,
        Some(utc(2026, 1, 1, 10, 0) + TimeDelta::days(9_999))
    );
}

proptest::proptest! {
    /// Every original start, timed or all-day, makes an occurrence id and a Google instance id
    /// that read back to it.
    #[test]
    fn occurrence_ids_round_trip(series in 1_i64..i64::MAX, secs in 0_i64..7_258_118_400, all_day in proptest::bool::ANY) {
        let at = DateTime::from_timestamp(secs, 0).expect("in range");
        let original_start = if all_day { OriginalStart::Day(at.date_naive()) } else { OriginalStart::At(at) };
        let key = OccurrenceKey { series: EventId(series), original_start };
        proptest::prop_assert_eq!(key.to_string().parse::<OccurrenceKey>(), Ok(key));
        let google = google_instance_id("abc123", original_start);
        proptest::prop_assert_eq!(parse_google_instance_id(&google), Some(("abc123", original_start)));
    }

    /// The id forms are written exactly as chrono's `%Y%m%dT%H%M%SZ` and `%Y%m%d` write them,
    /// for any instant from year -2000 to 12000 (signed years outside 0–9999 included).
    #[test]
    fn id_forms_are_chrono_s_formats(secs in -125_000_000_000_i64..316_000_000_000) {
        let at = DateTime::from_timestamp(secs, 0).expect("in range");
        proptest::prop_assert_eq!(rule::format_utc(at), at.format("%Y%m%dT%H%M%SZ").to_string());
        proptest::prop_assert_eq!(
            rule::format_local(at.naive_utc()),
            at.format("%Y%m%dT%H%M%S").to_string()
        );
        proptest::prop_assert_eq!(rule::format_date(at.date_naive()), at.format("%Y%m%d").to_string());
    }

    /// Splitting a series at any occurrence but the first gives two series whose occurrences
    /// together are the original's, the old one's all before the split and the new one's from it.
    #[test]
    fn a_split_keeps_every_occurrence(
        rule in proptest::sample::select(vec![
            "RRULE:FREQ=DAILY;COUNT=30",
            "RRULE:FREQ=WEEKLY;BYDAY=MO,TH;COUNT=20",
            // The start (a Thursday) off the rule.
            "RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=20",
            "RRULE:FREQ=DAILY;INTERVAL=2;UNTIL=20270301T000000Z",
            "RRULE:FREQ=MONTHLY;BYMONTHDAY=31,15;COUNT=12",
        ]),
        zone_name in proptest::sample::select(vec!["Europe/London", "Australia/Sydney", "America/New_York"]),
        pick in 1_usize..100,
    ) {
        let z = zone(zone_name);
        let r = timed(z, local(z, 2026, 10, 1, 1, 30), 90, &[rule, "EXDATE;TZID=Europe/London:20261104T013000"]);
        let every = all(&r);
        let at = every[1 + pick % (every.len() - 1)].original_start;
        let Split { old, new } = r.split_at(at).expect("splits");
        let (old, new) = (all(&old), all(&new));
        proptest::prop_assert!(old.iter().all(|o| o.original_start < at));
        proptest::prop_assert!(new.iter().all(|o| o.original_start >= at));
        proptest::prop_assert_eq!(old.into_iter().chain(new).collect::<Vec<_>>(), every);
    }
}
