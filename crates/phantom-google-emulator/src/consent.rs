//! The HTML consent screen used in [`Consent::Prompt`](crate::Consent::Prompt)
//! mode, so a person can click through the flow in a browser.

use actix_web::{HttpRequest, HttpResponse, web};
use html_escape::encode_double_quoted_attribute as attr;
use html_escape::encode_text as text;

use crate::errors::error_page;
use crate::gate::guarded;
use crate::oauth::{deny, grant};
use crate::request_log::Operation;
use crate::state::{AppState, PendingConsent, random_token};
use crate::token::parse_form;

/// Path the consent form posts to.
pub(crate) const CONSENT_PATH: &str = "/o/oauth2/v2/consent";

/// Parks `request` and shows the consent page for it.
pub(crate) fn show(state: &AppState, request: PendingConsent) -> HttpResponse {
    let id = random_token("", 24);
    let checkboxes: String = request
        .scopes
        .iter()
        .map(|scope| {
            format!(
                "<label><input type=\"checkbox\" name=\"scope\" value=\"{}\" checked> {}</label><br>\n",
                attr(scope),
                text(scope)
            )
        })
        .collect();
    let page = format!(
        "<!doctype html>\n<html><head><title>Sign in - Google Accounts (emulated)</title></head><body>\n\
         <h1>Emulated Google</h1>\n\
         <p>Signed in as <b>{user}</b>. <b>{client}</b> wants to access your Google Account:</p>\n\
         <form method=\"post\" action=\"{CONSENT_PATH}\">\n\
         <input type=\"hidden\" name=\"request\" value=\"{id}\">\n{checkboxes}\
         <button name=\"decision\" value=\"deny\">Cancel</button>\n\
         <button name=\"decision\" value=\"allow\">Continue</button>\n\
         </form></body></html>\n",
        user = text(&request.user),
        client = text(&request.client_id),
    );
    state.lock().pending.insert(id, request);
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page)
}

/// `POST /o/oauth2/v2/consent`: the person's answer.
pub(crate) async fn answer(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    guarded(&state, &req, Operation::Authorize, || {
        // Checkboxes repeat the `scope` key, so the pairs are read as a list.
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
        let form = parse_form(&body);
        let pending = form
            .get("request")
            .and_then(|id| state.lock().pending.remove(id));
        let Some(request) = pending else {
            return error_page(400, "invalid_request", "This consent request has expired.");
        };
        if form.get("decision").map(String::as_str) != Some("allow") {
            return deny(&request);
        }
        let ticked: Vec<String> = pairs
            .into_iter()
            .filter(|(key, _)| key == "scope")
            .map(|(_, scope)| scope)
            .filter(|scope| request.scopes.contains(scope))
            .collect();
        grant(&state, request, ticked)
    })
    .await
}
