//! Everything the emulated Google remembers: codes, tokens, calendars, fault
//! rules and the request log, behind one lock.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use rand::Rng;
use rand::distr::{Alphanumeric, SampleString};

use crate::config::{Consent, EmulatorConfig};
use crate::event::StoredEvent;
use crate::faults::FaultQueue;
use crate::request_log::LoggedRequest;

/// An authorization code waiting to be exchanged.
#[derive(Debug, Clone)]
pub(crate) struct AuthCode {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    /// `(challenge, method)` from the authorization request.
    pub(crate) pkce: Option<(String, String)>,
    pub(crate) scopes: Vec<String>,
    pub(crate) offline: bool,
    pub(crate) user: String,
    pub(crate) expires_at: Instant,
    pub(crate) used: bool,
}

/// One user's consent to one client: the unit Google revokes.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub(crate) id: u64,
    pub(crate) client_id: String,
    pub(crate) user: String,
    pub(crate) scopes: Vec<String>,
}

/// An issued access token.
#[derive(Debug, Clone)]
pub(crate) struct AccessToken {
    pub(crate) grant: Grant,
    pub(crate) expires_at: Instant,
}

/// An issued refresh token.
#[derive(Debug, Clone)]
pub(crate) struct RefreshToken {
    pub(crate) grant: Grant,
    /// Cleared by `invalidate_refresh_token` (e.g. the user changed password).
    pub(crate) valid: bool,
}

/// An authorization request parked on the HTML consent page.
#[derive(Debug, Clone)]
pub(crate) struct PendingConsent {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) state: Option<String>,
    pub(crate) pkce: Option<(String, String)>,
    pub(crate) scopes: Vec<String>,
    pub(crate) offline: bool,
    pub(crate) user: String,
}

/// The mutable state.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) consent: Consent,
    pub(crate) signed_in_user: String,
    pub(crate) codes: HashMap<String, AuthCode>,
    pub(crate) pending: HashMap<String, PendingConsent>,
    pub(crate) access_tokens: HashMap<String, AccessToken>,
    pub(crate) refresh_tokens: HashMap<String, RefreshToken>,
    pub(crate) revoked_grants: HashSet<u64>,
    next_grant: u64,
    /// Events per Google user, in insertion order.
    pub(crate) calendars: HashMap<String, Vec<StoredEvent>>,
    pub(crate) faults: FaultQueue,
    pub(crate) log: Vec<LoggedRequest>,
}

/// State shared by the server's workers and the test's handle.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub(crate) config: Arc<EmulatorConfig>,
    inner: Arc<Mutex<Inner>>,
}

impl AppState {
    pub(crate) fn new(config: EmulatorConfig) -> Self {
        let inner = Inner {
            consent: config.consent.clone(),
            signed_in_user: config.default_user.clone(),
            codes: HashMap::new(),
            pending: HashMap::new(),
            access_tokens: HashMap::new(),
            refresh_tokens: HashMap::new(),
            revoked_grants: HashSet::new(),
            next_grant: 1,
            calendars: HashMap::new(),
            faults: FaultQueue::default(),
            log: Vec::new(),
        };
        Self {
            config: Arc::new(config),
            inner: Arc::new(Mutex::new(inner)),
        }
    }

    /// A panic while holding the lock leaves the data consistent enough for
    /// an emulator, so poisoning is ignored rather than cascading.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    pub(crate) fn new_grant(&mut self, client_id: &str, user: &str, scopes: &[String]) -> Grant {
        let id = self.next_grant;
        self.next_grant += 1;
        Grant {
            id,
            client_id: client_id.to_owned(),
            user: user.to_owned(),
            scopes: scopes.to_vec(),
        }
    }

    /// The live access token's grant, if `token` is known, unexpired and unrevoked.
    pub(crate) fn valid_access_token(&self, token: &str) -> Option<&Grant> {
        let access = self.access_tokens.get(token)?;
        let live =
            Instant::now() < access.expires_at && !self.revoked_grants.contains(&access.grant.id);
        live.then_some(&access.grant)
    }

    /// Revokes the grant behind an access or refresh token; false if the
    /// token is unknown, expired or already revoked.
    pub(crate) fn revoke(&mut self, token: &str) -> bool {
        let grant = if let Some(refresh) = self.refresh_tokens.get(token) {
            Some(refresh.grant.id)
        } else {
            self.valid_access_token(token).map(|grant| grant.id)
        };
        match grant {
            Some(id) => self.revoked_grants.insert(id),
            None => false,
        }
    }
}

/// A random opaque token with Google's prefix, e.g. `ya29.` for access tokens.
pub(crate) fn random_token(prefix: &str, len: usize) -> String {
    format!(
        "{prefix}{}",
        Alphanumeric.sample_string(&mut rand::rng(), len)
    )
}

/// A random event id in Google's alphabet (base32hex, lower case).
pub(crate) fn random_event_id() -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";
    let mut rng = rand::rng();
    (0..26)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}
