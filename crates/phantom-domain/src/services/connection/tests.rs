//! The connection service against mocks of its ports.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use super::*;
use crate::calendar::CalendarError;
use crate::google::{CALENDAR_EVENTS_SCOPE, TokenGrant};
use crate::ports::{
    AuthorizationRequest, MockClock, MockOAuthProvider, MockRevocationQueue, MockSleeper,
    MockTokenStore, PendingRevocation,
};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0)
        .single()
        .expect("valid")
}

/// Signs as `signed:<user>:<nonce>:<expiry>`; anything else is forged.
struct FakeCodec;

impl StateCodec for FakeCodec {
    fn sign(&self, s: &OAuthState) -> String {
        format!(
            "signed:{}:{}:{}",
            s.user.0,
            s.nonce,
            s.expires_at.timestamp()
        )
    }

    fn verify(&self, text: &str) -> Option<OAuthState> {
        let mut parts = text.strip_prefix("signed:")?.split(':');
        let user = UserId(parts.next()?.parse().ok()?);
        let nonce = parts.next()?.to_owned();
        let expires_at = DateTime::from_timestamp(parts.next()?.parse().ok()?, 0)?;
        Some(OAuthState {
            user,
            nonce,
            expires_at,
        })
    }
}

#[derive(Default)]
struct FakeStates(Mutex<HashMap<String, PendingAuthorization>>);

#[async_trait]
impl OAuthStateStore for FakeStates {
    async fn put(&self, nonce: &str, pending: PendingAuthorization) -> Result<(), RepoError> {
        self.0
            .lock()
            .expect("lock")
            .insert(nonce.to_owned(), pending);
        Ok(())
    }

    async fn take(&self, nonce: &str) -> Result<Option<PendingAuthorization>, RepoError> {
        Ok(self.0.lock().expect("lock").remove(nonce))
    }
}

fn clock_at(t: DateTime<Utc>) -> Arc<MockClock> {
    let mut clock = MockClock::new();
    clock.expect_now().return_const(t);
    Arc::new(clock)
}

fn grant(scopes: &[&str], refresh: Option<&str>) -> TokenGrant {
    TokenGrant {
        access_token: Secret::new("ya29.access"),
        refresh_token: refresh.map(Secret::new),
        expires_at: now() + TimeDelta::hours(1),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn provider() -> MockOAuthProvider {
    let mut oauth = MockOAuthProvider::new();
    oauth.expect_authorization_request().returning(|state| {
        Ok(AuthorizationRequest {
            url: format!("https://accounts.example/auth?state={state}"),
            pkce_verifier: Secret::new("verifier"),
        })
    });
    oauth
}

fn service(
    oauth: MockOAuthProvider,
    tokens: MockTokenStore,
    at: DateTime<Utc>,
) -> ConnectionService {
    ConnectionService::new(
        Arc::new(oauth),
        Arc::new(FakeStates::default()),
        Arc::new(FakeCodec),
        Arc::new(tokens),
        Arc::new(MockRevocationQueue::new()),
        clock_at(at),
        Arc::new(MockSleeper::new()),
    )
}

/// Runs connect, then the callback built by `edit` from a well-formed one.
async fn round_trip(
    service: &ConnectionService,
    edit: impl FnOnce(&mut Callback),
) -> Result<UserId, ConnectionError> {
    let start = service.connect(UserId(7)).await.expect("connect");
    let state = start
        .url
        .split("state=")
        .nth(1)
        .expect("state in url")
        .to_owned();
    let mut callback = Callback {
        code: Some("code-1".into()),
        state: Some(state),
        browser_nonce: Some(start.nonce),
        ..Callback::default()
    };
    edit(&mut callback);
    service.callback(callback).await
}

#[tokio::test]
async fn a_good_callback_stores_the_token_once() {
    let mut oauth = provider();
    oauth
        .expect_exchange_code()
        .withf(|code, verifier| code == "code-1" && verifier.expose() == "verifier")
        .times(1)
        .returning(|_, _| Ok(grant(&[CALENDAR_EVENTS_SCOPE], Some("1//refresh"))));
    let mut tokens = MockTokenStore::new();
    tokens
        .expect_connect()
        .withf(|user, token, at| {
            *user == UserId(7) && token.refresh_token.expose() == "1//refresh" && *at == now()
        })
        .times(1)
        .returning(|_, _, _| Ok(()));
    let service = service(oauth, tokens, now());
    assert_eq!(
        round_trip(&service, |_| {}).await.expect("connected"),
        UserId(7)
    );
}

#[tokio::test]
async fn a_state_is_single_use() {
    let mut oauth = provider();
    oauth
        .expect_exchange_code()
        .times(1)
        .returning(|_, _| Ok(grant(&[CALENDAR_EVENTS_SCOPE], Some("1//r"))));
    let mut tokens = MockTokenStore::new();
    tokens.expect_connect().times(1).returning(|_, _, _| Ok(()));
    let service = service(oauth, tokens, now());
    let start = service.connect(UserId(7)).await.expect("connect");
    let state = start.url.split("state=").nth(1).map(str::to_owned);
    let callback = Callback {
        code: Some("c".into()),
        state,
        ..Callback::default()
    };
    assert!(service.callback(callback.clone()).await.is_ok());
    let replay = service.callback(callback).await;
    assert!(matches!(replay, Err(ConnectionError::Refused(m)) if m.contains("already used")));
}

#[tokio::test]
async fn bad_callbacks_are_refused_and_store_nothing() {
    type Edit = fn(&mut Callback);
    let cases: [(&str, Edit); 7] = [
        ("missing state", |c| c.state = None),
        ("forged state", |c| c.state = Some("forged:7:x:0".into())),
        ("tampered user", |c| {
            c.state = c
                .state
                .as_ref()
                .map(|s| s.replacen("signed:7:", "signed:8:", 1));
        }),
        ("denied", |c| c.error = Some("access_denied".into())),
        ("missing code", |c| c.code = None),
        ("other bearer", |c| c.bearer_user = Some(UserId(8))),
        ("foreign browser", |c| {
            c.require_browser_binding = true;
            c.browser_nonce = Some("someone-else".into());
        }),
    ];
    for (name, edit) in cases {
        let mut oauth = provider();
        oauth.expect_exchange_code().never();
        let mut tokens = MockTokenStore::new();
        tokens.expect_connect().never();
        let result = round_trip(&service(oauth, tokens, now()), edit).await;
        assert!(
            matches!(result, Err(ConnectionError::Refused(_))),
            "{name}: {result:?}"
        );
    }
}

#[tokio::test]
async fn an_expired_state_is_refused() {
    let oauth = provider();
    let service_then = service(oauth, MockTokenStore::new(), now());
    let start = service_then.connect(UserId(7)).await.expect("connect");
    let state = start.url.split("state=").nth(1).map(str::to_owned);
    // Same stores, eleven minutes later.
    let later = ConnectionService {
        clock: clock_at(now() + TimeDelta::minutes(11)),
        ..service_then
    };
    let result = later
        .callback(Callback {
            code: Some("c".into()),
            state,
            ..Callback::default()
        })
        .await;
    assert!(matches!(result, Err(ConnectionError::Refused(m)) if m.contains("expired")));
}

#[tokio::test]
async fn a_grant_without_the_calendar_scope_is_revoked_not_stored() {
    let mut oauth = provider();
    oauth
        .expect_exchange_code()
        .returning(|_, _| Ok(grant(&["openid", "email"], Some("1//r"))));
    oauth.expect_revoke().times(1).returning(|_| Ok(()));
    let mut tokens = MockTokenStore::new();
    tokens.expect_connect().never();
    let result = round_trip(&service(oauth, tokens, now()), |_| {}).await;
    assert!(matches!(result, Err(ConnectionError::Refused(m)) if m.contains("permission")));
}

#[tokio::test]
async fn google_failures_at_the_token_endpoint_are_told_apart() {
    for (error, unavailable) in [
        (OAuthError::InvalidGrant, false),
        (OAuthError::Unavailable("connection refused".into()), true),
    ] {
        let mut oauth = provider();
        let error = Mutex::new(Some(error));
        oauth
            .expect_exchange_code()
            .returning(move |_, _| Err(error.lock().expect("lock").take().expect("called once")));
        let result = round_trip(&service(oauth, MockTokenStore::new(), now()), |_| {}).await;
        if unavailable {
            assert!(
                matches!(result, Err(ConnectionError::Unavailable(_))),
                "{result:?}"
            );
        } else {
            assert!(
                matches!(result, Err(ConnectionError::Refused(_))),
                "{result:?}"
            );
        }
    }
}

fn stored(expires_at: DateTime<Utc>) -> StoredToken {
    StoredToken::Present(GoogleToken {
        access_token: Secret::new("old"),
        refresh_token: Secret::new("1//refresh"),
        expires_at,
        scopes: vec![CALENDAR_EVENTS_SCOPE.into()],
    })
}

#[tokio::test]
async fn access_tokens_are_refreshed_a_minute_early_and_saved() {
    let mut tokens = MockTokenStore::new();
    tokens
        .expect_load()
        .returning(|_| Ok(stored(now() + TimeDelta::seconds(59))));
    tokens
        .expect_try_lease_refresh()
        .times(1)
        .returning(|_, _, _| Ok(true));
    tokens
        .expect_update()
        .withf(|_, t| {
            t.access_token.expose() == "ya29.access" && t.refresh_token.expose() == "1//refresh"
        })
        .times(1)
        .returning(|_, _| Ok(()));
    let mut oauth = MockOAuthProvider::new();
    oauth
        .expect_refresh()
        .times(1)
        .returning(|_| Ok(grant(&[], None)));
    let token = service(oauth, tokens, now())
        .access_token(UserId(7))
        .await
        .expect("token");
    assert_eq!(token.expose(), "ya29.access");

    let mut tokens = MockTokenStore::new();
    tokens
        .expect_load()
        .returning(|_| Ok(stored(now() + TimeDelta::seconds(61))));
    let mut oauth = MockOAuthProvider::new();
    oauth.expect_refresh().never();
    let token = service(oauth, tokens, now())
        .access_token(UserId(7))
        .await
        .expect("token");
    assert_eq!(token.expose(), "old");
}

#[tokio::test]
async fn a_refused_refresh_marks_the_user_for_reconnection() {
    let mut tokens = MockTokenStore::new();
    tokens.expect_load().returning(|_| Ok(stored(now())));
    tokens
        .expect_release_refresh()
        .times(1)
        .returning(|_| Ok(()));
    tokens
        .expect_try_lease_refresh()
        .returning(|_, _, _| Ok(true));
    tokens
        .expect_mark_needs_reconnect()
        .times(1)
        .returning(|_| Ok(()));
    tokens.expect_update().never();
    let mut oauth = MockOAuthProvider::new();
    oauth
        .expect_refresh()
        .times(1)
        .returning(|_| Err(OAuthError::InvalidGrant));
    let result = service(oauth, tokens, now()).access_token(UserId(7)).await;
    assert!(matches!(result, Err(ConnectionError::NeedsReconnect)));
}

#[test]
fn secrets_never_print() {
    let token = Secret::new("ya29.very-secret");
    assert!(!format!("{token:?} {token}").contains("very-secret"));
}

#[tokio::test]
async fn while_another_process_refreshes_we_wait_for_its_token() {
    let loads = std::sync::atomic::AtomicUsize::new(0);
    let mut tokens = MockTokenStore::new();
    // First look: expiring, and the lease is taken elsewhere; second look: the new token.
    tokens.expect_load().returning(move |_| {
        let n = loads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(if n == 0 {
            stored(now())
        } else {
            StoredToken::Present(GoogleToken {
                access_token: Secret::new("refreshed elsewhere"),
                refresh_token: Secret::new("1//refresh"),
                expires_at: now() + TimeDelta::seconds(30),
                scopes: vec![CALENDAR_EVENTS_SCOPE.into()],
            })
        })
    });
    tokens
        .expect_try_lease_refresh()
        .times(1)
        .returning(|_, _, _| Ok(false));
    let mut oauth = MockOAuthProvider::new();
    oauth.expect_refresh().never();
    let mut sleeper = MockSleeper::new();
    sleeper.expect_sleep().times(1).returning(|_| ());
    let service = ConnectionService::new(
        Arc::new(oauth),
        Arc::new(FakeStates::default()),
        Arc::new(FakeCodec),
        Arc::new(tokens),
        Arc::new(MockRevocationQueue::new()),
        clock_at(now()),
        Arc::new(sleeper),
    );
    let token = service.access_token(UserId(7)).await.expect("token");
    assert_eq!(token.expose(), "refreshed elsewhere");
}

#[test]
fn revocation_retries_back_off_from_a_minute_to_six_hours() {
    let delays: Vec<i64> = (0..12)
        .map(|n| revocation_backoff(n).num_minutes())
        .collect();
    assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 360, 360, 360]);
}

#[tokio::test]
async fn a_token_refreshed_between_our_read_and_our_lease_is_used_not_refreshed_again() {
    let loads = std::sync::atomic::AtomicUsize::new(0);
    let mut tokens = MockTokenStore::new();
    // We read the old token; by the time we hold the lease, another process has saved a new one.
    tokens.expect_load().returning(move |_| {
        let n = loads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(if n == 0 {
            stored(now())
        } else {
            StoredToken::Present(GoogleToken {
                access_token: Secret::new("refreshed elsewhere"),
                refresh_token: Secret::new("1//refresh"),
                expires_at: now() + TimeDelta::seconds(30),
                scopes: vec![CALENDAR_EVENTS_SCOPE.into()],
            })
        })
    });
    tokens
        .expect_try_lease_refresh()
        .times(1)
        .returning(|_, _, _| Ok(true));
    tokens
        .expect_release_refresh()
        .times(1)
        .returning(|_| Ok(()));
    let mut oauth = MockOAuthProvider::new();
    oauth.expect_refresh().never();
    let token = service(oauth, tokens, now())
        .access_token(UserId(7))
        .await
        .expect("token");
    assert_eq!(token.expose(), "refreshed elsewhere");
}

/// A revocation of `refresh` with two watch channels, its access token valid until `until`.
fn revocation_with_channels(until: DateTime<Utc>) -> PendingRevocation {
    let channel = |id: &str| crate::google_changes::OpenChannel {
        id: id.to_owned(),
        resource_id: format!("resource-{id}"),
        expires_at: now() + TimeDelta::days(3),
    };
    PendingRevocation {
        id: 11,
        user: UserId(7),
        token: Secret::new("1//refresh"),
        access: (Secret::new("ya29.old"), until),
        channels: vec![channel("a"), channel("b")],
        attempts: 0,
    }
}

/// Works the revocation queue holding `job`, logging every call to Google and to the queue
/// in order.
async fn settle_with_channels(
    job: PendingRevocation,
    oauth: MockOAuthProvider,
    stop: impl Fn(&Secret, &str) -> Result<(), CalendarError> + Send + Sync + 'static,
    log: Arc<Mutex<Vec<String>>>,
) {
    let mut calendar = crate::ports::MockCalendarSync::new();
    let seen = log.clone();
    calendar
        .expect_stop_channel()
        .returning(move |token, channel| {
            seen.lock()
                .expect("lock")
                .push(format!("stop {} with {}", channel.id, token.expose()));
            stop(token, &channel.id)
        });
    let mut queue = MockRevocationQueue::new();
    queue
        .expect_due()
        .times(1)
        .returning(move |_, _, _| Ok(vec![job.clone()]));
    let seen = log.clone();
    queue.expect_channel_stopped().returning(move |id| {
        seen.lock().expect("lock").push(format!("forget {id}"));
        Ok(())
    });
    let seen = log.clone();
    queue.expect_done().returning(move |_| {
        seen.lock().expect("lock").push("done".to_owned());
        Ok(())
    });
    let seen = log.clone();
    queue.expect_retry_at().returning(move |_, _, _| {
        seen.lock().expect("lock").push("retry later".to_owned());
        Ok(())
    });
    let service = ConnectionService::new(
        Arc::new(oauth),
        Arc::new(FakeStates::default()),
        Arc::new(FakeCodec),
        Arc::new(MockTokenStore::new()),
        Arc::new(queue),
        clock_at(now()),
        Arc::new(MockSleeper::new()),
    )
    .stopping_channels_with(Arc::new(calendar));
    service.revoke_pending().await.expect("settled");
}

fn revoking(log: &Arc<Mutex<Vec<String>>>) -> MockOAuthProvider {
    let mut oauth = MockOAuthProvider::new();
    let seen = log.clone();
    oauth.expect_revoke().returning(move |token| {
        seen.lock()
            .expect("lock")
            .push(format!("revoke {}", token.expose()));
        Ok(())
    });
    oauth
}

#[tokio::test]
async fn a_revocation_stops_the_watch_channels_first_with_the_token_it_revokes() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let job = revocation_with_channels(now() + TimeDelta::minutes(30));
    settle_with_channels(job, revoking(&log), |_, _| Ok(()), log.clone()).await;
    assert_eq!(
        *log.lock().expect("lock"),
        [
            "stop a with ya29.old",
            "forget a",
            "stop b with ya29.old",
            "forget b",
            "revoke 1//refresh",
            "done"
        ]
    );
}

#[tokio::test]
async fn a_revocation_waits_while_google_cannot_stop_the_channels() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let job = revocation_with_channels(now() + TimeDelta::minutes(30));
    let unavailable = |_: &Secret, id: &str| {
        if id == "b" {
            Err(CalendarError::Retryable {
                reason: "503".to_owned(),
                retry_after: None,
            })
        } else {
            Ok(())
        }
    };
    settle_with_channels(job, revoking(&log), unavailable, log.clone()).await;
    // The stopped one is forgotten; the token is not revoked while `b` still runs.
    assert_eq!(
        *log.lock().expect("lock"),
        [
            "stop a with ya29.old",
            "forget a",
            "stop b with ya29.old",
            "retry later"
        ]
    );
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_to_stop_the_channels() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut oauth = revoking(&log);
    oauth
        .expect_refresh()
        .times(1)
        .returning(|_| Ok(grant(&[CALENDAR_EVENTS_SCOPE], None)));
    let mut job = revocation_with_channels(now() - TimeDelta::minutes(1));
    job.channels.truncate(1);
    settle_with_channels(job, oauth, |_, _| Ok(()), log.clone()).await;
    assert_eq!(
        *log.lock().expect("lock"),
        [
            "stop a with ya29.access",
            "forget a",
            "revoke 1//refresh",
            "done"
        ]
    );
}

#[tokio::test]
async fn channels_a_refused_token_cannot_stop_are_forgotten_and_the_token_revoked() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut oauth = revoking(&log);
    oauth
        .expect_refresh()
        .times(1)
        .returning(|_| Err(OAuthError::InvalidGrant));
    let job = revocation_with_channels(now() + TimeDelta::minutes(30));
    let refused = |_: &Secret, _: &str| Err(CalendarError::Unauthorized);
    settle_with_channels(job, oauth, refused, log.clone()).await;
    assert_eq!(
        *log.lock().expect("lock"),
        [
            "stop a with ya29.old",
            "forget a",
            "forget b",
            "revoke 1//refresh",
            "done"
        ]
    );
}
