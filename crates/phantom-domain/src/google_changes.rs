//! Changes read back from Google Calendar, and what each one means for Phantom.
//!
//! The rules of `../shared/API.md` ("Two-way sync"), as one pure function, [`decide`], so that
//! every adapter applies them the same way and they can be tested without a database:
//! - an edit in Google reaches the Phantom event unless a newer Phantom change is queued (the
//!   later change wins, by Google's `updated` against the event's `updated_at`);
//! - a deletion on either side is final and wins over any edit on the other;
//! - an event Phantom does not know is imported, adapted to Phantom's rules;
//! - the echo of Phantom's own write (the `etag` its write got back), or anything already
//!   equal, changes nothing, so that nothing read is ever pushed back.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use crate::event::{TITLE_MAX_CHARS, local_midnight, to_micros};
use crate::ids::EventId;
use crate::ports::SyncOperation;
use crate::timezone::TimeZoneName;

mod recurring;

use recurring::known_series;
pub use recurring::{
    InstanceAction, KnownOccurrence, SeriesFields, adapt_any, decide_instance, ended_before,
    instance_of, series_zone,
};

/// The title an imported event without one gets.
pub const UNTITLED: &str = "(No title)";

/// How long an event that ends when it starts (Google allows it) lasts in Phantom.
pub const SHORTEST_EVENT: TimeDelta = TimeDelta::minutes(1);

/// A start or an end as Google gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoogleTime {
    /// `dateTime`: an instant.
    At(DateTime<Utc>),
    /// `date`: a whole day (an end date is exclusive).
    Day(NaiveDate),
}

/// One item of an `events.list` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoogleEvent {
    /// Google's id for it.
    pub id: String,
    /// `status: "cancelled"`: deleted in Google.
    pub cancelled: bool,
    /// `summary`.
    pub summary: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `start`; absent on most cancelled items.
    pub start: Option<GoogleTime>,
    /// `end`.
    pub end: Option<GoogleTime>,
    /// `updated`: when it last changed in Google.
    pub updated: Option<DateTime<Utc>>,
    /// `start.timeZone`: the zone a series' rule is read in.
    pub time_zone: Option<String>,
    /// What makes it a recurring series or one of its instances.
    pub recurrence: GoogleRecurrence,
    /// `etag`: changes whenever the event changes in Google.
    pub etag: Option<String>,
    /// `colorId`.
    pub color_id: Option<String>,
}

impl GoogleEvent {
    /// What a deleted event amounts to when Google no longer has it at all (`404`/`410`).
    pub fn gone(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            cancelled: true,
            summary: None,
            description: None,
            start: None,
            end: None,
            updated: None,
            time_zone: None,
            recurrence: GoogleRecurrence::default(),
            etag: None,
            color_id: None,
        }
    }

    /// A recurring series (`recurrence`) or one of its instances (`recurringEventId`).
    pub fn is_recurring(&self) -> bool {
        !self.recurrence.rules.is_empty() || self.recurrence.recurring_event_id.is_some()
    }

    /// Google does not hold the colour Phantom writes for the event (`wanted`, `None` for an
    /// event made in Google, whose colour is Google's): Phantom owns it, so a queued write
    /// that carries it is kept even when Google's edit of the other fields wins.
    pub fn lacks_colour(&self, wanted: Option<&str>) -> bool {
        wanted.is_some_and(|wanted| self.color_id.as_deref() != Some(wanted))
    }
}

/// What Google says of a series or of one of its instances; empty for a single event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GoogleRecurrence {
    /// `recurrence`: the RRULE, EXRULE, RDATE and EXDATE lines of a series.
    pub rules: Vec<String>,
    /// `recurringEventId`: for an instance, its series' id.
    pub recurring_event_id: Option<String>,
    /// `originalStartTime`: for an instance, the start its series' rule gives it (which
    /// names it, however it was moved); a cancelled instance may carry only this, its id,
    /// its status and `recurringEventId`.
    pub original_start: Option<GoogleTime>,
}

/// One page of changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangePage {
    /// The changed events.
    pub items: Vec<GoogleEvent>,
    /// More pages follow.
    pub next_page_token: Option<String>,
    /// On the last page: where the next incremental read starts.
    pub next_sync_token: Option<String>,
    /// The calendar's `timeZone`, the zone of a series whose start names none.
    pub time_zone: Option<String>,
}

/// The fields Phantom and Google both hold of an event.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventFields {
    /// 1 to 200 characters.
    pub title: String,
    /// Free text.
    pub description: String,
    /// Start.
    pub start_time: DateTime<Utc>,
    /// End, after the start.
    pub end_time: DateTime<Utc>,
    /// Whole days.
    pub all_day: bool,
}

impl EventFields {
    /// A digest of these fields that stays the same across builds and versions (64-bit
    /// FNV-1a), kept for the versions Phantom queued for Google (see
    /// [`KnownEvent::queued_versions`]).
    pub fn fingerprint(&self) -> u64 {
        const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
        const PRIME: u64 = 0x0100_0000_01b3;
        let mut hash = OFFSET;
        let mut feed = |bytes: &[u8]| {
            for &byte in bytes {
                hash = (hash ^ u64::from(byte)).wrapping_mul(PRIME);
            }
        };
        // Lengths first, so that no two different field sets read as the same bytes.
        feed(&(self.title.len() as u64).to_le_bytes());
        feed(self.title.as_bytes());
        feed(&(self.description.len() as u64).to_le_bytes());
        feed(self.description.as_bytes());
        feed(&self.start_time.timestamp_micros().to_le_bytes());
        feed(&self.end_time.timestamp_micros().to_le_bytes());
        feed(&[u8::from(self.all_day)]);
        hash
    }

    /// The mapped fields of a Phantom event.
    pub fn of(event: &crate::event::Event) -> Self {
        Self {
            title: event.title.clone(),
            description: event.description.clone(),
            start_time: event.start_time,
            end_time: event.end_time,
            all_day: event.all_day,
        }
    }
}

/// Which of the fields Phantom maps (see [`EventFields`]) a write to Google carries.
///
/// An event made in Google is written with `events.patch` of only the fields changed through
/// Phantom's API, so that an edit made in Google to another field meanwhile survives. The
/// start, the end and whole days travel together: Google needs both boundaries in one form.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct FieldSet(u8);

impl FieldSet {
    /// No field.
    pub const NONE: Self = Self(0);
    /// The title (`summary`).
    pub const TITLE: Self = Self(1);
    /// The description.
    pub const DESCRIPTION: Self = Self(2);
    /// The start, the end, and whether they are whole days.
    pub const TIMES: Self = Self(4);
    /// Every field Phantom maps.
    pub const ALL: Self = Self(7);

    /// The fields that differ between `old` and `new`.
    pub fn between(old: &EventFields, new: &EventFields) -> Self {
        let mut set = Self::NONE;
        if old.title != new.title {
            set = set.with(Self::TITLE);
        }
        if old.description != new.description {
            set = set.with(Self::DESCRIPTION);
        }
        if (old.start_time, old.end_time, old.all_day)
            != (new.start_time, new.end_time, new.all_day)
        {
            set = set.with(Self::TIMES);
        }
        set
    }

    /// Both sets' fields.
    #[must_use]
    pub const fn with(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Every field of `other` is in this set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// No field.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The stored form (a bit per field).
    pub const fn bits(self) -> i32 {
        self.0 as i32
    }

    /// From the stored form; unknown bits are ignored.
    pub const fn from_bits(bits: i32) -> Self {
        Self((bits & Self::ALL.0 as i32) as u8)
    }
}

/// Phantom's side of an event that Google returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownEvent {
    /// The Phantom event.
    pub id: EventId,
    /// Its current fields.
    pub fields: EventFields,
    /// When it last changed in Phantom.
    pub updated_at: DateTime<Utc>,
    /// A change of it waiting to reach Google.
    pub queued: Option<SyncOperation>,
    /// Google's `etag` of it as Phantom last wrote or read it.
    pub etag: Option<String>,
    /// Fingerprints ([`EventFields::fingerprint`]) of the versions Phantom queued for Google
    /// since Google last confirmed one. Google holding one of them holds Phantom's own write
    /// whose answer was lost (a timeout, a crash), not a person's edit, whatever its `updated`
    /// says: that is the time the write arrived, later than a Phantom edit made meanwhile.
    pub queued_versions: Vec<u64>,
    /// The `colorId` Phantom writes for it (from its category's priority); `None` for an
    /// event made in Google.
    pub color_id: Option<String>,
    /// Its rule and zone when it is a series.
    pub series: Option<SeriesFields>,
}

/// A Google id whose Phantom event was deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tombstone {
    /// The deleted event's id (its outbox row is keyed by it).
    pub event: EventId,
    /// Its delete is still queued for Google.
    pub delete_queued: bool,
}

/// Why an item changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Phantom holds the same already (often the echo of its own write).
    Same,
    /// Deleted in Phantom, and the delete is on its way to Google.
    DeletedHere,
    /// Deleted in Google and unknown or gone here too.
    Gone,
    /// An instance of a series (see [`decide_instance`]), not an event of its own.
    Recurring,
    /// An instance of a series Phantom does not hold (or of no occurrence it has).
    SeriesNotHeld,
    /// Changed in Google before Phantom's queued change, whose write restores Phantom's.
    Older,
    /// Ended before the import window.
    TooOld,
    /// No usable start or end.
    Unreadable,
}

/// What Phantom does with one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing, for this reason.
    Nothing(Skip),
    /// Take Google's fields; a queued Phantom change that is older is dropped, unless it
    /// carries the colour Google lacks (Phantom owns the colour: a recolour survives a later
    /// Google edit of the other fields, and its write takes Google's fields along).
    Update {
        /// The event.
        event: EventId,
        /// Google's fields, adapted.
        fields: EventFields,
        /// Drop the queued (older) Phantom change.
        drop_queued: bool,
    },
    /// Deleted in Google: delete the event here (and drop any queued change of it).
    Delete {
        /// The event.
        event: EventId,
    },
    /// A newer Phantom change is queued, so Google's older edit is ignored: the queued write
    /// must carry every field in which Google now differs, so that Google ends up holding
    /// Phantom's version (a patch of only the fields changed through the API would leave
    /// Google's older edit of the others in place).
    Overrule {
        /// The event.
        event: EventId,
        /// The fields Google holds differently.
        fields: FieldSet,
    },
    /// Like `Update`, for a series or an event becoming one or ceasing to be one: its rule
    /// and zone too (`None`: a single event now); its changed and cancelled occurrences that
    /// the rule no longer has are dropped.
    UpdateSeries {
        /// The event.
        event: EventId,
        /// Google's fields, adapted (a series' first occurrence).
        fields: EventFields,
        /// Google's rule, normalised, and zone.
        series: Option<SeriesFields>,
        /// Drop the queued (older) Phantom change.
        drop_queued: bool,
    },
    /// Created in Google: import it.
    Import(EventFields),
    /// A series created in Google: import it as a series.
    ImportSeries(EventFields, SeriesFields),
    /// Deleted in Phantom, yet live in Google (deleted while disconnected): delete it there.
    DeleteInGoogle {
        /// The deleted event (its delete is queued under this id).
        event: EventId,
    },
}

/// A watch channel to open (`events.watch`): Google calls `address` on every change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelRequest {
    /// Our random id for it.
    pub id: String,
    /// `PHANTOM_PUBLIC_URL` + the notifications route.
    pub address: String,
    /// The secret Google sends back with every notification (never logged).
    pub token: crate::google::Secret,
    /// The lifetime asked for (`params.ttl`); Google may give less.
    pub ttl: std::time::Duration,
}

/// An open watch channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenChannel {
    /// Our id for it.
    pub id: String,
    /// Google's id of the watched resource (needed to stop it).
    pub resource_id: String,
    /// When Google stops sending.
    pub expires_at: DateTime<Utc>,
}

/// What the reading user's settings say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadRules {
    /// The user's time zone: whole days are its local days.
    pub zone: TimeZoneName,
    /// Events that ended before this are not imported (`PHANTOM_GOOGLE_IMPORT_DAYS_BACK`).
    pub import_from: DateTime<Utc>,
    /// The calendar's `timeZone` (from the page read): the zone of a timed series whose start
    /// names none.
    pub calendar_zone: Option<TimeZoneName>,
}

/// What `item` means for Phantom, given what Phantom knows of its id: a live event, a
/// tombstone of a deleted one, or nothing.
pub fn decide(
    item: &GoogleEvent,
    known: Option<&KnownEvent>,
    tombstone: Option<Tombstone>,
    rules: &ReadRules,
) -> Action {
    if item.recurrence.recurring_event_id.is_some() {
        // An instance: see `decide_instance`.
        return Action::Nothing(Skip::Recurring);
    }
    if item.cancelled {
        return match known {
            Some(k) if k.queued == Some(SyncOperation::Delete) => Action::Nothing(Skip::Gone),
            Some(k) => Action::Delete { event: k.id },
            None => Action::Nothing(Skip::Gone),
        };
    }
    if let Some(known) = known {
        if known.queued == Some(SyncOperation::Delete) {
            return Action::Nothing(Skip::DeletedHere);
        }
        if item.etag.is_some() && item.etag == known.etag {
            // Unchanged since Phantom wrote or read it: the echo of its own write.
            return Action::Nothing(Skip::Same);
        }
        let Some((fields, series)) = adapt_any(item, known_series(known), rules) else {
            return Action::Nothing(Skip::Unreadable);
        };
        if fields == known.fields && series == known.series {
            return Action::Nothing(Skip::Same);
        }
        let queued = known.queued.is_some();
        let own_write = known.queued_versions.contains(&fields.fingerprint());
        if queued && (own_write || item.updated.is_none_or(|google| google <= known.updated_at)) {
            let mut differing = FieldSet::between(&known.fields, &fields);
            if series != known.series {
                // A series' rule travels with its times.
                differing = differing.with(FieldSet::TIMES);
            }
            return Action::Overrule {
                event: known.id,
                fields: differing,
            };
        }
        let drop_queued = queued && !item.lacks_colour(known.color_id.as_deref());
        if series.is_some() || known.series.is_some() {
            return Action::UpdateSeries {
                event: known.id,
                fields,
                series,
                drop_queued,
            };
        }
        return Action::Update {
            event: known.id,
            fields,
            drop_queued,
        };
    }
    if let Some(tombstone) = tombstone {
        return if tombstone.delete_queued {
            Action::Nothing(Skip::DeletedHere)
        } else {
            Action::DeleteInGoogle {
                event: tombstone.event,
            }
        };
    }
    match adapt_any(item, None, rules) {
        None => Action::Nothing(Skip::Unreadable),
        Some((fields, Some(series))) => {
            if ended_before(&fields, &series, rules.import_from) {
                Action::Nothing(Skip::TooOld)
            } else {
                Action::ImportSeries(fields, series)
            }
        }
        Some((fields, None)) if fields.end_time < rules.import_from => {
            Action::Nothing(Skip::TooOld)
        }
        Some((fields, None)) => Action::Import(fields),
    }
}

/// Google's fields in Phantom's terms: the title trimmed, cut to 200 characters, or
/// [`UNTITLED`]; `date`s as local midnights of `zone`; an event that ends when it starts
/// lasts [`SHORTEST_EVENT`] (an all-day one, a day). `None` without a start or an end.
pub fn adapt(item: &GoogleEvent, zone: TimeZoneName) -> Option<EventFields> {
    let trimmed = item.summary.as_deref().unwrap_or_default().trim();
    let title = if trimmed.is_empty() {
        UNTITLED.to_owned()
    } else {
        trimmed.chars().take(TITLE_MAX_CHARS).collect()
    };
    let (start, end) = (item.start?, item.end?);
    let all_day = matches!(start, GoogleTime::Day(_));
    let instant = |t: GoogleTime| match t {
        GoogleTime::At(at) => to_micros(at),
        GoogleTime::Day(day) => local_midnight(day, zone),
    };
    let start_time = instant(start);
    let mut end_time = instant(end);
    if end_time <= start_time {
        end_time = match start {
            GoogleTime::Day(day) => local_midnight(day.succ_opt()?, zone),
            GoogleTime::At(_) => start_time + SHORTEST_EVENT,
        };
    }
    Some(EventFields {
        title,
        description: item.description.clone().unwrap_or_default(),
        start_time,
        end_time,
        all_day,
    })
}

#[cfg(test)]
mod tests;
