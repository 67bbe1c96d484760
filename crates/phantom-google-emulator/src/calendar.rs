//! Calendar API v3, the `events` collection of a user's calendars.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value};

use crate::bearer::authorize;
use crate::errors::ApiError;
use crate::event::{EventStatus, StoredEvent};
use crate::gate::guarded;
use crate::listing::list_events;
use crate::request_log::Operation;
use crate::state::{AppState, Inner, random_event_id};
use crate::validation::{patched_fields, requested_status, validate, validate_id, writable_fields};

/// Either answer is a complete response; `Err` stops the handler early.
pub(crate) type Answer = Result<HttpResponse, ApiError>;

pub(crate) fn parse_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::parse_error("expected a JSON object")),
        Err(error) => Err(ApiError::parse_error(error)),
    }
}

fn ok(event: &StoredEvent) -> HttpResponse {
    HttpResponse::Ok().json(event.resource())
}

/// The event or instance `id` of `owner`'s calendar, unless unknown (404)
/// or, when `live` is asked for, cancelled (410).
fn find(inner: &Inner, owner: &str, id: &str, live: bool) -> Result<StoredEvent, ApiError> {
    let event = inner.lookup(owner, id).ok_or_else(ApiError::not_found)?;
    if live && event.status == EventStatus::Cancelled {
        return Err(ApiError::deleted());
    }
    Ok(event)
}

/// Google's conditional modification: an `If-Match` naming another revision than `event`'s
/// current one (the client's copy is stale) is refused with `412 conditionNotMet`. `*`, or no
/// header at all, matches any revision.
fn check_if_match(req: &HttpRequest, event: &StoredEvent) -> Result<(), ApiError> {
    let Some(wanted) = req.headers().get(actix_web::http::header::IF_MATCH) else {
        return Ok(());
    };
    let current = event.etag();
    let matches = wanted.to_str().is_ok_and(|tags| {
        tags.split(',')
            .map(str::trim)
            .any(|tag| tag == "*" || tag == current)
    });
    if matches {
        Ok(())
    } else {
        Err(ApiError::condition_not_met())
    }
}

/// `POST calendars/{calendarId}/events`.
pub(crate) async fn insert(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    guarded(&state, &req, Operation::Insert, || {
        do_insert(&state, &req, &path, &body).unwrap_or_else(HttpResponse::from)
    })
    .await
}

fn do_insert(state: &AppState, req: &HttpRequest, calendar_id: &str, body: &[u8]) -> Answer {
    let owner = authorize(state, req, calendar_id, Operation::Insert)?;
    let body = parse_object(body)?;
    let id = match body.get("id") {
        None | Some(Value::Null) => random_event_id(),
        Some(Value::String(id)) => {
            validate_id(id)?;
            id.clone()
        }
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid",
                "Invalid resource id value.",
            ));
        }
    };
    let status = requested_status(&body)?.unwrap_or(EventStatus::Confirmed);
    let fields = writable_fields(body);
    validate(&fields)?;
    let mut inner = state.lock();
    // Ids stay taken after deletion: Google keeps cancelled events.
    if inner.event(&owner, &id).is_some() {
        return Err(ApiError::duplicate());
    }
    let event = inner.commit(StoredEvent::new(id, &owner, fields, status));
    Ok(ok(&event))
}

/// `GET calendars/{calendarId}/events/{eventId}`.
pub(crate) async fn get(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    guarded(&state, &req, Operation::Get, || {
        let (calendar_id, id) = path.into_inner();
        // Like Google's, `get` answers cancelled events too (status "cancelled").
        let answer = authorize(&state, &req, &calendar_id, Operation::Get)
            .and_then(|owner| Ok(ok(&find(&state.lock(), &owner, &id, false)?)));
        answer.unwrap_or_else(HttpResponse::from)
    })
    .await
}

/// `PUT calendars/{calendarId}/events/{eventId}`.
pub(crate) async fn update(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    guarded(&state, &req, Operation::Update, || {
        modify(&state, &req, &path, &body, Operation::Update).unwrap_or_else(HttpResponse::from)
    })
    .await
}

/// `PATCH calendars/{calendarId}/events/{eventId}`.
pub(crate) async fn patch(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    guarded(&state, &req, Operation::Patch, || {
        modify(&state, &req, &path, &body, Operation::Patch).unwrap_or_else(HttpResponse::from)
    })
    .await
}

fn modify(
    state: &AppState,
    req: &HttpRequest,
    path: &(String, String),
    body: &[u8],
    operation: Operation,
) -> Answer {
    let (calendar_id, id) = path;
    let owner = authorize(state, req, calendar_id, operation)?;
    let mut body = parse_object(body)?;
    let status = requested_status(&body)?;
    let mut inner = state.lock();
    let mut event = find(&inner, &owner, id, true)?;
    check_if_match(req, &event)?;
    if event.occurrence.is_some() {
        // An instance follows its series' rule: it takes no rule of its own.
        let rule = body.remove("recurrence");
        if rule
            .as_ref()
            .and_then(Value::as_array)
            .is_some_and(|lines| !lines.is_empty())
        {
            return Err(ApiError::bad_request("invalid", "Invalid recurrence rule."));
        }
    }
    let fields = if operation == Operation::Patch {
        patched_fields(&event.fields, body)
    } else {
        writable_fields(body)
    };
    validate(&fields)?;
    let status = status.unwrap_or(if operation == Operation::Patch {
        event.status
    } else {
        EventStatus::Confirmed
    });
    event.replace(fields, status);
    Ok(ok(&inner.save(event)))
}

/// `DELETE calendars/{calendarId}/events/{eventId}`.
pub(crate) async fn delete(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    guarded(&state, &req, Operation::Delete, || {
        let (calendar_id, id) = path.into_inner();
        let answer = authorize(&state, &req, &calendar_id, Operation::Delete).and_then(|owner| {
            let mut inner = state.lock();
            let mut event = find(&inner, &owner, &id, true)?;
            check_if_match(&req, &event)?;
            event.cancel();
            inner.save(event);
            Ok(HttpResponse::NoContent().finish())
        });
        answer.unwrap_or_else(HttpResponse::from)
    })
    .await
}

/// `GET calendars/{calendarId}/events`.
pub(crate) async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    guarded(&state, &req, Operation::List, || {
        let answer = authorize(&state, &req, &path, Operation::List)
            .and_then(|owner| list_events(&state, &owner, req.query_string()));
        answer.unwrap_or_else(HttpResponse::from)
    })
    .await
}
