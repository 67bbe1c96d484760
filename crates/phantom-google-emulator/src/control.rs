//! The test-side controls, shared by the in-process [`Emulator`](crate::Emulator)
//! handle and the JSON endpoints under `/_emulator/` that drive a separately
//! running emulator.

use std::time::Instant;

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use crate::config::Consent;
use crate::event::EmulatedEvent;
use crate::faults::{Fault, Match};
use crate::notify::{Notification, WatchChannel};
use crate::person::{EditError, EventEdit};
use crate::request_log::LoggedRequest;
use crate::state::AppState;

impl AppState {
    pub(crate) fn set_consent(&self, consent: Consent) {
        self.lock().consent = consent;
    }

    pub(crate) fn set_signed_in_user(&self, user: &str) {
        user.clone_into(&mut self.lock().signed_in_user);
    }

    pub(crate) fn push_fault(&self, fault: Fault) {
        self.lock().faults.push(fault);
    }

    pub(crate) fn armed_faults(&self) -> Vec<Fault> {
        self.lock().faults.armed()
    }

    pub(crate) fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    pub(crate) fn remove_faults(&self, matcher: &Match) {
        self.lock().faults.remove(matcher);
    }

    pub(crate) fn expire_all_access_tokens(&self) {
        let now = Instant::now();
        for token in self.lock().access_tokens.values_mut() {
            token.expires_at = now;
        }
    }

    /// False if the token was never issued.
    pub(crate) fn invalidate_refresh_token(&self, token: &str) -> bool {
        self.lock()
            .refresh_tokens
            .get_mut(token)
            .map(|refresh| refresh.valid = false)
            .is_some()
    }

    pub(crate) fn invalidate_all_refresh_tokens(&self) {
        for refresh in self.lock().refresh_tokens.values_mut() {
            refresh.valid = false;
        }
    }

    pub(crate) fn request_log(&self) -> Vec<LoggedRequest> {
        self.lock().log.clone()
    }

    pub(crate) fn clear_request_log(&self) {
        self.lock().log.clear();
    }

    pub(crate) fn invalidate_sync_tokens(&self) {
        // Listings in progress keep their pages; their `nextSyncToken` is
        // of the old epoch, so the read after them starts over too.
        self.lock().sync_epoch += 1;
    }

    pub(crate) fn channels(&self) -> Vec<WatchChannel> {
        let now = Utc::now();
        self.lock()
            .channels
            .iter()
            .filter(|channel| channel.live(now))
            .map(|channel| channel.public.clone())
            .collect()
    }

    pub(crate) fn expire_all_channels(&self) {
        let now = Utc::now();
        for channel in &mut self.lock().channels {
            channel.public.expiration = channel.public.expiration.min(now);
        }
    }

    pub(crate) fn notifications(&self) -> Vec<Notification> {
        self.lock().notifications.clone()
    }

    pub(crate) fn clear_notifications(&self) {
        self.lock().notifications.clear();
    }

    pub(crate) fn events(&self, owner: &str) -> Vec<EmulatedEvent> {
        let inner = self.lock();
        inner
            .calendars
            .get(owner)
            .map(|events| {
                events
                    .iter()
                    .map(|event| inner.view(event).to_public())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Body of `POST /_emulator/refresh-tokens/invalidate`.
#[derive(Debug, Default, Deserialize)]
struct InvalidateBody {
    /// One token; all of them when absent.
    token: Option<String>,
}

/// Mounts the control endpoints.
pub(crate) fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/consent", web::put().to(put_consent))
        .route("/user", web::put().to(put_user))
        .route("/faults", web::post().to(post_fault))
        .route("/faults", web::delete().to(delete_faults))
        .route("/log", web::get().to(get_log))
        .route("/log", web::delete().to(delete_log))
        .route("/access-tokens/expire", web::post().to(expire_access))
        .route(
            "/refresh-tokens/invalidate",
            web::post().to(invalidate_refresh),
        )
        .route("/events/{owner}", web::get().to(get_events))
        .route("/calendars/{owner}/events", web::post().to(create_event))
        .route("/calendars/{owner}/events/{id}", web::get().to(get_event))
        .route(
            "/calendars/{owner}/events/{id}",
            web::patch().to(edit_event),
        )
        .route(
            "/calendars/{owner}/events/{id}",
            web::delete().to(delete_event),
        )
        .route(
            "/calendars/{owner}/events/{id}/instances",
            web::get().to(get_instances),
        )
        .route("/sync-tokens/invalidate", web::post().to(invalidate_sync))
        .route("/channels", web::get().to(get_channels))
        .route("/channels/expire", web::post().to(expire_channels))
        .route("/notifications", web::get().to(get_notifications))
        .route("/notifications", web::delete().to(delete_notifications));
}

fn done() -> HttpResponse {
    HttpResponse::NoContent().finish()
}

async fn put_consent(state: web::Data<AppState>, consent: web::Json<Consent>) -> HttpResponse {
    state.set_consent(consent.into_inner());
    done()
}

async fn put_user(state: web::Data<AppState>, user: web::Json<String>) -> HttpResponse {
    state.set_signed_in_user(&user);
    done()
}

async fn post_fault(state: web::Data<AppState>, fault: web::Json<Fault>) -> HttpResponse {
    state.push_fault(fault.into_inner());
    done()
}

async fn delete_faults(state: web::Data<AppState>) -> HttpResponse {
    state.clear_faults();
    done()
}

async fn get_log(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(state.request_log())
}

async fn delete_log(state: web::Data<AppState>) -> HttpResponse {
    state.clear_request_log();
    done()
}

async fn expire_access(state: web::Data<AppState>) -> HttpResponse {
    state.expire_all_access_tokens();
    done()
}

async fn invalidate_refresh(state: web::Data<AppState>, body: web::Bytes) -> HttpResponse {
    let request: InvalidateBody = serde_json::from_slice(&body).unwrap_or_default();
    match request.token {
        None => state.invalidate_all_refresh_tokens(),
        Some(token) if !state.invalidate_refresh_token(&token) => {
            return HttpResponse::NotFound().json(json!({ "error": "unknown refresh token" }));
        }
        Some(_) => {}
    }
    done()
}

async fn get_events(state: web::Data<AppState>, owner: web::Path<String>) -> HttpResponse {
    HttpResponse::Ok().json(state.events(&owner))
}

/// The answer to a change made "in Google": the event, or why not.
fn edited(result: Result<EmulatedEvent, EditError>) -> HttpResponse {
    match result {
        Ok(event) => HttpResponse::Ok().json(event),
        Err(error) => {
            let body = json!({ "error": error.to_string() });
            match error {
                EditError::NotFound { .. } => HttpResponse::NotFound().json(body),
                EditError::Deleted(_) => HttpResponse::Gone().json(body),
                EditError::Invalid(_) => HttpResponse::BadRequest().json(body),
            }
        }
    }
}

/// An [`EventEdit`] body (empty: no change); malformed JSON is refused.
fn edit_body(body: &[u8]) -> Result<EventEdit, EditError> {
    if body.is_empty() {
        return Ok(EventEdit::default());
    }
    serde_json::from_slice(body).map_err(|error| EditError::Invalid(error.to_string()))
}

async fn create_event(
    state: web::Data<AppState>,
    owner: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    edited(edit_body(&body).and_then(|edit| state.create_event(&owner, edit)))
}

async fn get_event(state: web::Data<AppState>, path: web::Path<(String, String)>) -> HttpResponse {
    let (owner, id) = path.into_inner();
    match state.event(&owner, &id) {
        Some(event) => HttpResponse::Ok().json(event),
        None => edited(Err(EditError::NotFound { owner, id })),
    }
}

async fn edit_event(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let (owner, id) = path.into_inner();
    edited(edit_body(&body).and_then(|edit| state.edit_event(&owner, &id, edit)))
}

async fn delete_event(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (owner, id) = path.into_inner();
    edited(state.delete_event(&owner, &id))
}

/// Query of `GET /_emulator/calendars/{owner}/events/{id}/instances`.
#[derive(Debug, Deserialize)]
struct Window {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

async fn get_instances(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    window: web::Query<Window>,
) -> HttpResponse {
    let (owner, id) = path.into_inner();
    match state.instances(&owner, &id, window.from, window.to) {
        Ok(instances) => HttpResponse::Ok().json(instances),
        Err(error) => edited(Err(error)),
    }
}

async fn invalidate_sync(state: web::Data<AppState>) -> HttpResponse {
    state.invalidate_sync_tokens();
    done()
}

async fn get_channels(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(state.channels())
}

async fn expire_channels(state: web::Data<AppState>) -> HttpResponse {
    state.expire_all_channels();
    done()
}

async fn get_notifications(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(state.notifications())
}

async fn delete_notifications(state: web::Data<AppState>) -> HttpResponse {
    state.clear_notifications();
    done()
}
