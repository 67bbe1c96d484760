//! The `/_emulator/` JSON endpoints that drive a separately running emulator.

use serde_json::{Value, json};

use crate::support::*;

#[tokio::test]
async fn control_endpoints_drive_faults_consent_tokens_and_log() {
    let emu = emulator().await;
    let control = |path: &str| format!("{}/_emulator/{path}", emu.base_url());
    let tokens = sign_in(&emu).await;

    let fault = json!({
        "matcher": { "operation": "insert" },
        "times": 1,
        "action": { "status": { "code": 503, "retry_after": { "seconds": 2 } } },
    });
    assert_eq!(
        send(http().post(control("faults")).json(&fault))
            .await
            .status(),
        204
    );
    let delay =
        json!({ "matcher": { "operation": "list" }, "action": { "delay": 10 }, "times": 1 });
    assert_eq!(
        send(http().post(control("faults")).json(&delay))
            .await
            .status(),
        204
    );
    let faulted = insert(&emu, &tokens.access, &sample_event(Some("controlled1"))).await;
    assert_eq!(faulted.status(), 503);
    assert_eq!(faulted.headers()["retry-after"], "2");
    let lost = json!({ "action": "apply_then_503", "times": 1 });
    send(http().post(control("faults")).json(&lost)).await;
    assert_eq!(
        insert(&emu, &tokens.access, &sample_event(Some("controlled1")))
            .await
            .status(),
        503
    );
    send(http().delete(control("faults"))).await;

    let events: Value =
        json_of(send(http().get(control(&format!("events/{}", emu.default_user())))).await).await;
    assert_eq!(events[0]["id"], "controlled1");
    assert_eq!(events[0]["status"], "confirmed");

    let log: Value = json_of(send(http().get(control("log"))).await).await;
    let last = log.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["operation"], "insert");
    assert_eq!(last["status"], 503);
    assert!(last["at"].is_string());

    send(http().post(control("access-tokens/expire"))).await;
    assert_eq!(
        send(http().get(events_url(&emu)).bearer_auth(&tokens.access))
            .await
            .status(),
        401
    );
    send(
        http()
            .post(control("refresh-tokens/invalidate"))
            .json(&json!({})),
    )
    .await;
    let refresh = tokens.refresh.unwrap();
    let refused = token(
        &emu,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(json_of(refused).await["error"], "invalid_grant");

    send(
        http()
            .put(control("consent"))
            .json(&json!({ "grant_scopes": ["openid"] })),
    )
    .await;
    let params = redirect_params(&authorize(&emu, &[("scope", "openid email")]).await);
    assert_eq!(param(&params, "scope"), Some("openid"));
    send(http().put(control("consent")).json(&json!("deny"))).await;
    let params = redirect_params(&authorize(&emu, &[]).await);
    assert_eq!(param(&params, "error"), Some("access_denied"));
}

#[tokio::test]
async fn prompt_consent_shows_a_page_a_person_can_answer() {
    let emu = emulator().await;
    emu.set_consent(phantom_google_emulator::Consent::Prompt);
    let scope = format!("openid {CALENDAR_EVENTS}");
    let page = authorize(&emu, &[("scope", &scope)]).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let marker = "name=\"request\" value=\"";
    let start = html.find(marker).unwrap() + marker.len();
    let request_id = &html[start..start + html[start..].find('"').unwrap()];
    let answer = send(
        http()
            .post(format!("{}/o/oauth2/v2/consent", emu.base_url()))
            .form(&[
                ("request", request_id),
                ("scope", "openid"),
                ("decision", "allow"),
            ]),
    )
    .await;
    let params = redirect_params(&answer);
    assert_eq!(param(&params, "scope"), Some("openid"));
    assert!(param(&params, "code").is_some());
}
