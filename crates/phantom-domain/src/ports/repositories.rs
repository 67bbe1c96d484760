use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::category::{Category, NewCategory};
use crate::error::RepoError;
use crate::event::{EventDraft, EventFilter, EventPage, EventView, NewEvent, PageRequest};
use crate::ids::{CategoryId, EventId, UserId};
use crate::recurrence::OriginalStart;
use crate::series::{OccurrenceChange, SeriesView};
use crate::user::{NewUser, Preferences, User, UserCredentials};

/// Stores users.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Stores a new user; a taken username is [`RepoError::Conflict`].
    async fn create(&self, user: NewUser) -> Result<User, RepoError>;
    /// The user with this exact username, with the password hash.
    async fn find_credentials(&self, username: &str) -> Result<Option<UserCredentials>, RepoError>;
    /// The user with this id.
    async fn find(&self, id: UserId) -> Result<Option<User>, RepoError>;
    /// Replaces the user's preferences; `None` when the user does not exist.
    async fn update_preferences(
        &self,
        id: UserId,
        preferences: Preferences,
    ) -> Result<Option<User>, RepoError>;
}

/// Stores categories.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait CategoryRepository: Send + Sync {
    /// The seeded defaults and the user's own categories, by descending priority then name.
    async fn list_visible(&self, user: UserId) -> Result<Vec<Category>, RepoError>;
    /// The category if it is a default or the user's own.
    async fn find_visible(
        &self,
        user: UserId,
        id: CategoryId,
    ) -> Result<Option<Category>, RepoError>;
    /// Stores a user's category; a name the user already sees (case-insensitively, defaults
    /// included) is [`RepoError::Conflict`].
    async fn create(&self, category: NewCategory) -> Result<Category, RepoError>;
    /// Replaces the state of `category.owner`'s own category `id` (never a default); `None`
    /// when the owner has no such category. A name the owner already sees on another
    /// category is [`RepoError::Conflict`]. When the priority changes and the owner has
    /// connected Google Calendar, an update of each of the owner's Phantom events in the
    /// category is queued in the same transaction, so that Google gets the new colour.
    async fn update(
        &self,
        id: CategoryId,
        category: NewCategory,
        updated_at: DateTime<Utc>,
    ) -> Result<Option<Category>, RepoError>;
    /// How many of `user`'s events use the category (only its owner's events can).
    async fn events_using(&self, user: UserId, id: CategoryId) -> Result<i64, RepoError>;
    /// Deletes `owner`'s own category `id`; `false` when the owner has no such category. An
    /// event still using it is [`RepoError::Conflict`] and nothing is deleted.
    async fn delete(&self, owner: UserId, id: CategoryId) -> Result<bool, RepoError>;
}

/// Stores events.
///
/// Every write also records, in the same transaction, what Google Calendar must learn about
/// it: if the owner has connected Google Calendar, an outbox entry is written and the event's
/// `sync_status` becomes `pending`; otherwise it is `not_connected`. A failed write leaves
/// neither the event change nor the outbox entry.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait EventRepository: Send + Sync {
    /// Stores a new event.
    async fn create(&self, event: NewEvent) -> Result<EventView, RepoError>;
    /// The user's event with this id.
    async fn get(&self, user: UserId, id: EventId) -> Result<Option<EventView>, RepoError>;
    /// Replaces the writable state of the user's event (a series: "all events"); `None` when
    /// it does not exist. The changed and cancelled occurrences named in `dropped` are
    /// forgotten (with their queued Google writes).
    async fn update(
        &self,
        user: UserId,
        id: EventId,
        draft: EventDraft,
        updated_at: DateTime<Utc>,
        dropped: Vec<OriginalStart>,
    ) -> Result<Option<EventView>, RepoError>;
    /// The user's event with its changed and cancelled occurrences (none for a single event).
    async fn get_series(&self, user: UserId, id: EventId) -> Result<Option<SeriesView>, RepoError>;
    /// What the expanded view of `[from, to)` is made of: the single events meeting it, by
    /// start, and the series whose span meets it (read through the span index), with their
    /// changed and cancelled occurrences.
    async fn range_sources(
        &self,
        user: UserId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<(Vec<EventView>, Vec<SeriesView>), RepoError>;
    /// Stores the change of one occurrence of the user's series (replacing the one stored)
    /// and queues its Google instance's patch, or its delete when `change.cancelled`; `false`
    /// when the series does not exist.
    async fn put_occurrence(
        &self,
        user: UserId,
        series: EventId,
        change: OccurrenceChange,
        updated_at: DateTime<Utc>,
    ) -> Result<bool, RepoError>;
    /// "This and following": in one transaction, the series `series` takes `old` (its rule
    /// now ending before `at`), forgets its changed and cancelled occurrences from `at` on,
    /// and the new series `new` is stored. `None` when the series does not exist.
    async fn split(
        &self,
        user: UserId,
        series: EventId,
        old: EventDraft,
        at: OriginalStart,
        new: NewEvent,
    ) -> Result<Option<EventView>, RepoError>;
    /// Deletes the user's event; `false` when it did not exist.
    async fn delete(&self, user: UserId, id: EventId) -> Result<bool, RepoError>;
    /// One page of the user's events that pass `filter`, ordered by start time then id.
    async fn list(
        &self,
        user: UserId,
        filter: EventFilter,
        page: PageRequest,
    ) -> Result<EventPage, RepoError>;
    /// All of the user's events that pass `filter`, ordered by start time then id.
    async fn list_all(
        &self,
        user: UserId,
        filter: EventFilter,
    ) -> Result<Vec<EventView>, RepoError>;
}

/// Remembers logged-out refresh tokens until they would have expired anyway.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait RefreshTokenBlacklist: Send + Sync {
    /// Blacklists the token with this `jti` (idempotent).
    async fn blacklist(
        &self,
        jti: &str,
        user: UserId,
        expires_at: DateTime<Utc>,
    ) -> Result<(), RepoError>;
    /// True when the token with this `jti` was blacklisted.
    async fn is_blacklisted(&self, jti: &str) -> Result<bool, RepoError>;
}
