//! Registration, login and the token endpoints.

use std::time::Duration;

use phantom_adapters::auth::JwtCodec;
use phantom_domain::ids::UserId;
use phantom_domain::ports::{TokenCodec, TokenKind};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{PASSWORD, SECRET, body, spawn_app};

#[tokio::test]
async fn register_returns_the_user_without_secrets() {
    let app = spawn_app().await;
    let response = app
        .post(
            "/api/auth/register/",
            None,
            &json!({"username": "ada", "password": PASSWORD, "email": "ada@example.org",
                    "name": "Ada", "timezone": "Europe/London"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let user = body(response).await;
    assert_eq!(
        user,
        json!({"id": user["id"], "username": "ada", "email": "ada@example.org", "name": "Ada",
               "timezone": "Europe/London", "default_event_duration": 60})
    );
}

#[tokio::test]
async fn register_refuses_bad_input_per_field() {
    let app = spawn_app().await;
    let cases = [
        (json!({"password": PASSWORD}), "username"),
        (json!({"username": "bob"}), "password"),
        (json!({"username": "bob", "password": "short"}), "password"),
        (
            json!({"username": "bob", "password": "12345678901"}),
            "password",
        ),
        (json!({"username": "bob", "password": ""}), "password"),
        (
            json!({"username": "b o b", "password": PASSWORD}),
            "username",
        ),
        (
            json!({"username": "bob", "password": PASSWORD, "timezone": "Mars/Base"}),
            "timezone",
        ),
        (
            json!({"username": "bob", "password": PASSWORD, "email": "nope"}),
            "email",
        ),
        (json!({"username": 7, "password": PASSWORD}), "username"),
        (
            json!({"username": "bob", "password": PASSWORD, "name": "a\u{0}b"}),
            "name",
        ),
    ];
    for (request, field) in cases {
        let response = app.post("/api/auth/register/", None, &request).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{request}");
        let errors = body(response).await;
        assert!(errors[field][0].is_string(), "{request} → {errors}");
    }
}

#[tokio::test]
async fn login_refresh_verify_logout_follow_simplejwt() {
    let app = spawn_app().await;
    let user = app.user_named("grace").await;

    let refreshed = app
        .post(
            "/api/auth/token/refresh/",
            None,
            &json!({"refresh": user.refresh}),
        )
        .await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let access = body(refreshed).await["access"]
        .as_str()
        .expect("access")
        .to_owned();
    assert_eq!(
        app.get("/api/categories/", &access).await.status(),
        StatusCode::OK
    );

    for token in [&user.access, &user.refresh] {
        let verified = app
            .post("/api/auth/token/verify/", None, &json!({"token": token}))
            .await;
        assert_eq!(verified.status(), StatusCode::OK);
        assert_eq!(body(verified).await, json!({}));
    }

    let logout = app
        .post(
            "/api/auth/logout/",
            Some(&user.access),
            &json!({"refresh": user.refresh}),
        )
        .await;
    assert_eq!(logout.status(), StatusCode::RESET_CONTENT);
    let again = app
        .post(
            "/api/auth/token/refresh/",
            None,
            &json!({"refresh": user.refresh}),
        )
        .await;
    assert_eq!(
        again.status(),
        StatusCode::UNAUTHORIZED,
        "blacklisted refresh accepted"
    );
    assert_eq!(body(again).await["code"], "token_not_valid");
    let verify = app
        .post(
            "/api/auth/token/verify/",
            None,
            &json!({"token": user.refresh}),
        )
        .await;
    assert_eq!(verify.status(), StatusCode::UNAUTHORIZED);
    // As simplejwt: a blacklisted token cannot be blacklisted again.
    let twice = app
        .post(
            "/api/auth/logout/",
            Some(&user.access),
            &json!({"refresh": user.refresh}),
        )
        .await;
    assert_eq!(twice.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body(twice).await["code"], "token_not_valid");
}

#[tokio::test]
async fn wrong_credentials_are_401_alike() {
    let app = spawn_app().await;
    app.user_named("linus").await;
    for (username, password) in [("linus", "wrong password!"), ("nobody", PASSWORD)] {
        let response = app
            .post(
                "/api/auth/login/",
                None,
                &json!({"username": username, "password": password}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            body(response).await,
            json!({"detail": "No active account found with the given credentials"})
        );
    }
    let missing = app
        .post("/api/auth/login/", None, &json!({"username": "linus"}))
        .await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        body(missing).await,
        json!({"password": ["This field is required."]})
    );
}

#[tokio::test]
async fn tokens_are_not_interchangeable_or_forgeable() {
    let app = spawn_app().await;
    let user = app.user().await;

    // A refresh token is no access token, and the reverse.
    assert_eq!(
        app.get("/api/events/", &user.refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let as_refresh = app
        .post(
            "/api/auth/token/refresh/",
            None,
            &json!({"refresh": user.access}),
        )
        .await;
    assert_eq!(as_refresh.status(), StatusCode::UNAUTHORIZED);

    // Signed with another key, unsigned (alg none), tampered, expired, garbage.
    let other = JwtCodec::new(
        b"another-secret-key-that-is-long-enough-0123",
        Duration::from_secs(60),
        Duration::from_secs(60),
    );
    let forged = other
        .issue(UserId(user.id), TokenKind::Access)
        .expect("issue");
    let parts: Vec<&str> = user.access.split('.').collect();
    let alg_none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.", parts[1]);
    let tampered = format!("{}.{}x.{}", parts[0], parts[1], parts[2]);
    let short_lived = JwtCodec::new(SECRET.as_bytes(), Duration::ZERO, Duration::ZERO);
    let expired = short_lived
        .issue(UserId(user.id), TokenKind::Access)
        .expect("issue");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for token in [forged.as_str(), &alg_none, &tampered, &expired, "garbage"] {
        let response = app.get("/api/events/", token).await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{token} accepted"
        );
        assert!(response.headers().contains_key("www-authenticate"));
    }

    // Our own key with the same claims works: the refusals above were for the right reason.
    let genuine = JwtCodec::new(SECRET.as_bytes(), Duration::from_secs(60), Duration::ZERO)
        .issue(UserId(user.id), TokenKind::Access)
        .expect("issue");
    assert_eq!(
        app.get("/api/events/", &genuine).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn protected_endpoints_need_a_bearer_token() {
    let app = spawn_app().await;
    for path in [
        "/api/events/",
        "/api/categories/",
        "/api/preferences/",
        "/api/events/range/",
    ] {
        let response = app.send(reqwest::Method::GET, path, None, None).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(
            body(response).await,
            json!({"detail": "Authentication credentials were not provided."})
        );
    }
    let logout = app
        .post("/api/auth/logout/", None, &json!({"refresh": "x"}))
        .await;
    assert_eq!(logout.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_user_cannot_log_out_another_users_refresh_token() {
    let app = spawn_app().await;
    let alice = app.user().await;
    let bob = app.user().await;
    let response = app
        .post(
            "/api/auth/logout/",
            Some(&alice.access),
            &json!({"refresh": bob.refresh}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let still = app
        .post(
            "/api/auth/token/refresh/",
            None,
            &json!({"refresh": bob.refresh}),
        )
        .await;
    assert_eq!(
        still.status(),
        StatusCode::OK,
        "bob's token was blacklisted by alice"
    );
}
