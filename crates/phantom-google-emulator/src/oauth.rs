//! The authorization endpoint of `accounts.google.com`: the start of
//! Google's OAuth 2.0 web-server flow.

use std::time::Instant;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::config::Consent;
use crate::consent;
use crate::errors::{ErrorPage, error_page};
use crate::gate::guarded;
use crate::request_log::Operation;
use crate::state::{AppState, AuthCode, PendingConsent, random_token};

/// Query of `GET /o/oauth2/v2/auth`.
#[derive(Debug, Default, Deserialize)]
struct AuthorizeParams {
    client_id: Option<String>,
    redirect_uri: Option<String>,
    response_type: Option<String>,
    scope: Option<String>,
    access_type: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    login_hint: Option<String>,
}

/// `GET /o/oauth2/v2/auth`.
pub(crate) async fn authorize(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    guarded(
        &state,
        &req,
        Operation::Authorize,
        || match serde_urlencoded::from_str::<AuthorizeParams>(req.query_string()) {
            Ok(params) => validate_authorization(&state, params)
                .map_or_else(HttpResponse::from, |request| decide(&state, request)),
            Err(error) => error_page(400, "invalid_request", &error.to_string()),
        },
    )
    .await
}

/// Checks the request the way Google does before showing any consent screen:
/// problems here get an error page, never a redirect.
fn validate_authorization(
    state: &AppState,
    params: AuthorizeParams,
) -> Result<PendingConsent, ErrorPage> {
    let missing = |name: &str| {
        ErrorPage::new(
            400,
            "invalid_request",
            format!("Missing required parameter: {name}"),
        )
    };
    let config = &state.config;
    let client_id = params.client_id.ok_or_else(|| missing("client_id"))?;
    if client_id != config.client_id {
        return Err(ErrorPage::new(
            401,
            "invalid_client",
            "The OAuth client was not found.",
        ));
    }
    let redirect_uri = params.redirect_uri.ok_or_else(|| missing("redirect_uri"))?;
    if !config.redirect_uris.allows(&redirect_uri) {
        return Err(ErrorPage::new(
            400,
            "redirect_uri_mismatch",
            format!(
                "You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 policy.\n\
                 Request details: redirect_uri={redirect_uri}"
            ),
        ));
    }
    match params.response_type.as_deref() {
        Some("code") => {}
        None => return Err(missing("response_type")),
        Some(other) => {
            return Err(ErrorPage::new(
                400,
                "unsupported_response_type",
                format!("Invalid response_type: {other}"),
            ));
        }
    }
    let scopes: Vec<String> = params
        .scope
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if scopes.is_empty() {
        return Err(missing("scope"));
    }
    let offline = match params.access_type.as_deref() {
        None | Some("online") => false,
        Some("offline") => true,
        Some(other) => {
            return Err(ErrorPage::new(
                400,
                "invalid_request",
                format!("Invalid access_type: {other}"),
            ));
        }
    };
    let pkce = match (params.code_challenge, params.code_challenge_method) {
        (None, None) => None,
        (None, Some(_)) => return Err(missing("code_challenge")),
        // RFC 7636 §4.3: an absent method means "plain".
        (Some(challenge), None) => Some((challenge, "plain".to_owned())),
        (Some(challenge), Some(method)) if method == "S256" || method == "plain" => {
            Some((challenge, method))
        }
        (Some(_), Some(method)) => {
            return Err(ErrorPage::new(
                400,
                "invalid_request",
                format!("Invalid code_challenge_method: {method}"),
            ));
        }
    };
    let user = params
        .login_hint
        .filter(|hint| !hint.is_empty())
        .unwrap_or_else(|| state.lock().signed_in_user.clone());
    Ok(PendingConsent {
        client_id,
        redirect_uri,
        state: params.state,
        pkce,
        scopes,
        offline,
        user,
    })
}

/// Applies the configured consent answer to a valid request.
fn decide(state: &AppState, request: PendingConsent) -> HttpResponse {
    let consent = state.lock().consent.clone();
    match consent {
        Consent::Grant => {
            let scopes = request.scopes.clone();
            grant(state, request, scopes)
        }
        Consent::GrantScopes(allowed) => {
            let scopes = request
                .scopes
                .iter()
                .filter(|scope| allowed.contains(scope))
                .cloned()
                .collect();
            grant(state, request, scopes)
        }
        Consent::Deny => deny(&request),
        Consent::Prompt => consent::show(state, request),
    }
}

/// Issues a code for `scopes` and redirects back to the client.
pub(crate) fn grant(
    state: &AppState,
    request: PendingConsent,
    scopes: Vec<String>,
) -> HttpResponse {
    let code = random_token("4/0A", 60);
    let scope = scopes.join(" ");
    state.lock().codes.insert(
        code.clone(),
        AuthCode {
            client_id: request.client_id,
            redirect_uri: request.redirect_uri.clone(),
            pkce: request.pkce,
            scopes,
            offline: request.offline,
            user: request.user,
            expires_at: Instant::now() + state.config.code_lifetime,
            used: false,
        },
    );
    let mut pairs = Vec::new();
    if let Some(client_state) = &request.state {
        pairs.push(("state", client_state.as_str()));
    }
    pairs.push(("code", &code));
    pairs.push(("scope", &scope));
    redirect(&request.redirect_uri, &pairs)
}

/// Redirects back with `error=access_denied`, as when the user presses Cancel.
pub(crate) fn deny(request: &PendingConsent) -> HttpResponse {
    let mut pairs = vec![("error", "access_denied")];
    if let Some(client_state) = &request.state {
        pairs.push(("state", client_state.as_str()));
    }
    redirect(&request.redirect_uri, &pairs)
}

fn redirect(redirect_uri: &str, pairs: &[(&str, &str)]) -> HttpResponse {
    // The URI was validated as a URL against the allow-list; an exact-match
    // entry that is not a URL cannot be redirected to.
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        return error_page(
            400,
            "redirect_uri_mismatch",
            "The redirect URI is not a URL.",
        );
    };
    url.query_pairs_mut().extend_pairs(pairs);
    HttpResponse::Found()
        .insert_header(("Location", url.as_str()))
        .finish()
}
