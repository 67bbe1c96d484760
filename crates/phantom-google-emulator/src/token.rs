//! The token and revocation endpoints of `oauth2.googleapis.com`.

use std::collections::HashMap;
use std::time::Instant;

use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::errors::oauth_error;
use crate::gate::guarded;
use crate::request_log::Operation;
use crate::state::{AccessToken, AppState, RefreshToken, random_token};

/// Client credentials from HTTP Basic (RFC 6749 §2.3.1: each part
/// form-urlencoded, then base64) or else from the form body.
fn client_credentials(
    req: &HttpRequest,
    form: &HashMap<String, String>,
) -> Option<(String, String)> {
    let basic = req
        .headers()
        .get("Authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            value
                .strip_prefix("Basic ")
                .or(value.strip_prefix("basic "))
        });
    if let Some(encoded) = basic {
        let decoded = STANDARD.decode(encoded.trim()).ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (id, secret) = decoded.split_once(':')?;
        return Some((form_decode(id)?, form_decode(secret)?));
    }
    let id = form.get("client_id")?.clone();
    Some((id, form.get("client_secret").cloned().unwrap_or_default()))
}

fn form_decode(part: &str) -> Option<String> {
    percent_encoding::percent_decode_str(&part.replace('+', " "))
        .decode_utf8()
        .ok()
        .map(|decoded| decoded.into_owned())
}

/// Parses a form body; repeated keys keep their first value.
pub(crate) fn parse_form(body: &[u8]) -> HashMap<String, String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    let mut form = HashMap::new();
    for (key, value) in pairs {
        form.entry(key).or_insert(value);
    }
    form
}

/// `POST /token`.
pub(crate) async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let form = parse_form(&body);
    let operation = match form.get("grant_type").map(String::as_str) {
        Some("refresh_token") => Operation::Refresh,
        _ => Operation::Token,
    };
    guarded(&state, &req, operation, || {
        let Some((client_id, secret)) = client_credentials(&req, &form) else {
            return oauth_error(
                400,
                "invalid_request",
                "Could not determine client ID from request.",
            );
        };
        if client_id != state.config.client_id {
            return oauth_error(401, "invalid_client", "The OAuth client was not found.");
        }
        if secret != state.config.client_secret {
            return oauth_error(401, "invalid_client", "Unauthorized");
        }
        match form.get("grant_type").map(String::as_str) {
            Some("authorization_code") => exchange_code(&state, &form),
            Some("refresh_token") => refresh(&state, &form),
            other => oauth_error(
                400,
                "unsupported_grant_type",
                &format!("Invalid grant_type: {}", other.unwrap_or_default()),
            ),
        }
    })
    .await
}

fn exchange_code(state: &AppState, form: &HashMap<String, String>) -> HttpResponse {
    let Some(code) = form.get("code") else {
        return oauth_error(400, "invalid_request", "Missing required parameter: code");
    };
    let mut inner = state.lock();
    let Some(issued) = inner.codes.get(code).cloned() else {
        return oauth_error(400, "invalid_grant", "Malformed auth code.");
    };
    if issued.used
        || Instant::now() >= issued.expires_at
        || issued.client_id != state.config.client_id
    {
        return oauth_error(400, "invalid_grant", "Bad Request");
    }
    if form.get("redirect_uri") != Some(&issued.redirect_uri) {
        return oauth_error(400, "redirect_uri_mismatch", "Bad Request");
    }
    if let Some((challenge, method)) = &issued.pkce {
        let Some(verifier) = form.get("code_verifier") else {
            return oauth_error(400, "invalid_grant", "Missing code verifier.");
        };
        let computed = if method == "S256" {
            URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
        } else {
            verifier.clone()
        };
        if &computed != challenge {
            return oauth_error(400, "invalid_grant", "Invalid code verifier.");
        }
    }
    if let Some(stored) = inner.codes.get_mut(code) {
        stored.used = true;
    }
    let grant = inner.new_grant(&issued.client_id, &issued.user, &issued.scopes);
    let access_token = random_token("ya29.a0", 120);
    let lifetime = state.config.access_token_lifetime;
    inner.access_tokens.insert(
        access_token.clone(),
        AccessToken {
            grant: grant.clone(),
            expires_at: Instant::now() + lifetime,
        },
    );
    let mut answer = json!({
        "access_token": access_token,
        "expires_in": lifetime.as_secs(),
        "scope": issued.scopes.join(" "),
        "token_type": "Bearer",
    });
    if issued.offline {
        let refresh_token = random_token("1//0", 100);
        inner
            .refresh_tokens
            .insert(refresh_token.clone(), RefreshToken { grant, valid: true });
        answer["refresh_token"] = refresh_token.into();
    }
    token_answer(&answer)
}

fn refresh(state: &AppState, form: &HashMap<String, String>) -> HttpResponse {
    let Some(token) = form.get("refresh_token") else {
        return oauth_error(
            400,
            "invalid_request",
            "Missing required parameter: refresh_token",
        );
    };
    let mut inner = state.lock();
    let Some(refresh) = inner.refresh_tokens.get(token).cloned() else {
        return oauth_error(400, "invalid_grant", "Token has been expired or revoked.");
    };
    if !refresh.valid || inner.revoked_grants.contains(&refresh.grant.id) {
        return oauth_error(400, "invalid_grant", "Token has been expired or revoked.");
    }
    if refresh.grant.client_id != state.config.client_id {
        return oauth_error(401, "unauthorized_client", "Unauthorized");
    }
    let access_token = random_token("ya29.a0", 120);
    let lifetime = state.config.access_token_lifetime;
    let scope = refresh.grant.scopes.join(" ");
    inner.access_tokens.insert(
        access_token.clone(),
        AccessToken {
            grant: refresh.grant,
            expires_at: Instant::now() + lifetime,
        },
    );
    token_answer(&json!({
        "access_token": access_token,
        "expires_in": lifetime.as_secs(),
        "scope": scope,
        "token_type": "Bearer",
    }))
}

fn token_answer(answer: &serde_json::Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Pragma", "no-cache"))
        .json(answer)
}

/// `POST /revoke`: the token may come in the query or the form body.
pub(crate) async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    guarded(&state, &req, Operation::Revoke, || {
        let token = parse_form(&body)
            .remove("token")
            .or_else(|| parse_form(req.query_string().as_bytes()).remove("token"));
        let Some(token) = token else {
            return oauth_error(400, "invalid_request", "Missing required parameter: token");
        };
        if state.lock().revoke(&token) {
            HttpResponse::Ok().json(json!({}))
        } else {
            oauth_error(400, "invalid_token", "Token expired or revoked")
        }
    })
    .await
}
