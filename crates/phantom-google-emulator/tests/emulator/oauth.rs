//! The OAuth 2.0 web-server flow.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use phantom_google_emulator::{Consent, Operation};

use crate::support::*;

#[tokio::test]
async fn code_flow_with_pkce_issues_offline_tokens() {
    let emu = emulator().await;
    let scope = format!("{OPENID_SCOPES} {CALENDAR_EVENTS}");
    let (verifier, challenge) = pkce();
    let response = authorize(
        &emu,
        &[
            ("scope", &scope),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("state", "a b&c=d/é"),
        ],
    )
    .await;
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(REDIRECT_URI), "{location}");
    assert!(
        !location.contains(' ') && !location.contains("é"),
        "encoded: {location}"
    );
    let params = redirect_params(&response);
    assert_eq!(param(&params, "state"), Some("a b&c=d/é"));
    assert_eq!(param(&params, "scope"), Some(scope.as_str()));
    let code = param(&params, "code").unwrap();

    let response = exchange(&emu, code, &verifier).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body = json_of(response).await;
    assert!(body["access_token"].as_str().unwrap().starts_with("ya29."));
    assert!(body["refresh_token"].as_str().unwrap().starts_with("1//"));
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], scope.as_str());

    let operations: Vec<Operation> = emu.request_log().iter().map(|r| r.operation).collect();
    assert_eq!(operations, [Operation::Authorize, Operation::Token]);
}

#[tokio::test]
async fn code_is_single_use() {
    let emu = emulator().await;
    let (code, verifier) = code(&emu, &[]).await;
    assert_eq!(exchange(&emu, &code, &verifier).await.status(), 200);
    let again = exchange(&emu, &code, &verifier).await;
    assert_eq!(again.status(), 400);
    assert_eq!(json_of(again).await["error"], "invalid_grant");
}

#[tokio::test]
async fn pkce_verifier_must_match_the_challenge() {
    let emu = emulator().await;
    let (code, _) = code(&emu, &[]).await;
    let (other_verifier, _) = pkce();
    let wrong = exchange(&emu, &code, &other_verifier).await;
    assert_eq!(wrong.status(), 400);
    assert_eq!(json_of(wrong).await["error"], "invalid_grant");
    let missing = token(
        &emu,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
        ],
    )
    .await;
    assert_eq!(json_of(missing).await["error"], "invalid_grant");
}

#[tokio::test]
async fn redirect_uri_must_be_registered_and_repeated_exactly() {
    let emu = emulator().await;
    let page = authorize(&emu, &[("redirect_uri", "https://evil.example/callback")]).await;
    assert_eq!(page.status(), 400);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Error 400: redirect_uri_mismatch")
    );

    let unknown = authorize(
        &emu,
        &[("client_id", "someone-else.apps.googleusercontent.com")],
    )
    .await;
    assert_eq!(unknown.status(), 400);
    assert!(
        unknown
            .text()
            .await
            .unwrap()
            .contains("Error 401: invalid_client")
    );

    let (code, verifier) = code(&emu, &[]).await;
    let other = token(
        &emu,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:8080/other"),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(other.status(), 400);
    assert_eq!(json_of(other).await["error"], "redirect_uri_mismatch");
}

#[tokio::test]
async fn malformed_authorization_requests_get_error_pages() {
    let emu = emulator().await;
    for extra in [
        [("response_type", "token"), ("scope", CALENDAR_EVENTS)],
        [("response_type", "code"), ("scope", "")],
        [("code_challenge_method", "S512"), ("code_challenge", "abc")],
        [("code_challenge_method", "S256"), ("code_challenge", "")],
    ] {
        let page = authorize(&emu, &extra).await;
        assert_eq!(page.status(), 400, "{extra:?}");
        assert!(
            page.text().await.unwrap().contains("Error 400"),
            "{extra:?}"
        );
    }
}

#[tokio::test]
async fn client_may_authenticate_with_basic_or_form_fields() {
    let emu = emulator().await;
    let (code, verifier) = code(&emu, &[]).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", verifier.as_str()),
    ];
    let basic = |secret: &str| {
        // RFC 6749 §2.3.1: form-urlencode each part, then base64.
        let id: String = url::form_urlencoded::byte_serialize(emu.client_id().as_bytes()).collect();
        let secret: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    };
    let wrong = send(
        http()
            .post(emu.token_url())
            .header("Authorization", basic("nope"))
            .form(&form),
    )
    .await;
    assert_eq!(wrong.status(), 401);
    let body = json_of(wrong).await;
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(body["error_description"], "Unauthorized");
    let missing_secret = send(
        http()
            .post(emu.token_url())
            .form(&[form.as_slice(), &[("client_id", emu.client_id())]].concat()),
    )
    .await;
    assert_eq!(missing_secret.status(), 401);

    let right = send(
        http()
            .post(emu.token_url())
            .header("Authorization", basic(emu.client_secret()))
            .form(&form),
    )
    .await;
    assert_eq!(right.status(), 200);
}

#[tokio::test]
async fn online_access_gets_no_refresh_token() {
    let emu = emulator().await;
    let tokens = sign_in_with(&emu, &[("access_type", "online")]).await;
    assert!(tokens.refresh.is_none());
}

#[tokio::test]
async fn refresh_issues_access_tokens_until_the_refresh_token_is_invalidated() {
    let emu = emulator().await;
    let refresh = sign_in(&emu).await.refresh.unwrap();
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
    ];
    let response = token(&emu, &form).await;
    assert_eq!(response.status(), 200);
    let body = json_of(response).await;
    assert!(body["access_token"].as_str().unwrap().starts_with("ya29."));
    assert!(
        body.get("refresh_token").is_none(),
        "Google does not rotate: {body}"
    );
    assert_eq!(body["scope"], CALENDAR_EVENTS);
    assert_eq!(
        emu.request_log().last().unwrap().operation,
        Operation::Refresh
    );

    assert!(emu.invalidate_refresh_token(&refresh));
    let refused = token(&emu, &form).await;
    assert_eq!(refused.status(), 400);
    let body = json_of(refused).await;
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(
        body["error_description"],
        "Token has been expired or revoked."
    );

    let unknown = token(&emu, &[("grant_type", "password")]).await;
    assert_eq!(json_of(unknown).await["error"], "unsupported_grant_type");
}

#[tokio::test]
async fn revoking_the_refresh_token_revokes_its_access_tokens() {
    let emu = emulator().await;
    let tokens = sign_in(&emu).await;
    let refresh = tokens.refresh.unwrap();
    let revoke = |token: String| {
        let url = emu.revoke_url();
        async move { send(http().post(url).form(&[("token", token)])).await }
    };
    let response = revoke(refresh.clone()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(json_of(response).await, serde_json::json!({}));

    let listed = send(http().get(events_url(&emu)).bearer_auth(&tokens.access)).await;
    assert_eq!(listed.status(), 401);
    let refreshed = token(
        &emu,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(json_of(refreshed).await["error"], "invalid_grant");

    let again = revoke(refresh).await;
    assert_eq!(again.status(), 400);
    assert_eq!(json_of(again).await["error"], "invalid_token");
    assert_eq!(revoke("never-issued".into()).await.status(), 400);
}

#[tokio::test]
async fn denied_consent_redirects_with_access_denied() {
    let emu = emulator().await;
    emu.set_consent(Consent::Deny);
    let params = redirect_params(&authorize(&emu, &[]).await);
    assert_eq!(param(&params, "error"), Some("access_denied"));
    assert_eq!(param(&params, "state"), Some("xyz"));
    assert_eq!(param(&params, "code"), None);
}

#[tokio::test]
async fn partial_consent_grants_only_the_ticked_scopes() {
    let emu = emulator().await;
    emu.set_consent(Consent::GrantScopes(vec!["openid".into(), "email".into()]));
    let scope = format!("{OPENID_SCOPES} {CALENDAR_EVENTS}");
    let (code, verifier) = code(&emu, &[("scope", &scope)]).await;
    let body = json_of(exchange(&emu, &code, &verifier).await).await;
    assert_eq!(body["scope"], "openid email");
    let access = body["access_token"].as_str().unwrap();
    let listed = send(http().get(events_url(&emu)).bearer_auth(access)).await;
    assert_eq!(listed.status(), 403);
    assert!(listed.headers().contains_key("www-authenticate"));
    let body = json_of(listed).await;
    assert_eq!(reason(&body), "insufficientPermissions");
    assert_eq!(body["error"]["status"], "PERMISSION_DENIED");
}

#[tokio::test]
async fn login_hint_picks_the_google_account() {
    let emu = emulator().await;
    let alice = sign_in(&emu).await.access;
    let bob = sign_in_with(&emu, &[("login_hint", "bob@example.com")])
        .await
        .access;
    assert_eq!(
        insert(&emu, &alice, &sample_event(Some("aliceevent1")))
            .await
            .status(),
        200
    );
    assert_eq!(
        insert(&emu, &bob, &sample_event(Some("bobevent01")))
            .await
            .status(),
        200
    );
    assert_eq!(emu.events(emu.default_user())[0].id, "aliceevent1");
    let bobs = emu.events("bob@example.com");
    assert_eq!(bobs.len(), 1);
    assert_eq!(bobs[0].id, "bobevent01");
    let by_email = send(
        http()
            .get(format!(
                "{}calendars/bob%40example.com/events/bobevent01",
                emu.calendar_api_url()
            ))
            .bearer_auth(&bob),
    )
    .await;
    assert_eq!(by_email.status(), 200);
}
