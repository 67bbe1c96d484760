//! `events.watch` and `channels.stop`: opening and closing push-notification
//! channels on a calendar.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::bearer::authorize;
use crate::calendar::{Answer, parse_object};
use crate::errors::ApiError;
use crate::gate::guarded;
use crate::notify::{Channel, WatchChannel, loopback};
use crate::request_log::Operation;
use crate::state::AppState;

/// Channel lifetime when the request names none (Google: one week).
const DEFAULT_TTL_SECS: i64 = 604_800;
/// Google's limit on channel ids.
const MAX_CHANNEL_ID: usize = 64;

/// The opaque, stable id of `owner`'s events collection (base32hex, like
/// Google's resource ids).
pub(crate) fn resource_id(owner: &str) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";
    Sha256::digest(owner.as_bytes())
        .iter()
        .take(27)
        .map(|byte| char::from(ALPHABET[usize::from(byte % 32)]))
        .collect()
}

fn text(body: &Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => Ok(Some(value.clone())),
        Some(_) => Err(ApiError::bad_request(
            "invalid",
            format!("Invalid value for: {key}"),
        )),
    }
}

fn required(body: &Map<String, Value>, key: &str) -> Result<String, ApiError> {
    text(body, key)?
        .filter(|value| !value.is_empty())
        .ok_or_else(|| ApiError::bad_request("required", format!("Required parameter: {key}")))
}

/// The channel's expiry: `params.ttl` seconds from now, else the requested
/// `expiration` (ms since the epoch), else a week.
fn expiration(body: &Map<String, Value>, now: DateTime<Utc>) -> Result<DateTime<Utc>, ApiError> {
    let ttl = body.get("params").and_then(|params| params.get("ttl"));
    if let Some(ttl) = ttl {
        let seconds = ttl
            .as_str()
            .and_then(|raw| raw.parse::<i64>().ok())
            .or_else(|| ttl.as_i64())
            .filter(|&seconds| seconds > 0)
            .ok_or_else(|| ApiError::bad_request("invalid", "Invalid value for: params.ttl"))?;
        return Ok(now + TimeDelta::seconds(seconds));
    }
    if let Some(raw) = text(body, "expiration")? {
        return raw
            .parse::<i64>()
            .ok()
            .and_then(DateTime::from_timestamp_millis)
            .filter(|at| *at > now)
            .ok_or_else(|| ApiError::bad_request("invalid", "Invalid value for: expiration"));
    }
    Ok(now + TimeDelta::seconds(DEFAULT_TTL_SECS))
}

/// Google only calls `https` addresses; the emulator also accepts `http` on
/// loopback hosts, where tests and local servers listen.
fn check_address(address: &str) -> Result<(), ApiError> {
    let url = url::Url::parse(address)
        .map_err(|_| ApiError::bad_request("invalid", "Invalid value for: address"))?;
    let accepted = match url.scheme() {
        "https" => true,
        "http" => loopback(address),
        _ => false,
    };
    if accepted {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "push.webhookUrlNotHttps",
            format!("WebHook callback must be HTTPS: {address}"),
        ))
    }
}

fn check_channel_id(id: &str) -> Result<(), ApiError> {
    let valid = id.len() <= MAX_CHANNEL_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'+' | b'/' | b'='));
    if valid {
        Ok(())
    } else {
        Err(ApiError::bad_request("invalid", "Invalid value for: id"))
    }
}

/// `POST calendars/{calendarId}/events/watch`.
pub(crate) async fn watch(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    guarded(&state, &req, Operation::Watch, || {
        do_watch(&state, &req, &path, &body).unwrap_or_else(HttpResponse::from)
    })
    .await
}

fn do_watch(state: &AppState, req: &HttpRequest, calendar_id: &str, body: &[u8]) -> Answer {
    let owner = authorize(state, req, calendar_id, Operation::Watch)?;
    let body = parse_object(body)?;
    let id = required(&body, "id")?;
    check_channel_id(&id)?;
    let kind = required(&body, "type")?;
    if !matches!(kind.to_ascii_lowercase().as_str(), "web_hook" | "webhook") {
        return Err(ApiError::bad_request(
            "invalid",
            format!("Invalid channel type: {kind}"),
        ));
    }
    let address = required(&body, "address")?;
    check_address(&address)?;
    let token = text(&body, "token")?;
    let now = Utc::now();
    let expiration = expiration(&body, now)?;
    let expiration =
        DateTime::from_timestamp_millis(expiration.timestamp_millis()).unwrap_or(expiration);
    let public = WatchChannel {
        id: id.clone(),
        resource_id: resource_id(&owner),
        resource_uri: format!(
            "{}/calendar/v3/calendars/{calendar_id}/events?alt=json",
            state.base_url
        ),
        token,
        address,
        owner: owner.clone(),
        expiration,
    };
    let mut inner = state.lock();
    if inner
        .channels
        .iter()
        .any(|channel| channel.public.id == id && channel.live(now))
    {
        return Err(ApiError::bad_request(
            "channelIdNotUnique",
            format!("Channel id {id} not unique"),
        ));
    }
    inner.channels.push(Channel {
        public: public.clone(),
        stopped: false,
        messages: 0,
    });
    let index = inner.channels.len() - 1;
    inner.notify(&owner, Some(index));
    let mut answer = json!({
        "kind": "api#channel",
        "id": public.id,
        "resourceId": public.resource_id,
        "resourceUri": public.resource_uri,
        "expiration": public.expiration.timestamp_millis().to_string(),
    });
    if let Some(token) = public.token {
        answer["token"] = token.into();
    }
    Ok(HttpResponse::Ok().json(answer))
}

/// `POST channels/stop`.
pub(crate) async fn stop(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    guarded(&state, &req, Operation::StopChannel, || {
        do_stop(&state, &req, &body).unwrap_or_else(HttpResponse::from)
    })
    .await
}

fn do_stop(state: &AppState, req: &HttpRequest, body: &[u8]) -> Answer {
    let user = authorize(state, req, "primary", Operation::StopChannel)?;
    let body = parse_object(body)?;
    let id = required(&body, "id")?;
    let resource_id = required(&body, "resourceId")?;
    let now = Utc::now();
    let mut inner = state.lock();
    let channel = inner.channels.iter_mut().find(|channel| {
        channel.public.id == id
            && channel.public.resource_id == resource_id
            && channel.public.owner == user
            && channel.live(now)
    });
    match channel {
        Some(channel) => {
            channel.stopped = true;
            Ok(HttpResponse::NoContent().finish())
        }
        None => Err(ApiError::new(
            404,
            "notFound",
            format!("Channel '{id}' not found"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_ids_are_stable_per_calendar() {
        assert_eq!(resource_id("a@gmail.com"), resource_id("a@gmail.com"));
        assert_ne!(resource_id("a@gmail.com"), resource_id("b@gmail.com"));
        assert_eq!(resource_id("a@gmail.com").len(), 27);
    }

    #[test]
    fn addresses_must_be_https_or_loopback_http() {
        assert!(check_address("https://phantom.example.com/hook").is_ok());
        assert!(check_address("http://127.0.0.1:8000/hook").is_ok());
        assert!(check_address("http://localhost:8000/hook").is_ok());
        assert!(check_address("http://[::1]:8000/hook").is_ok());
        assert!(check_address("http://phantom.example.com/hook").is_err());
        assert!(check_address("not a url").is_err());
    }
}
