use chrono::{TimeZone, Utc};
use proptest::prelude::*;

use super::*;

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0)
        .single()
        .expect("valid")
}

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).expect("date")
}

const RULES: ReadRules = ReadRules {
    zone: TimeZoneName::UTC,
    import_from: DateTime::<Utc>::MIN_UTC,
    calendar_zone: None,
};

fn item(summary: &str, start: GoogleTime, end: GoogleTime) -> GoogleEvent {
    GoogleEvent {
        id: "g1".into(),
        cancelled: false,
        summary: Some(summary.into()),
        description: None,
        start: Some(start),
        end: Some(end),
        updated: Some(at(24, 12)),
        time_zone: None,
        recurrence: GoogleRecurrence::default(),
        etag: None,
        color_id: None,
    }
}

fn timed(summary: &str) -> GoogleEvent {
    item(
        summary,
        GoogleTime::At(at(24, 9)),
        GoogleTime::At(at(24, 11)),
    )
}

fn known(title: &str, updated_at: DateTime<Utc>, queued: Option<SyncOperation>) -> KnownEvent {
    KnownEvent {
        series: None,
        id: EventId(7),
        fields: EventFields {
            title: title.into(),
            description: String::new(),
            start_time: at(24, 9),
            end_time: at(24, 11),
            all_day: false,
        },
        updated_at,
        queued,
        etag: None,
        queued_versions: Vec::new(),
        color_id: None,
    }
}

#[test]
fn an_edit_in_google_reaches_the_event() {
    let action = decide(
        &timed("Moved exam"),
        Some(&known("Exam", at(24, 8), None)),
        None,
        &RULES,
    );
    let Action::Update {
        event,
        fields,
        drop_queued,
    } = action
    else {
        panic!("{action:?}");
    };
    assert_eq!(
        (event, fields.title.as_str(), drop_queued),
        (EventId(7), "Moved exam", false)
    );
}

#[test]
fn phantoms_own_echo_changes_nothing() {
    let action = decide(
        &timed("Exam"),
        Some(&known("Exam", at(24, 8), None)),
        None,
        &RULES,
    );
    assert_eq!(action, Action::Nothing(Skip::Same));
}

#[test]
fn the_later_change_wins() {
    let upsert = Some(SyncOperation::Upsert);
    // Google changed at 12:00, Phantom at 13:00: Phantom's queued change stands, and carries
    // the title that Google holds differently.
    let newer_here = known("Exam", at(24, 13), upsert);
    assert_eq!(
        decide(&timed("Moved exam"), Some(&newer_here), None, &RULES),
        Action::Overrule {
            event: EventId(7),
            fields: FieldSet::TITLE
        }
    );
    // Phantom changed at 11:00: Google's is later, and Phantom's queued change is dropped.
    let older_here = known("Exam", at(24, 11), upsert);
    assert!(matches!(
        decide(&timed("Moved exam"), Some(&older_here), None, &RULES),
        Action::Update {
            drop_queued: true,
            ..
        }
    ));
}

/// Google holding a version Phantom queued earlier holds Phantom's own write, whose answer
/// was lost: its `updated` is when that write arrived, after a Phantom edit made meanwhile,
/// and must not make it win over that edit.
#[test]
fn phantoms_own_write_with_a_lost_answer_is_not_a_later_google_change() {
    // Phantom queued "Moved exam", then (while that write was on its way, its answer to be
    // lost) "Exam" at 11:00; the write reached Google at 12:00.
    let moved = adapt(&timed("Moved exam"), RULES.zone).expect("readable");
    let here = KnownEvent {
        series: None,
        queued_versions: vec![moved.fingerprint()],
        ..known("Exam", at(24, 11), Some(SyncOperation::Upsert))
    };
    assert_eq!(
        decide(&timed("Moved exam"), Some(&here), None, &RULES),
        Action::Overrule {
            event: EventId(7),
            fields: FieldSet::TITLE
        }
    );
    // A version Phantom never queued is a person's edit: the later change wins as before.
    let other = KnownEvent {
        series: None,
        queued_versions: vec![moved.fingerprint()],
        ..known("Exam", at(24, 11), Some(SyncOperation::Upsert))
    };
    assert!(matches!(
        decide(&timed("Exam in room 4"), Some(&other), None, &RULES),
        Action::Update { .. }
    ));
}

#[test]
fn fingerprints_tell_every_mapped_field_apart_and_are_stable() {
    let base = adapt(&timed("Exam"), RULES.zone).expect("readable");
    let variants = [
        EventFields {
            title: "Exam!".into(),
            ..base.clone()
        },
        EventFields {
            description: "x".into(),
            ..base.clone()
        },
        EventFields {
            start_time: base.start_time - chrono::TimeDelta::minutes(1),
            ..base.clone()
        },
        EventFields {
            end_time: base.end_time + chrono::TimeDelta::minutes(1),
            ..base.clone()
        },
        EventFields {
            all_day: true,
            ..base.clone()
        },
        // The same bytes split differently between title and description.
        EventFields {
            title: "Exa".into(),
            description: "m".into(),
            ..base.clone()
        },
    ];
    for variant in &variants {
        assert_ne!(variant.fingerprint(), base.fingerprint(), "{variant:?}");
    }
    assert_eq!(base.fingerprint(), base.clone().fingerprint());
    // Stored in the outbox across restarts and upgrades: a fixed algorithm, a fixed value.
    let fixed = EventFields {
        title: "Exam".into(),
        description: String::new(),
        start_time: at(24, 9),
        end_time: at(24, 11),
        all_day: false,
    };
    assert_eq!(fixed.fingerprint(), FIXED_FINGERPRINT);
}

/// The fingerprint of the `fixed` fields above, computed apart from this code (64-bit FNV-1a
/// over the same bytes, in Python).
const FIXED_FINGERPRINT: u64 = 14_973_541_714_583_418_566;

/// Phantom owns the colour: Google's later edit of the other fields wins, yet a queued
/// Phantom write that carries a colour Google lacks (a recolour) is kept, not dropped.
#[test]
fn a_queued_recolour_survives_a_later_google_edit() {
    let recoloured = KnownEvent {
        series: None,
        color_id: Some("5".into()),
        ..known("Exam", at(24, 11), Some(SyncOperation::Upsert))
    };
    let in_google = |colour: &str| GoogleEvent {
        color_id: Some(colour.into()),
        ..timed("Exam (room 4)")
    };
    assert!(matches!(
        decide(&in_google("9"), Some(&recoloured), None, &RULES),
        Action::Update {
            drop_queued: false,
            ..
        }
    ));
    assert!(matches!(
        decide(&in_google("5"), Some(&recoloured), None, &RULES),
        Action::Update {
            drop_queued: true,
            ..
        }
    ));
    // An event made in Google: its colour is Google's, nothing to keep.
    let imported = KnownEvent {
        series: None,
        color_id: None,
        ..recoloured
    };
    assert!(matches!(
        decide(&in_google("9"), Some(&imported), None, &RULES),
        Action::Update {
            drop_queued: true,
            ..
        }
    ));
}

#[test]
fn a_deletion_on_either_side_is_final() {
    let cancelled = GoogleEvent {
        cancelled: true,
        start: None,
        end: None,
        ..timed("")
    };
    // Deleted in Google, even with a Phantom edit queued.
    let edited = known("Exam", at(24, 13), Some(SyncOperation::Upsert));
    assert_eq!(
        decide(&cancelled, Some(&edited), None, &RULES),
        Action::Delete { event: EventId(7) }
    );
    assert_eq!(
        decide(&cancelled, None, None, &RULES),
        Action::Nothing(Skip::Gone)
    );
    // Deleted in Phantom (delete queued): a Google edit does not bring it back.
    let deleting = known("Exam", at(24, 8), Some(SyncOperation::Delete));
    assert_eq!(
        decide(&timed("Moved exam"), Some(&deleting), None, &RULES),
        Action::Nothing(Skip::DeletedHere)
    );
    // Deleted in Phantom long ago, live in Google: deleted there, never imported.
    let gone = Tombstone {
        event: EventId(3),
        delete_queued: false,
    };
    assert_eq!(
        decide(&timed("Exam"), None, Some(gone), &RULES),
        Action::DeleteInGoogle { event: EventId(3) }
    );
    let going = Tombstone {
        delete_queued: true,
        ..gone
    };
    assert_eq!(
        decide(&timed("Exam"), None, Some(going), &RULES),
        Action::Nothing(Skip::DeletedHere)
    );
}

#[test]
fn new_google_events_are_imported_adapted_to_phantoms_rules() {
    let Action::Import(fields) = decide(&timed("  Dentist "), None, None, &RULES) else {
        panic!("not imported");
    };
    assert_eq!((fields.title.as_str(), fields.all_day), ("Dentist", false));
    assert_eq!(
        (fields.start_time, fields.end_time),
        (at(24, 9), at(24, 11))
    );

    let paris = ReadRules {
        zone: "Europe/Paris".parse().expect("zone"),
        ..RULES
    };
    let holiday = item("", GoogleTime::Day(day(24)), GoogleTime::Day(day(26)));
    let Action::Import(fields) = decide(&holiday, None, None, &paris) else {
        panic!("not imported");
    };
    assert_eq!(fields.title, UNTITLED);
    assert!(fields.all_day);
    assert_eq!(
        (fields.start_time, fields.end_time),
        (at(23, 23), at(25, 23))
    );

    let long = timed(&"é".repeat(250));
    let Action::Import(fields) = decide(&long, None, None, &RULES) else {
        panic!("not imported");
    };
    assert_eq!(fields.title.chars().count(), 200);

    let instant = item("Ping", GoogleTime::At(at(24, 9)), GoogleTime::At(at(24, 9)));
    let Action::Import(fields) = decide(&instant, None, None, &RULES) else {
        panic!("not imported");
    };
    assert_eq!(fields.end_time - fields.start_time, SHORTEST_EVENT);
}

#[test]
fn old_recurring_and_unreadable_events_are_skipped() {
    let recent = ReadRules {
        import_from: at(25, 0),
        ..RULES
    };
    assert_eq!(
        decide(&timed("Old"), None, None, &recent),
        Action::Nothing(Skip::TooOld)
    );
    let series = GoogleEvent {
        recurrence: GoogleRecurrence {
            rules: vec!["RRULE:FREQ=WEEKLY".into()],
            ..GoogleRecurrence::default()
        },
        ..timed("Weekly")
    };
    assert!(matches!(
        decide(&series, None, None, &RULES),
        Action::ImportSeries(_, _)
    ));
    let instance = GoogleEvent {
        recurrence: GoogleRecurrence {
            recurring_event_id: Some("g0".into()),
            ..GoogleRecurrence::default()
        },
        ..timed("One of them")
    };
    assert_eq!(
        decide(&instance, None, None, &RULES),
        Action::Nothing(Skip::Recurring)
    );
    let no_times = GoogleEvent {
        start: None,
        ..timed("?")
    };
    assert_eq!(
        decide(&no_times, None, None, &RULES),
        Action::Nothing(Skip::Unreadable)
    );
}

fn google_time() -> impl Strategy<Value = (GoogleTime, GoogleTime)> {
    prop_oneof![
        (0i64..10_000, 0i64..600).prop_map(|(start, minutes)| {
            let start = at(1, 0) + TimeDelta::minutes(start);
            (
                GoogleTime::At(start),
                GoogleTime::At(start + TimeDelta::minutes(minutes)),
            )
        }),
        (1u32..28, 0u64..5).prop_map(|(first, days)| {
            let first = day(first);
            (
                GoogleTime::Day(first),
                GoogleTime::Day(first + chrono::Days::new(days)),
            )
        }),
    ]
}

#[test]
fn an_unchanged_etag_is_the_echo_whatever_the_content() {
    // The etag Phantom's last write got back: nothing changed in Google since, even if the
    // content differs (Phantom changed the event again; that change is on its way).
    let written = KnownEvent {
        series: None,
        etag: Some("\"17\"".into()),
        ..known("Exam", at(24, 8), None)
    };
    let echo = GoogleEvent {
        etag: Some("\"17\"".into()),
        ..timed("Exam, as written before")
    };
    assert_eq!(
        decide(&echo, Some(&written), None, &RULES),
        Action::Nothing(Skip::Same)
    );
    let edited = GoogleEvent {
        etag: Some("\"18\"".into()),
        ..timed("Moved exam")
    };
    assert!(matches!(
        decide(&edited, Some(&written), None, &RULES),
        Action::Update { .. }
    ));
}

#[test]
fn a_field_set_names_what_differs() {
    let old = known("Exam", at(24, 8), None).fields;
    assert_eq!(FieldSet::between(&old, &old), FieldSet::NONE);
    let moved = EventFields {
        end_time: at(24, 12),
        description: "room 4".into(),
        ..old.clone()
    };
    let set = FieldSet::between(&old, &moved);
    assert_eq!(set, FieldSet::DESCRIPTION.with(FieldSet::TIMES));
    assert!(!set.contains(FieldSet::TITLE));
    let whole_day = EventFields {
        all_day: true,
        ..old.clone()
    };
    assert_eq!(FieldSet::between(&old, &whole_day), FieldSet::TIMES);
    for set in [FieldSet::NONE, FieldSet::TITLE, set, FieldSet::ALL] {
        assert_eq!(FieldSet::from_bits(set.bits()), set);
    }
    assert_eq!(FieldSet::from_bits(-1), FieldSet::ALL);
}

proptest! {
    /// No echo, no ping-pong: whatever Google holds, once Phantom has taken it (an update or
    /// an import), reading the same item again changes nothing, in any time zone.
    #[test]
    fn reading_the_same_change_twice_changes_nothing(
        summary in "[ a-zA-Z]{0,220}",
        description in proptest::option::of("[ -~]{0,40}"),
        (start, end) in google_time(),
        zone in prop::sample::select(vec!["UTC", "Europe/Paris", "America/Santiago", "Asia/Kolkata"]),
        queued in prop::option::of(Just(SyncOperation::Upsert)),
    ) {
        let rules = ReadRules { zone: zone.parse().expect("zone"), ..RULES };
        let item = GoogleEvent { description, ..item(&summary, start, end) };
        let fields = match decide(&item, None, None, &rules) {
            Action::Import(fields) => fields,
            other => return Err(TestCaseError::fail(format!("not imported: {other:?}"))),
        };
        prop_assert!(fields.end_time > fields.start_time);
        prop_assert!((1..=200).contains(&fields.title.chars().count()));
        let taken = KnownEvent { series: None, id: EventId(1), fields, updated_at: at(24, 12), queued, etag: None, queued_versions: Vec::new(), color_id: None };
        prop_assert_eq!(decide(&item, Some(&taken), None, &rules), Action::Nothing(Skip::Same));
    }
}

fn weekly(summary: &str, rule: &str) -> GoogleEvent {
    GoogleEvent {
        time_zone: Some("Europe/London".into()),
        recurrence: GoogleRecurrence {
            rules: vec![rule.into()],
            ..GoogleRecurrence::default()
        },
        ..timed(summary)
    }
}

#[test]
fn series_are_imported_in_their_zone_when_they_reach_the_window() {
    let Action::ImportSeries(fields, series) =
        decide(&weekly("Standup", "RRULE:FREQ=WEEKLY"), None, None, &RULES)
    else {
        panic!("imported as a series");
    };
    assert_eq!(fields.title, "Standup");
    assert_eq!(series.zone, "Europe/London".parse().expect("zone"));
    assert_eq!(series.recurrence, ["RRULE:FREQ=WEEKLY"]);
    // Without a zone of its own: the calendar's.
    let calendar = ReadRules {
        calendar_zone: Some("Asia/Tokyo".parse().expect("zone")),
        ..RULES
    };
    let unzoned = GoogleEvent {
        time_zone: None,
        ..weekly("Standup", "RRULE:FREQ=WEEKLY")
    };
    let Action::ImportSeries(_, series) = decide(&unzoned, None, None, &calendar) else {
        panic!("imported as a series");
    };
    assert_eq!(series.zone, "Asia/Tokyo".parse().expect("zone"));
    // Ended before the window: not imported; endless: always.
    let later = ReadRules {
        import_from: at(24, 0) + TimeDelta::days(60),
        ..RULES
    };
    assert_eq!(
        decide(
            &weekly("Old", "RRULE:FREQ=WEEKLY;COUNT=3"),
            None,
            None,
            &later
        ),
        Action::Nothing(Skip::TooOld)
    );
    assert!(matches!(
        decide(&weekly("Old", "RRULE:FREQ=WEEKLY"), None, None, &later),
        Action::ImportSeries(_, _)
    ));
}

#[test]
fn a_series_changed_in_google_is_updated_with_its_rule() {
    let read = weekly("Standup", "RRULE:FREQ=WEEKLY");
    let (fields, series) = adapt_any(&read, None, &RULES).expect("readable");
    let held = KnownEvent {
        series: series.clone(),
        fields: fields.clone(),
        etag: Some("e1".into()),
        ..known("Standup", at(24, 0), None)
    };
    // The echo, or the same again: nothing.
    let echo = GoogleEvent {
        etag: Some("e1".into()),
        ..read.clone()
    };
    assert_eq!(
        decide(&echo, Some(&held), None, &RULES),
        Action::Nothing(Skip::Same)
    );
    assert_eq!(
        decide(&read, Some(&held), None, &RULES),
        Action::Nothing(Skip::Same)
    );
    // An UNTIL added in Google (a split made there): the rule changes.
    let split = weekly("Standup", "RRULE:FREQ=WEEKLY;UNTIL=20261215T000000Z");
    let Action::UpdateSeries { series, .. } = decide(&split, Some(&held), None, &RULES) else {
        panic!("updated");
    };
    assert_ne!(series, held.series);
}

#[test]
fn instances_change_cancel_or_wait_for_phantoms_later_change() {
    let zone = TimeZoneName::UTC;
    let fields = adapt(&timed("Standup"), zone).expect("fields");
    let held = KnownOccurrence {
        series: EventId(1),
        fields: fields.clone(),
        cancelled: false,
        updated_at: at(24, 0),
        queued: None,
        etag: Some("i1".into()),
    };
    let moved = GoogleEvent {
        recurrence: GoogleRecurrence {
            recurring_event_id: Some("g1".into()),
            original_start: Some(GoogleTime::At(at(24, 9))),
            ..GoogleRecurrence::default()
        },
        etag: Some("i2".into()),
        ..item(
            "Standup",
            GoogleTime::At(at(24, 10)),
            GoogleTime::At(at(24, 12)),
        )
    };
    assert!(matches!(
        decide_instance(&moved, Some(&held), zone),
        InstanceAction::Change {
            drop_queued: false,
            ..
        }
    ));
    assert_eq!(
        decide_instance(&moved, None, zone),
        InstanceAction::Nothing(Skip::SeriesNotHeld)
    );
    let echo = GoogleEvent {
        etag: Some("i1".into()),
        ..moved.clone()
    };
    assert_eq!(
        decide_instance(&echo, Some(&held), zone),
        InstanceAction::Nothing(Skip::Same)
    );
    let newer_here = KnownOccurrence {
        queued: Some(SyncOperation::Upsert),
        updated_at: at(25, 0),
        ..held.clone()
    };
    assert_eq!(
        decide_instance(&moved, Some(&newer_here), zone),
        InstanceAction::Nothing(Skip::Older)
    );
    let cancelled = GoogleEvent {
        cancelled: true,
        start: None,
        end: None,
        ..moved
    };
    assert_eq!(
        decide_instance(&cancelled, Some(&held), zone),
        InstanceAction::Cancel
    );
}
