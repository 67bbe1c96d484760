//! `/api/events/`: CRUD, filtered pages and the range query.

use actix_web::{HttpRequest, HttpResponse, web};
use phantom_domain::event::{
    DEFAULT_PAGE_SIZE, EventDraft, EventFilter, EventPatch, EventView, MAX_PAGE_SIZE, PageRequest,
};
use phantom_domain::ids::{CategoryId, EventId};
use phantom_domain::services::EventChange;
use phantom_domain::validation::{FieldErrors, REQUIRED};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::extract::{AuthUser, JsonForm, QueryParams, format_time};
use crate::state::AppState;

/// Fields of the representation a client may send back unchanged; they are ignored.
const READ_ONLY: &[&str] = &[
    "id",
    "category_name",
    "priority_level",
    "google_calendar_id",
    "sync_status",
    "sync_error",
    "created_at",
    "updated_at",
];

/// The public representation of an event.
fn event_json(view: &EventView) -> Value {
    let e = &view.event;
    json!({
        "id": e.id,
        "title": e.title,
        "description": e.description,
        "category": e.category_id,
        "category_name": view.category_name,
        "priority_level": view.priority_level,
        "start_time": format_time(e.start_time),
        "end_time": format_time(e.end_time),
        "is_flexible": e.is_flexible,
        "is_completed": e.is_completed,
        "google_calendar_id": e.google_calendar_id,
        "sync_status": e.sync_status.as_str(),
        "sync_error": e.sync_error,
        "created_at": format_time(e.created_at),
        "updated_at": format_time(e.updated_at),
    })
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
    }
}

/// `POST /api/events/`
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
    Ok(HttpResponse::Created().json(event_json(&view)))
}

/// `GET /api/events/{id}/`
pub async fn show(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let view = state.scheduling.event(user, EventId(*id)).await?;
    Ok(HttpResponse::Ok().json(event_json(&view)))
}

/// `PUT /api/events/{id}/`
pub async fn replace(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    id: web::Path<i64>,
    mut form: JsonForm,
) -> Result<HttpResponse, ApiError> {
    let draft = read_draft(&mut form);
    form.finish_strict(READ_ONLY)?;
    update(&state, user, EventId(*id), EventChange::Replace(draft)).await
}

/// `PATCH /api/events/{id}/`
pub async fn patch(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    id: web::Path<i64>,
    mut form: JsonForm,
) -> Result<HttpResponse, ApiError> {
    let patch = EventPatch {
        title: form.text("title"),
        description: form.text("description"),
        category: form.pk("category").map(CategoryId),
        start_time: form.time("start_time"),
        end_time: form.time("end_time"),
        is_flexible: form.boolean("is_flexible"),
        is_completed: form.boolean("is_completed"),
    };
    form.finish_strict(READ_ONLY)?;
    update(&state, user, EventId(*id), EventChange::Patch(patch)).await
}

async fn update(
    state: &AppState,
    user: phantom_domain::ids::UserId,
    id: EventId,
    change: EventChange,
) -> Result<HttpResponse, ApiError> {
    let view = state.scheduling.update_event(user, id, change).await?;
    state.sync_wakeup.notify_one();
    tracing::info!(event_id = id.0, "event updated");
    Ok(HttpResponse::Ok().json(event_json(&view)))
}

/// `DELETE /api/events/{id}/`
pub async fn delete(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    state.scheduling.delete_event(user, EventId(*id)).await?;
    state.sync_wakeup.notify_one();
    tracing::info!(event_id = *id, "event deleted");
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/events/`: `?page=&page_size=&start=&end=&category=&priority=`.
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
    let results: Vec<Value> = result.items.iter().map(event_json).collect();
    Ok(HttpResponse::Ok().json(json!({
        "count": result.count,
        "next": next,
        "previous": previous,
        "results": results,
    })))
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
    let body: Vec<Value> = events.iter().map(event_json).collect();
    Ok(HttpResponse::Ok().json(body))
}
