use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

use crate::category::{Category, CategoryDraft};
use crate::error::{RepoError, SchedulingError};
use crate::event::{
    EventDraft, EventFilter, EventPage, EventPatch, EventView, NewEvent, Origin, PageRequest,
};
use crate::ids::{CategoryId, EventId, UserId};
use crate::ports::{CategoryRepository, Clock, EventRepository, UserRepository};
use crate::recurrence::{OccurrenceKey, Recurrence, RuleCache, SeriesTiming, SplitError};
use crate::series::{self, OccurrenceChange, SeriesView};
use crate::sync::GoogleEventId;
use crate::timezone::TimeZoneName;
use crate::validation::{FieldErrors, NON_FIELD_ERRORS};

mod categories;

/// A full replacement (`PUT`) or a partial update (`PATCH`) of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventChange {
    /// Every writable field.
    Replace(EventDraft),
    /// Only the given fields.
    Patch(EventPatch),
}

/// Categories and events of one user at a time.
#[derive(Clone)]
pub struct SchedulingService {
    events: Arc<dyn EventRepository>,
    categories: Arc<dyn CategoryRepository>,
    users: Arc<dyn UserRepository>,
    clock: Arc<dyn Clock>,
    /// Series' rules parsed for `range/`, kept for the next one.
    rules: Arc<RuleCache>,
}

impl SchedulingService {
    /// Wires the service to its ports.
    pub fn new(
        events: Arc<dyn EventRepository>,
        categories: Arc<dyn CategoryRepository>,
        users: Arc<dyn UserRepository>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            events,
            categories,
            users,
            clock,
            rules: Arc::default(),
        }
    }

    /// The defaults and the user's own categories.
    pub async fn categories(&self, user: UserId) -> Result<Vec<Category>, SchedulingError> {
        Ok(self.categories.list_visible(user).await?)
    }

    /// Creates a category of the user's own; its name must be new to the user.
    pub async fn create_category(
        &self,
        user: UserId,
        draft: CategoryDraft,
    ) -> Result<Category, SchedulingError> {
        let new = draft.validate(user)?;
        match self.categories.create(new).await {
            Err(RepoError::Conflict(_)) => {
                Err(FieldErrors::single("name", "A category with this name already exists.").into())
            }
            other => Ok(other?),
        }
    }

    /// Validates and stores a new event (a single event, or a series) with a fresh Google
    /// Calendar id.
    pub async fn create_event(
        &self,
        user: UserId,
        draft: EventDraft,
    ) -> Result<EventView, SchedulingError> {
        let owner_zone = self.owner_zone(user).await?;
        let draft = EventDraft {
            recurrence: Some(draft.recurrence.unwrap_or_default()),
            timezone: Some(draft.timezone.unwrap_or(owner_zone)),
            ..draft
        };
        let (draft, _) = self.validate(user, draft, owner_zone).await?;
        let new = NewEvent {
            user_id: user,
            draft,
            google_event_id: GoogleEventId::generate(),
            origin: Origin::Phantom,
            created_at: self.clock.now(),
        };
        Ok(self.events.create(new).await?)
    }

    /// The user's event (a single event or a series).
    pub async fn event(&self, user: UserId, id: EventId) -> Result<EventView, SchedulingError> {
        let mut view = self
            .events
            .get(user, id)
            .await?
            .ok_or(SchedulingError::NotFound)?;
        self.resolve_zones(user, std::slice::from_mut(&mut view))
            .await?;
        Ok(view)
    }

    /// Gives events made before events had a zone their owner's current one, as they read.
    async fn resolve_zones(
        &self,
        user: UserId,
        views: &mut [EventView],
    ) -> Result<(), SchedulingError> {
        if views.iter().all(|v| v.event.timezone.is_some()) {
            return Ok(());
        }
        let zone = self.owner_zone(user).await?;
        for view in views {
            view.event.timezone.get_or_insert(zone);
        }
        Ok(())
    }

    /// The user's event or occurrence, as its id names it.
    pub async fn event_by_ref(
        &self,
        user: UserId,
        id: EventRef,
    ) -> Result<EventView, SchedulingError> {
        match id {
            EventRef::Event(id) => self.event(user, id).await,
            EventRef::Occurrence(key) => Ok(self.occurrence(user, key).await?.1),
        }
    }

    /// The series and the live occurrence `key` names.
    async fn occurrence(
        &self,
        user: UserId,
        key: OccurrenceKey,
    ) -> Result<(SeriesView, EventView, TimeZoneName), SchedulingError> {
        let series = self
            .events
            .get_series(user, key.series)
            .await?
            .ok_or(SchedulingError::NotFound)?;
        let owner_zone = self.owner_zone(user).await?;
        let view = series::occurrence(&series, owner_zone, key.original_start)
            .ok_or(SchedulingError::NotFound)?;
        Ok((series, view, owner_zone))
    }

    /// Applies a change to the user's event or, for an occurrence id, to that occurrence
    /// alone; returns the stored state.
    pub async fn update_by_ref(
        &self,
        user: UserId,
        id: EventRef,
        change: EventChange,
    ) -> Result<EventView, SchedulingError> {
        match id {
            EventRef::Event(id) => self.update_event(user, id, change).await,
            EventRef::Occurrence(key) => self.update_occurrence(user, key, change).await,
        }
    }

    /// Applies a change to the user's event (a series: "all events") and returns the stored
    /// state. Omitted `recurrence` and `timezone` keep their values. Occurrences changed on
    /// their own keep their fields; those the changed rule no longer has are dropped (all of
    /// them when the series becomes a single event).
    pub async fn update_event(
        &self,
        user: UserId,
        id: EventId,
        change: EventChange,
    ) -> Result<EventView, SchedulingError> {
        let current = self
            .events
            .get_series(user, id)
            .await?
            .ok_or(SchedulingError::NotFound)?;
        let event = &current.view.event;
        let draft = match change {
            EventChange::Replace(draft) => EventDraft {
                recurrence: Some(draft.recurrence.unwrap_or_else(|| event.recurrence.clone())),
                timezone: draft.timezone.or(event.timezone),
                ..draft
            },
            EventChange::Patch(patch) => patch.apply_to(event),
        };
        let owner_zone = self.owner_zone(user).await?;
        let (draft, rule) = self.validate(user, draft, owner_zone).await?;
        let dropped = current
            .changes
            .iter()
            .filter_map(|c| c.original_start)
            .filter(|m| rule.as_ref().is_none_or(|rule| !rule.is_occurrence(*m)))
            .collect();
        let mut view = self
            .events
            .update(user, id, draft, self.clock.now(), dropped)
            .await?
            .ok_or(SchedulingError::NotFound)?;
        view.event.timezone.get_or_insert(owner_zone);
        Ok(view)
    }

    /// "This event": changes one occurrence and returns it. A non-empty `recurrence` is
    /// refused (`[]`, as an occurrence reads, changes nothing).
    pub async fn update_occurrence(
        &self,
        user: UserId,
        key: OccurrenceKey,
        change: EventChange,
    ) -> Result<EventView, SchedulingError> {
        let (series, current, owner_zone) = self.occurrence(user, key).await?;
        let draft = match change {
            EventChange::Replace(draft) => draft,
            EventChange::Patch(patch) => patch.apply_to(&current.event),
        };
        if draft.recurrence.as_ref().is_some_and(|r| !r.is_empty()) {
            return Err(FieldErrors::single(
                "recurrence",
                "An occurrence has no recurrence of its own: change the series, or split it.",
            )
            .into());
        }
        let zone = series.view.event.zone(owner_zone);
        let draft = EventDraft {
            recurrence: Some(Vec::new()),
            timezone: Some(zone),
            ..draft
        };
        let (draft, _) = self.validate(user, draft, owner_zone).await?;
        let base = &series.view;
        let rule = series::recurrence_of(&base.event, owner_zone)
            .and_then(Result::ok)
            .ok_or(SchedulingError::NotFound)?;
        let under_rule = rule
            .occurrence_at(key.original_start)
            .ok_or(SchedulingError::NotFound)?;
        let own = |same: bool| !same;
        let category = if draft.category == base.event.category_id {
            None
        } else {
            let c = self
                .categories
                .find_visible(user, draft.category)
                .await?
                .ok_or(SchedulingError::NotFound)?;
            Some((c.id, c.name, c.priority_level))
        };
        let now = self.clock.now();
        let change = OccurrenceChange {
            original_start: Some(key.original_start),
            title: own(draft.title == base.event.title).then(|| draft.title.clone()),
            description: own(draft.description == base.event.description)
                .then(|| draft.description.clone()),
            category,
            start_time: own(draft.start_time == under_rule.start).then_some(draft.start_time),
            end_time: own(draft.end_time == under_rule.end).then_some(draft.end_time),
            is_flexible: own(draft.is_flexible == base.event.is_flexible)
                .then_some(draft.is_flexible),
            is_completed: own(draft.is_completed == base.event.is_completed)
                .then_some(draft.is_completed),
            all_day: own(draft.all_day == base.event.all_day).then_some(draft.all_day),
            cancelled: false,
            updated_at: Some(now),
        };
        if !self
            .events
            .put_occurrence(user, key.series, change, now)
            .await?
        {
            return Err(SchedulingError::NotFound);
        }
        Ok(self.occurrence(user, key).await?.1)
    }

    /// Deletes the user's event (a series with all its occurrences), or cancels one
    /// occurrence.
    pub async fn delete_by_ref(&self, user: UserId, id: EventRef) -> Result<(), SchedulingError> {
        let key = match id {
            EventRef::Event(id) => return self.delete_event(user, id).await,
            EventRef::Occurrence(key) => key,
        };
        self.occurrence(user, key).await?;
        let now = self.clock.now();
        let change = OccurrenceChange {
            original_start: Some(key.original_start),
            cancelled: true,
            updated_at: Some(now),
            ..OccurrenceChange::default()
        };
        if self
            .events
            .put_occurrence(user, key.series, change, now)
            .await?
        {
            Ok(())
        } else {
            Err(SchedulingError::NotFound)
        }
    }

    /// "This and following": the series ends before occurrence `key`, and a new series from
    /// that occurrence on, with `patch` applied, is stored and returned.
    pub async fn split(
        &self,
        user: UserId,
        key: OccurrenceKey,
        patch: EventPatch,
    ) -> Result<EventView, SchedulingError> {
        let (series, _, owner_zone) = self.occurrence(user, key).await?;
        let event = &series.view.event;
        let rule = series::recurrence_of(event, owner_zone)
            .and_then(Result::ok)
            .ok_or(SchedulingError::NotFound)?;
        let split = match rule.split_at(key.original_start) {
            Ok(split) => split,
            Err(SplitError::FirstOccurrence) => {
                return Err(FieldErrors::single(
                    NON_FIELD_ERRORS,
                    SplitError::FirstOccurrence.to_string(),
                )
                .into());
            }
            Err(SplitError::NotAnOccurrence) => return Err(SchedulingError::NotFound),
        };
        let new_timing = split.new.timing();
        let base = EventView {
            event: crate::event::Event {
                start_time: new_timing.start,
                end_time: new_timing.end,
                recurrence: split.new.lines(),
                timezone: Some(new_timing.zone),
                ..event.clone()
            },
            ..series.view.clone()
        };
        let (new_draft, _) = self
            .validate(user, patch.apply_to(&base.event), owner_zone)
            .await?;
        let old_draft = EventDraft {
            recurrence: Some(split.old.lines()),
            series_end: split.old.span().last_end,
            ..EventPatch::default().apply_to(event)
        };
        let new = NewEvent {
            user_id: user,
            draft: new_draft,
            google_event_id: GoogleEventId::generate(),
            origin: Origin::Phantom,
            created_at: self.clock.now(),
        };
        self.events
            .split(user, key.series, old_draft, key.original_start, new)
            .await?
            .ok_or(SchedulingError::NotFound)
    }

    /// Deletes the user's event.
    pub async fn delete_event(&self, user: UserId, id: EventId) -> Result<(), SchedulingError> {
        if self.events.delete(user, id).await? {
            Ok(())
        } else {
            Err(SchedulingError::NotFound)
        }
    }

    /// One page of the user's events passing `filter` (single events and series, each
    /// series once; a window keeps the series whose span meets it). A page past the last
    /// one (other than the first page of an empty list) is [`SchedulingError::InvalidPage`].
    pub async fn list_events(
        &self,
        user: UserId,
        filter: EventFilter,
        page: PageRequest,
    ) -> Result<EventPage, SchedulingError> {
        check_window(filter.start, filter.end, "end")?;
        let mut result = self.events.list(user, filter, page).await?;
        if result.items.is_empty() && page.number > 1 {
            return Err(SchedulingError::InvalidPage);
        }
        self.resolve_zones(user, &mut result.items).await?;
        Ok(result)
    }

    /// The expanded view of `[from, to)`: single events and the live occurrences of every
    /// series meeting it, by start. At most [`MAX_RANGE_DAYS`] days.
    pub async fn events_in_range(
        &self,
        user: UserId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<EventView>, SchedulingError> {
        check_window(Some(from), Some(to), "end")?;
        if to - from > TimeDelta::days(MAX_RANGE_DAYS) {
            return Err(FieldErrors::single(
                "end",
                format!("The window may be at most {MAX_RANGE_DAYS} days long."),
            )
            .into());
        }
        let (mut singles, series) = self.events.range_sources(user, from, to).await?;
        self.resolve_zones(user, &mut singles).await?;
        if series.is_empty() {
            return Ok(singles);
        }
        let owner_zone = self.owner_zone(user).await?;
        for s in &series {
            singles.extend(series::expand(s, owner_zone, &self.rules, from, to));
        }
        singles.sort_by_key(|v| (v.event.start_time, v.event.id));
        Ok(singles)
    }

    async fn owner_zone(&self, user: UserId) -> Result<TimeZoneName, SchedulingError> {
        Ok(self
            .users
            .find(user)
            .await?
            .map_or(TimeZoneName::UTC, |u| u.preferences.timezone))
    }

    /// Checks a draft whose `recurrence` and `timezone` are resolved (a `None` zone: the
    /// owner's): the fields, the category, and a series' rule against its times. Returns it
    /// normalised (a series' lines as stored, its last end) with its rule.
    async fn validate(
        &self,
        user: UserId,
        draft: EventDraft,
        owner_zone: TimeZoneName,
    ) -> Result<(EventDraft, Option<Recurrence>), SchedulingError> {
        let category = draft.category;
        let zone = draft.timezone.unwrap_or(owner_zone);
        let checked = draft.validate(zone);
        let mut errors = checked.as_ref().err().cloned().unwrap_or_default();
        if self
            .categories
            .find_visible(user, category)
            .await?
            .is_none()
        {
            errors.add("category", unknown_category(category));
        }
        let mut rule = None;
        if let Ok(draft) = &checked {
            let lines = draft.recurrence.as_deref().unwrap_or_default();
            if !lines.is_empty() {
                let timing = SeriesTiming {
                    start: draft.start_time,
                    end: draft.end_time,
                    zone,
                    all_day: draft.all_day,
                };
                match Recurrence::parse(lines, timing) {
                    Ok(parsed) => rule = Some(parsed),
                    Err(e) => errors.add("recurrence", e.to_string()),
                }
            }
        }
        errors.into_result()?;
        let mut draft = checked?;
        draft.recurrence = Some(rule.as_ref().map(Recurrence::lines).unwrap_or_default());
        draft.series_end = rule.as_ref().and_then(|r| r.span().last_end);
        if rule.is_some() && draft.timezone.is_none() {
            draft.timezone = Some(zone);
        }
        Ok((draft, rule))
    }
}

/// The longest window the expanded view answers, in days.
pub const MAX_RANGE_DAYS: i64 = 366;

/// What an event id in a path names: a single event or series, or one occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventRef {
    /// An integer id.
    Event(EventId),
    /// An occurrence id (`17_20261208T090000Z`).
    Occurrence(OccurrenceKey),
}

impl std::str::FromStr for EventRef {
    type Err = ();

    /// An integer, or an occurrence id in its exact form; anything else names nothing.
    fn from_str(s: &str) -> Result<Self, ()> {
        if let Ok(id) = s.parse::<i64>() {
            return Ok(EventRef::Event(EventId(id)));
        }
        s.parse().map(EventRef::Occurrence).map_err(|_| ())
    }
}

fn unknown_category(id: CategoryId) -> String {
    format!("Invalid pk \"{id}\" - object does not exist.")
}

fn check_window(
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    field: &str,
) -> Result<(), FieldErrors> {
    match (start, end) {
        (Some(s), Some(e)) if e <= s => Err(FieldErrors::single(field, "end must be after start.")),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{
        MockCategoryRepository, MockClock, MockEventRepository, MockUserRepository,
    };
    use crate::sync::SyncStatus;
    use chrono::TimeZone;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, h, 0, 0)
            .single()
            .expect("valid time")
    }

    fn draft(category: i64) -> EventDraft {
        EventDraft {
            title: " Algebra exam ".into(),
            description: String::new(),
            category: CategoryId(category),
            start_time: at(9),
            end_time: at(11),
            is_flexible: true,
            is_completed: false,
            all_day: false,
            recurrence: None,
            timezone: None,
            series_end: None,
        }
    }

    fn users() -> Arc<MockUserRepository> {
        let mut users = MockUserRepository::new();
        users.expect_find().returning(|_| Ok(None));
        Arc::new(users)
    }

    fn exam() -> Category {
        Category {
            id: CategoryId(1),
            owner: None,
            name: "Exam".into(),
            priority_level: 5,
            color: "#FF0000".into(),
            description: String::new(),
        }
    }

    fn clock() -> Arc<MockClock> {
        let mut clock = MockClock::new();
        clock.expect_now().return_const(at(8));
        Arc::new(clock)
    }

    fn view_of(new: NewEvent) -> EventView {
        EventView {
            event: crate::event::Event {
                id: EventId(7),
                user_id: new.user_id,
                category_id: new.draft.category,
                title: new.draft.title,
                description: new.draft.description,
                start_time: new.draft.start_time,
                end_time: new.draft.end_time,
                is_flexible: new.draft.is_flexible,
                is_completed: new.draft.is_completed,
                all_day: new.draft.all_day,
                origin: new.origin,
                google_event_id: new.google_event_id,
                google_calendar_id: None,
                sync_status: SyncStatus::NotConnected,
                sync_error: None,
                created_at: new.created_at,
                updated_at: new.created_at,
                recurrence: Vec::new(),
                timezone: None,
            },
            category_name: "Exam".into(),
            priority_level: 5,
            occurrence: None,
        }
    }

    #[tokio::test]
    async fn create_stores_a_normalised_event_with_a_fresh_google_id() {
        let mut categories = MockCategoryRepository::new();
        categories
            .expect_find_visible()
            .returning(|_, _| Ok(Some(exam())));
        let mut events = MockEventRepository::new();
        events
            .expect_create()
            .withf(|new| {
                new.draft.title == "Algebra exam"
                    && GoogleEventId::is_valid(new.google_event_id.as_str())
                    && new.created_at == at(8)
            })
            .times(1)
            .returning(|new| Ok(view_of(new)));
        let service =
            SchedulingService::new(Arc::new(events), Arc::new(categories), users(), clock());
        let view = service
            .create_event(UserId(1), draft(1))
            .await
            .expect("created");
        assert_eq!(view.event.title, "Algebra exam");
    }

    #[tokio::test]
    async fn create_reports_every_invalid_field_and_stores_nothing() {
        let mut categories = MockCategoryRepository::new();
        categories.expect_find_visible().returning(|_, _| Ok(None));
        let mut events = MockEventRepository::new();
        events.expect_create().never();
        let service =
            SchedulingService::new(Arc::new(events), Arc::new(categories), users(), clock());
        let mut bad = draft(99);
        bad.end_time = bad.start_time;
        let Err(SchedulingError::Validation(errors)) = service.create_event(UserId(1), bad).await
        else {
            panic!("expected a validation error");
        };
        assert!(errors.has("category") && errors.has("end_time"), "{errors}");
    }

    #[tokio::test]
    async fn a_page_past_the_end_is_invalid() {
        let mut events = MockEventRepository::new();
        events.expect_list().returning(|_, _, _| {
            Ok(EventPage {
                count: 3,
                items: vec![],
            })
        });
        let service = SchedulingService::new(
            Arc::new(events),
            Arc::new(MockCategoryRepository::new()),
            users(),
            clock(),
        );
        let page = PageRequest {
            number: 2,
            size: 50,
        };
        let result = service
            .list_events(UserId(1), EventFilter::default(), page)
            .await;
        assert!(matches!(result, Err(SchedulingError::InvalidPage)));
    }

    #[tokio::test]
    async fn a_taken_category_name_is_a_field_error() {
        let mut categories = MockCategoryRepository::new();
        categories
            .expect_create()
            .returning(|_| Err(RepoError::Conflict("name".into())));
        let service = SchedulingService::new(
            Arc::new(MockEventRepository::new()),
            Arc::new(categories),
            users(),
            clock(),
        );
        let draft = CategoryDraft {
            name: "Exam".into(),
            priority_level: 5,
            ..CategoryDraft::default()
        };
        let result = service.create_category(UserId(1), draft).await;
        assert!(matches!(result, Err(SchedulingError::Validation(e)) if e.has("name")));
    }
}
