//! `/api/events/`: CRUD, filtered pages and the range query.

use actix_web::{HttpRequest, HttpResponse, web};
use phantom_domain::event::{
    DEFAULT_PAGE_SIZE, EventDraft, EventFilter, EventPatch, EventView, MAX_PAGE_SIZE, Origin,
    PageRequest,
};
use phantom_domain::ids::CategoryId;
use phantom_domain::services::{EventChange, EventRef};
use phantom_domain::sync::SyncStatus;
use phantom_domain::timezone::TimeZoneName;
use phantom_domain::validation::{FieldErrors, REQUIRED};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::extract::{AuthUser, JsonForm, QueryParams, format_time};
use crate::openapi::{ErrorDetail, ValidationErrors};
use crate::state::AppState;

/// Fields of the representation a client may send back unchanged; they are ignored.
const READ_ONLY: &[&str] = &[
    "id",
    "origin",
    "category_name",
    "priority_level",
    "google_calendar_id",
    "sync_status",
    "sync_error",
    "created_at",
    "updated_at",
    "recurring_event_id",
    "original_start_time",
];

/// An event's id on the wire: an integer (a single event or a series), or an occurrence's
/// id string (`"17_20261208T090000Z"`, all-day `"17_20261208"`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
#[schema(as = EventId)]
pub enum WireEventId {
    /// A single event or a series.
    Event(i64),
    /// One occurrence of a series: the series' id, `_`, and its original start in UTC as
    /// `YYYYMMDDTHHMMSSZ` (all-day: the local date `YYYYMMDD`).
    #[schema(example = "17_20261208T090000Z")]
    Occurrence(String),
}

/// The public representation of an event.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Event)]
pub struct EventBody {
    /// The event's id: an integer, or an occurrence's id string.
    pub id: WireEventId,
    /// 1 to 200 characters.
    pub title: String,
    /// Free text, `""` when none.
    pub description: String,
    /// The category's id.
    pub category: i64,
    /// The category's name.
    pub category_name: String,
    /// The category's priority (higher is more important).
    pub priority_level: i32,
    /// RFC 3339, UTC.
    #[schema(format = DateTime)]
    pub start_time: String,
    /// RFC 3339, UTC; after `start_time`.
    #[schema(format = DateTime)]
    pub end_time: String,
    /// Whether a planner may move the event.
    pub is_flexible: bool,
    /// Whether the event is done.
    pub is_completed: bool,
    /// Whole days: `start_time` and `end_time` are midnights in the user's time zone.
    pub all_day: bool,
    /// `phantom` for events created through this API, `google` for events imported from
    /// Google Calendar.
    pub origin: WireOrigin,
    /// The event's id in Google Calendar, `null` until it exists there.
    #[schema(required = true)]
    pub google_calendar_id: Option<String>,
    /// Where the event stands with Google Calendar.
    pub sync_status: WireSyncStatus,
    /// Why the last delivery failed, in words a user can act on; `null` otherwise.
    #[schema(required = true)]
    pub sync_error: Option<String>,
    /// RFC 3339, UTC.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// RFC 3339, UTC.
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// A series' iCalendar lines (one `RRULE`, any `EXDATE` and `RDATE`); `[]` for a single
    /// event and for an occurrence.
    pub recurrence: Vec<String>,
    /// The IANA zone the event's local times belong to (a series repeats in it; an all-day
    /// event's midnights are in it).
    pub timezone: String,
    /// On an occurrence, the integer id of its series; `null` otherwise.
    #[schema(required = true)]
    pub recurring_event_id: Option<i64>,
    /// On an occurrence, its start under the series' rule (RFC 3339, UTC; it names the
    /// occurrence and never changes); `null` otherwise.
    #[schema(required = true, format = DateTime)]
    pub original_start_time: Option<String>,
}

impl From<&EventView> for EventBody {
    fn from(view: &EventView) -> Self {
        let e = &view.event;
        EventBody {
            id: match view.occurrence {
                Some(o) => WireEventId::Occurrence(o.key.to_string()),
                None => WireEventId::Event(e.id.0),
            },
            title: e.title.clone(),
            description: e.description.clone(),
            category: e.category_id.0,
            category_name: view.category_name.clone(),
            priority_level: view.priority_level,
            start_time: format_time(e.start_time),
            end_time: format_time(e.end_time),
            is_flexible: e.is_flexible,
            is_completed: e.is_completed,
            all_day: e.all_day,
            origin: e.origin.into(),
            google_calendar_id: e.google_calendar_id.clone(),
            sync_status: e.sync_status.into(),
            sync_error: e.sync_error.clone(),
            created_at: format_time(e.created_at),
            updated_at: format_time(e.updated_at),
            recurrence: e.recurrence.clone(),
            // The scheduling service resolves an old event's zone to its owner's.
            timezone: e.timezone.unwrap_or(TimeZoneName::UTC).name().to_owned(),
            recurring_event_id: view.occurrence.map(|o| o.key.series.0),
            original_start_time: view.occurrence.map(|o| format_time(o.original_start_time)),
        }
    }
}

/// `sync_status` on the wire.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = SyncStatus)]
pub enum WireSyncStatus {
    /// The user has not connected Google Calendar.
    NotConnected,
    /// A change is queued and not yet delivered.
    Pending,
    /// Google Calendar holds the current state.
    Synced,
    /// Delivery failed; `sync_error` says why.
    Failed,
}

impl From<SyncStatus> for WireSyncStatus {
    fn from(status: SyncStatus) -> Self {
        match status {
            SyncStatus::NotConnected => WireSyncStatus::NotConnected,
            SyncStatus::Pending => WireSyncStatus::Pending,
            SyncStatus::Synced => WireSyncStatus::Synced,
            SyncStatus::Failed => WireSyncStatus::Failed,
        }
    }
}

/// `origin` on the wire.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = Origin)]
pub enum WireOrigin {
    /// Created through this API.
    Phantom,
    /// Created in Google Calendar and imported.
    Google,
}

impl From<Origin> for WireOrigin {
    fn from(origin: Origin) -> Self {
        match origin {
            Origin::Phantom => WireOrigin::Phantom,
            Origin::Google => WireOrigin::Google,
        }
    }
}

/// One page of events, as DRF's `PageNumberPagination` shapes it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = EventPage)]
pub struct EventPageBody {
    /// How many events match the filters, on all pages.
    pub count: u64,
    /// The URL of the next page, `null` on the last.
    #[schema(required = true, format = "uri")]
    pub next: Option<String>,
    /// The URL of the previous page, `null` on the first.
    #[schema(required = true, format = "uri")]
    pub previous: Option<String>,
    /// The events of this page, ordered by `start_time`.
    pub results: Vec<EventBody>,
}

/// The body of `POST /api/events/` and `PUT /api/events/{id}/`. The read-only fields of
/// [`EventBody`] may be sent back unchanged and are ignored; any other field is refused.
#[derive(Debug, ToSchema)]
pub struct EventRequest {
    /// 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    /// Free text (default `""`).
    #[schema(required = false)]
    pub description: String,
    /// The id of a category the user may use.
    pub category: i64,
    /// RFC 3339 with an offset.
    #[schema(format = DateTime)]
    pub start_time: String,
    /// RFC 3339 with an offset; after `start_time`.
    #[schema(format = DateTime)]
    pub end_time: String,
    /// Default `true`.
    #[schema(required = false)]
    pub is_flexible: bool,
    /// Default `false`.
    #[schema(required = false)]
    pub is_completed: bool,
    /// Whole days (default `false`): the times move to the start of their local days in the
    /// event's time zone, the end to the start of the day after its last day unless it is a
    /// midnight already.
    #[schema(required = false)]
    pub all_day: bool,
    /// iCalendar lines making the event a series (default `[]`: a single event; omitted in a
    /// `PUT`: unchanged): one `RRULE:` line and any `EXDATE`/`RDATE` lines. Refused (`400`)
    /// on an occurrence unless `[]`.
    #[schema(required = false, example = json!(["RRULE:FREQ=WEEKLY;BYDAY=MO,WE"]))]
    pub recurrence: Vec<String>,
    /// An IANA zone (default: the user's when created; omitted in a `PUT`: unchanged).
    #[schema(required = false, example = "Europe/London")]
    pub timezone: String,
}

/// The body of `PATCH /api/events/{id}/`: any of the writable fields.
#[derive(Debug, ToSchema)]
pub struct EventPatchRequest {
    /// 1 to 200 characters.
    #[schema(required = false, min_length = 1, max_length = 200)]
    pub title: String,
    /// Free text.
    #[schema(required = false)]
    pub description: String,
    /// The id of a category the user may use.
    #[schema(required = false)]
    pub category: i64,
    /// RFC 3339 with an offset.
    #[schema(required = false, format = DateTime)]
    pub start_time: String,
    /// RFC 3339 with an offset; after `start_time`.
    #[schema(required = false, format = DateTime)]
    pub end_time: String,
    /// Whether a planner may move the event.
    #[schema(required = false)]
    pub is_flexible: bool,
    /// Whether the event is done.
    #[schema(required = false)]
    pub is_completed: bool,
    /// Whole days.
    #[schema(required = false)]
    pub all_day: bool,
    /// iCalendar lines; `[]` makes a series a single event. Refused on an occurrence unless
    /// `[]`.
    #[schema(required = false)]
    pub recurrence: Vec<String>,
    /// An IANA zone.
    #[schema(required = false)]
    pub timezone: String,
}

fn read_draft(form: &mut JsonForm) -> EventDraft {
    EventDraft {
        title: form.required_text("title"),
        description: form.text("description").unwrap_or_default(),
        category: CategoryId(form.required_pk("category")),
        start_time: form.required_time("start_time"),
        end_time: form.required_time("end_time"),
        is_flexible: form.boolean("is_flexible").unwrap_or(true),
        is_completed: form.boolean("is_completed").unwrap_or(false),
        all_day: form.boolean("all_day").unwrap_or(false),
        recurrence: form.text_list("recurrence"),
        timezone: form.zone("timezone"),
        series_end: None,
    }
}

fn read_patch(form: &mut JsonForm) -> EventPatch {
    EventPatch {
        title: form.text("title"),
        description: form.text("description"),
        category: form.pk("category").map(CategoryId),
        start_time: form.time("start_time"),
        end_time: form.time("end_time"),
        is_flexible: form.boolean("is_flexible"),
        is_completed: form.boolean("is_completed"),
        all_day: form.boolean("all_day"),
        recurrence: form.text_list("recurrence"),
        timezone: form.zone("timezone"),
    }
}

/// What a path's `{id}` names; anything but an integer or an exact occurrence id names no
/// event (`404`).
fn event_ref(id: &str) -> Result<EventRef, ApiError> {
    id.parse().map_err(|()| ApiError::NotFound)
}

const ID_PARAM: &str =
    "The event's integer id, or an occurrence's id (`17_20261208T090000Z`; all-day `17_20261208`).";

/// `POST /api/events/`
#[utoipa::path(
    post,
    path = "/api/events/",
    tag = "events",
    request_body = EventRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The new event; its sync to Google Calendar is queued.", body = EventBody),
        (status = 400, description = "Invalid input, e.g. `end_time` not after `start_time` or an unknown category.", body = ValidationErrors),
        (status = 401, description = "No, or an invalid, access token.", body = ErrorDetail),
    )
)]
pub async fn create(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    mut form: JsonForm,
) -> Result<HttpResponse, ApiError> {
    let draft = read_draft(&mut form);
    form.finish_strict(READ_ONLY)?;
    let view = state.scheduling.create_event(user, draft).await?;
    state.sync_wakeup.notify_one();
    tracing::info!(event_id = view.event.id.0, "event created");
    Ok(HttpResponse::Created().json(EventBody::from(&view)))
}

/// `GET /api/events/{id}/`
#[utoipa::path(
    get,
    path = "/api/events/{id}/",
    tag = "events",
    params(("id" = String, Path, description = ID_PARAM)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The event.", body = EventBody),
        (status = 401, description = "No, or an invalid, access token.", body = ErrorDetail),
        (status = 404, description = "No such event for this user.", body = ErrorDetail),
    )
)]
pub async fn show(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let view = state.scheduling.event_by_ref(user, event_ref(&id)?).await?;
    Ok(HttpResponse::Ok().json(EventBody::from(&view)))
}

/// `PUT /api/events/{id}/`
#[utoipa::path(
    put,
    path = "/api/events/{id}/",
    tag = "events",
    params(("id" = String, Path, description = ID_PARAM)),
    request_body = EventRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The stored event.", body = EventBody),
        (status = 400, description = "Invalid input.", body = ValidationErrors),
        (status = 401, description = "No, or an invalid, access token.", body = ErrorDetail),
        (status = 404, description = "No such event for this user.", body = ErrorDetail),
    )
)]
pub async fn replace(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    id: web::Path<String>,
    mut form: JsonForm,
) -> Result<HttpResponse, ApiError> {
    let draft = read_draft(&mut form);
    form.finish_strict(READ_ONLY)?;
    update(&state, user, event_ref(&id)?, EventChange::Replace(draft)).await
}

/// `PATCH /api/events/{id}/`
#[utoipa::path(
    patch,
    path = "/api/events/{id}/",
    tag = "events",
    params(("id" = String, Path, description = ID_PARAM)),
    request_body = EventPatchRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The stored event.", body = EventBody),
        (status = 400, description = "Invalid input.", body = ValidationErrors),
        (status = 401, description = "No, or an invalid, access token.", body = ErrorDetail),
        (status = 404, description = "No such event for this user.", body = ErrorDetail),
    )
)]
pub async fn patch(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    id: web::Path<String>,
    mut form: JsonForm,
) -> Result<HttpResponse, ApiError> {
    let patch = read_patch(&mut form);
    form.finish_strict(READ_ONLY)?;
    update(&state, user, event_ref(&id)?, EventChange::Patch(patch)).await
}

async fn update(
    state: &AppState,
    user: phantom_domain::ids::UserId,
    id: EventRef,
    change: EventChange,
) -> Result<HttpResponse, ApiError> {
    let view = state.scheduling.update_by_ref(user, id, change).await?;
    state.sync_wakeup.notify_one();
    tracing::info!(event_id = view.event.id.0, "event updated");
    Ok(HttpResponse::Ok().json(EventBody::from(&view)))
}

/// `DELETE /api/events/{id}/`
#[utoipa::path(
    delete,
    path = "/api/events/{id}/",
    tag = "events",
    params(("id" = String, Path, description = ID_PARAM)),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted; the deletion in Google Calendar is queued."),
        (status = 401, description = "No, or an invalid, access token.", body = ErrorDetail),
        (status = 404, description = "No such event for this user.", body = ErrorDetail),
    )
)]
pub async fn delete(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state
        .scheduling
        .delete_by_ref(user, event_ref(&id)?)
        .await?;
    state.sync_wakeup.notify_one();
    tracing::info!(event_id = %id, "event deleted");
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/events/`: `?page=&page_size=&start=&end=&category=&priority=`.
#[utoipa::path(
    get,
    path = "/api/events/",
    tag = "events",
    params(
        ("page" = Option<u32>, Query, minimum = 1, description = "The page number, from 1 (default 1)."),
        ("page_size" = Option<u32>, Query, minimum = 1, description = "Events per page (default 50); more than 500 counts as 500."),
        ("start" = Option<String>, Query, format = DateTime, description = "Only events that end after this time (RFC 3339)."),
        ("end" = Option<String>, Query, format = DateTime, description = "Only events that start before this time (RFC 3339)."),
        ("category" = Option<i64>, Query, description = "Only events of this category."),
        ("priority" = Option<i32>, Query, description = "Only events whose category has this priority level."),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of the user's stored events, ordered by `start_time`: single events and each series once (with its `recurrence`), never occurrences. `start`/`end` keep a series whose span (first start to last end, or forever) meets the window.", body = EventPageBody),
        (status = 400, description = "A malformed parameter.", body = ValidationErrors),
        (status = 401, description = "No, or an invalid, access token.", body = ErrorDetail),
        (status = 404, description = "A page past the last.", body = ErrorDetail),
    )
)]
pub async fn list(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let params = QueryParams::of(&req)?;
    let mut errors = FieldErrors::new();
    let filter = EventFilter {
        start: params.time("start", &mut errors),
        end: params.time("end", &mut errors),
        category: params.integer("category", &mut errors).map(CategoryId),
        priority: params.integer("priority", &mut errors).and_then(|p| {
            i32::try_from(p)
                .map_err(|_| errors.add("priority", "Out of range."))
                .ok()
        }),
    };
    let page = PageRequest {
        number: positive(&params, "page", 1, u32::MAX, &mut errors),
        // DRF clamps an oversized page_size to the maximum rather than refusing it.
        size: positive(
            &params,
            "page_size",
            DEFAULT_PAGE_SIZE,
            MAX_PAGE_SIZE,
            &mut errors,
        ),
    };
    errors.into_result()?;
    let result = state.scheduling.list_events(user, filter, page).await?;
    let shown = u64::from(page.number) * u64::from(page.size);
    let next = (shown < result.count).then(|| params.page_link(&req, page.number + 1));
    let previous = (page.number > 1).then(|| params.page_link(&req, page.number - 1));
    Ok(HttpResponse::Ok().json(EventPageBody {
        count: result.count,
        next,
        previous,
        results: result.items.iter().map(EventBody::from).collect(),
    }))
}

/// A positive integer parameter, `default` when absent, at most `max`.
fn positive(
    params: &QueryParams,
    name: &str,
    default: u32,
    max: u32,
    errors: &mut FieldErrors,
) -> u32 {
    match params.integer(name, errors) {
        None => default,
        Some(n) if n >= 1 => u32::try_from(n).unwrap_or(u32::MAX).min(max),
        Some(_) => {
            errors.add(name, "Ensure this value is greater than or equal to 1.");
            default
        }
    }
}

/// `GET /api/events/range/?start=&end=`: a plain list of the events meeting `[start, end)`.
#[utoipa::path(
    get,
    path = "/api/events/range/",
    tag = "events",
    params(
        ("start" = String, Query, format = DateTime, description = "The start of the interval (RFC 3339), inclusive."),
        ("end" = String, Query, format = DateTime, description = "The end of the interval (RFC 3339), exclusive."),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The expanded view of `[start, end)`: the single events and every live occurrence of every series meeting it (occurrences carry their occurrence `id`, `recurring_event_id`, `original_start_time` and `recurrence: []`), ordered by `start_time`. Cancelled occurrences do not appear.", body = Vec<EventBody>),
        (status = 400, description = "A missing or malformed parameter, or a window longer than 366 days (on `end`).", body = ValidationErrors),
        (status = 401, description = "No, or an invalid, access token.", body = ErrorDetail),
    )
)]
pub async fn range(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let params = QueryParams::of(&req)?;
    let mut errors = FieldErrors::new();
    let start = params.time("start", &mut errors);
    let end = params.time("end", &mut errors);
    for (name, value) in [("start", start), ("end", end)] {
        if value.is_none() && !errors.has(name) {
            errors.add(name, REQUIRED);
        }
    }
    let (Some(start), Some(end)) = (start, end) else {
        return Err(ApiError::Validation(errors));
    };
    errors.into_result()?;
    let events = state.scheduling.events_in_range(user, start, end).await?;
    let body: Vec<EventBody> = events.iter().map(EventBody::from).collect();
    Ok(HttpResponse::Ok().json(body))
}

/// `POST /api/events/{occurrence id}/split/`: "this and following events".
#[utoipa::path(
    post,
    path = "/api/events/{id}/split/",
    tag = "events",
    params(("id" = String, Path, description = "An occurrence's id (`17_20261208T090000Z`; all-day `17_20261208`).")),
    request_body = EventPatchRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The new series, from this occurrence on, with the given fields changed. The old series now ends before it (its `RRULE` gets the `UNTIL` just before it; a `COUNT` becomes the matching `UNTIL`); its changed and cancelled occurrences from this one on are dropped.", body = EventBody),
        (status = 400, description = "Invalid input; a split at the series' first occurrence is refused under `non_field_errors` (change the whole series instead).", body = ValidationErrors),
        (status = 401, description = "No, or an invalid, access token.", body = ErrorDetail),
        (status = 404, description = "The id names no live occurrence of this user's series.", body = ErrorDetail),
    )
)]
pub async fn split(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    id: web::Path<String>,
    mut form: JsonForm,
) -> Result<HttpResponse, ApiError> {
    let patch = read_patch(&mut form);
    form.finish_strict(READ_ONLY)?;
    let EventRef::Occurrence(key) = event_ref(&id)? else {
        return Err(ApiError::NotFound);
    };
    let view = state.scheduling.split(user, key, patch).await?;
    state.sync_wakeup.notify_one();
    tracing::info!(
        series = key.series.0,
        new_series = view.event.id.0,
        "series split"
    );
    Ok(HttpResponse::Created().json(EventBody::from(&view)))
}
