use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::category::{Category, CategoryDraft};
use crate::error::{RepoError, SchedulingError};
use crate::event::{
    EventDraft, EventFilter, EventPage, EventPatch, EventView, NewEvent, Origin, PageRequest,
};
use crate::ids::{CategoryId, EventId, UserId};
use crate::ports::{CategoryRepository, Clock, EventRepository, UserRepository};
use crate::sync::GoogleEventId;
use crate::timezone::TimeZoneName;
use crate::validation::FieldErrors;

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

    /// Validates and stores a new event with a fresh Google Calendar id.
    pub async fn create_event(
        &self,
        user: UserId,
        draft: EventDraft,
    ) -> Result<EventView, SchedulingError> {
        let draft = self.validate(user, draft).await?;
        let new = NewEvent {
            user_id: user,
            draft,
            google_event_id: GoogleEventId::generate(),
            origin: Origin::Phantom,
            created_at: self.clock.now(),
        };
        Ok(self.events.create(new).await?)
    }

    /// The user's event.
    pub async fn event(&self, user: UserId, id: EventId) -> Result<EventView, SchedulingError> {
        self.events
            .get(user, id)
            .await?
            .ok_or(SchedulingError::NotFound)
    }

    /// Applies a change to the user's event and returns the stored state.
    pub async fn update_event(
        &self,
        user: UserId,
        id: EventId,
        change: EventChange,
    ) -> Result<EventView, SchedulingError> {
        let draft = match change {
            EventChange::Replace(draft) => draft,
            EventChange::Patch(patch) => patch.apply_to(&self.event(user, id).await?.event),
        };
        let draft = self.validate(user, draft).await?;
        self.events
            .update(user, id, draft, self.clock.now())
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

    /// One page of the user's events passing `filter`. A page past the last one (other than
    /// the first page of an empty list) is [`SchedulingError::InvalidPage`].
    pub async fn list_events(
        &self,
        user: UserId,
        filter: EventFilter,
        page: PageRequest,
    ) -> Result<EventPage, SchedulingError> {
        check_window(filter.start, filter.end, "end")?;
        let result = self.events.list(user, filter, page).await?;
        if result.items.is_empty() && page.number > 1 {
            return Err(SchedulingError::InvalidPage);
        }
        Ok(result)
    }

    /// Every event of the user whose interval meets `[from, to)`.
    pub async fn events_in_range(
        &self,
        user: UserId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<EventView>, SchedulingError> {
        check_window(Some(from), Some(to), "end")?;
        let filter = EventFilter {
            start: Some(from),
            end: Some(to),
            ..EventFilter::default()
        };
        Ok(self.events.list_all(user, filter).await?)
    }

    async fn validate(
        &self,
        user: UserId,
        draft: EventDraft,
    ) -> Result<EventDraft, SchedulingError> {
        let category = draft.category;
        // Whole days are local days: only then does the owner's time zone matter.
        let zone = if draft.all_day {
            self.users
                .find(user)
                .await?
                .map_or(TimeZoneName::UTC, |u| u.preferences.timezone)
        } else {
            TimeZoneName::UTC
        };
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
        errors.into_result()?;
        Ok(checked?)
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
        }
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
            },
            category_name: "Exam".into(),
            priority_level: 5,
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
        let service = SchedulingService::new(
            Arc::new(events),
            Arc::new(categories),
            Arc::new(MockUserRepository::new()),
            clock(),
        );
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
        let service = SchedulingService::new(
            Arc::new(events),
            Arc::new(categories),
            Arc::new(MockUserRepository::new()),
            clock(),
        );
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
            Arc::new(MockUserRepository::new()),
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
            Arc::new(MockUserRepository::new()),
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
