//! Calendar API v3, the `events` collection of a user's calendars.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::bearer::authorize;
use crate::errors::ApiError;
use crate::event::{EventStatus, StoredEvent};
use crate::gate::guarded;
use crate::request_log::Operation;
use crate::state::{AppState, random_event_id};
use crate::validation::{patched_fields, requested_status, validate, validate_id, writable_fields};

/// Either answer is a complete response; `Err` stops the handler early.
type Answer = Result<HttpResponse, ApiError>;

fn parse_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::parse_error("expected a JSON object")),
        Err(error) => Err(ApiError::parse_error(error)),
    }
}

fn ok(event: &StoredEvent) -> HttpResponse {
    HttpResponse::Ok().json(event.resource())
}

/// The event at `events[index]` of the owner's calendar, unless unknown (404)
/// or, when `live` is asked for, cancelled (410).
fn find(state: &AppState, owner: &str, id: &str, live: bool) -> Result<StoredEvent, ApiError> {
    let inner = state.lock();
    let event = inner
        .calendars
        .get(owner)
        .and_then(|events| events.iter().find(|event| event.id == id))
        .ok_or_else(ApiError::not_found)?;
    if live && event.status == EventStatus::Cancelled {
        return Err(ApiError::deleted());
    }
    Ok(event.clone())
}

fn store(state: &AppState, event: &StoredEvent) {
    let mut inner = state.lock();
    let events = inner.calendars.entry(event.owner.clone()).or_default();
    match events.iter_mut().find(|stored| stored.id == event.id) {
        Some(stored) => *stored = event.clone(),
        None => events.push(event.clone()),
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
    let event = StoredEvent::new(id, &owner, fields, status);
    let mut inner = state.lock();
    let events = inner.calendars.entry(owner).or_default();
    // Ids stay taken after deletion: Google keeps cancelled events.
    if events.iter().any(|stored| stored.id == event.id) {
        return Err(ApiError::duplicate());
    }
    events.push(event.clone());
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
        let answer = authorize(&state, &req, &calendar_id, Operation::Get)
            .and_then(|owner| Ok(ok(&find(&state, &owner, &id, false)?)));
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
    let body = parse_object(body)?;
    let mut event = find(state, &owner, id, true)?;
    let status = requested_status(&body)?;
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
    store(state, &event);
    Ok(ok(&event))
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
            let mut event = find(&state, &owner, &id, true)?;
            event.cancel();
            store(&state, &event);
            Ok(HttpResponse::NoContent().finish())
        });
        answer.unwrap_or_else(HttpResponse::from)
    })
    .await
}

/// Query of `GET calendars/{calendarId}/events`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListParams {
    max_results: Option<String>,
    page_token: Option<String>,
    show_deleted: Option<String>,
    time_min: Option<String>,
    time_max: Option<String>,
}

/// `GET calendars/{calendarId}/events`.
pub(crate) async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    guarded(&state, &req, Operation::List, || {
        do_list(&state, &req, &path).unwrap_or_else(HttpResponse::from)
    })
    .await
}

fn do_list(state: &AppState, req: &HttpRequest, calendar_id: &str) -> Answer {
    let owner = authorize(state, req, calendar_id, Operation::List)?;
    let params: ListParams = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let invalid =
        |name: &str| ApiError::bad_request("invalid", format!("Invalid value for: {name}"));
    let max_results = match &params.max_results {
        None => 250,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|&max| max > 0)
            .ok_or_else(|| invalid("maxResults"))?
            .min(2500),
    };
    // Page tokens are opaque to clients; here they are just the offset.
    let offset = match &params.page_token {
        None => 0,
        Some(raw) => raw.parse::<usize>().map_err(|_| invalid("pageToken"))?,
    };
    let instant = |raw: &Option<String>, name: &str| -> Result<Option<DateTime<Utc>>, ApiError> {
        raw.as_deref()
            .map(|raw| {
                DateTime::parse_from_rfc3339(raw)
                    .map(|at| at.with_timezone(&Utc))
                    .map_err(|_| invalid(name))
            })
            .transpose()
    };
    let time_min = instant(&params.time_min, "timeMin")?;
    let time_max = instant(&params.time_max, "timeMax")?;
    let show_deleted = params.show_deleted.as_deref() == Some("true");
    let matching: Vec<StoredEvent> = state
        .lock()
        .calendars
        .get(&owner)
        .map(|events| {
            events
                .iter()
                .filter(|event| show_deleted || event.status != EventStatus::Cancelled)
                .filter(|event| match event.span() {
                    Some((start, end)) => {
                        time_min.is_none_or(|min| end > min)
                            && time_max.is_none_or(|max| start < max)
                    }
                    None => true,
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let page: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(max_results)
        .map(StoredEvent::resource)
        .collect();
    let updated = matching
        .iter()
        .map(|event| event.updated)
        .max()
        .unwrap_or_else(Utc::now);
    let mut answer = json!({
        "kind": "calendar#events",
        "etag": format!("\"{}\"", updated.timestamp_micros()),
        "summary": owner,
        "description": "",
        "updated": updated.to_rfc3339_opts(SecondsFormat::Millis, true),
        "timeZone": "UTC",
        "accessRole": "owner",
        "defaultReminders": [],
        "items": page,
    });
    if offset + max_results < matching.len() {
        answer["nextPageToken"] = (offset + max_results).to_string().into();
    }
    Ok(HttpResponse::Ok().json(answer))
}
