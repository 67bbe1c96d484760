//! Everything the emulated Google remembers: codes, tokens, calendars, fault
//! rules and the request log, behind one lock.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Instant;

use chrono::Utc;
use rand::Rng;
use rand::distr::{Alphanumeric, SampleString};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::config::{Consent, EmulatorConfig};
use crate::event::StoredEvent;
use crate::faults::FaultQueue;
use crate::notify::{Channel, Delivery, Notification, ResourceState};
use crate::request_log::LoggedRequest;
use crate::sync::PageCursors;

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
    /// The last change number handed out, across all calendars.
    pub(crate) change: u64,
    /// Bumped by `invalidate_sync_tokens`: tokens of older epochs are unknown.
    pub(crate) sync_epoch: u64,
    /// Result snapshots of paginated `events.list` calls.
    pub(crate) cursors: PageCursors,
    /// Every channel opened with `events.watch`, stopped ones included.
    pub(crate) channels: Vec<Channel>,
    /// Notifications sent, oldest first.
    pub(crate) notifications: Vec<Notification>,
    /// Queue of the delivery task.
    outbox: UnboundedSender<Delivery>,
}

/// State shared by the server's workers and the test's handle.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub(crate) config: Arc<EmulatorConfig>,
    /// `http://127.0.0.1:PORT`, for the URIs the API hands out.
    pub(crate) base_url: Arc<str>,
    /// Random per instance: sync tokens of another instance are unknown here.
    pub(crate) instance: Arc<str>,
    inner: Arc<Mutex<Inner>>,
}

impl AppState {
    /// The state, and the queue the delivery task drains.
    pub(crate) fn new(
        config: EmulatorConfig,
        base_url: &str,
    ) -> (Self, UnboundedReceiver<Delivery>) {
        let (outbox, queue) = unbounded_channel();
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
            change: 0,
            sync_epoch: 1,
            cursors: PageCursors::default(),
            channels: Vec::new(),
            notifications: Vec::new(),
            outbox,
        };
        let state = Self {
            config: Arc::new(config),
            base_url: base_url.into(),
            instance: random_token("", 12).into(),
            inner: Arc::new(Mutex::new(inner)),
        };
        (state, queue)
    }

    /// A handle for the delivery task that does not keep the state alive.
    pub(crate) fn downgrade(&self) -> Weak<Mutex<Inner>> {
        Arc::downgrade(&self.inner)
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

    /// The event `id` of `owner`'s calendar, cancelled or not.
    pub(crate) fn event(&self, owner: &str, id: &str) -> Option<&StoredEvent> {
        self.calendars
            .get(owner)?
            .iter()
            .find(|event| event.id == id)
    }

    /// Stores `event` as a new revision (a new change number, `updated` and
    /// etag), adding it if its id is new, and queues an `exists` message for
    /// every live channel on its calendar. Returns the stored revision.
    pub(crate) fn commit(&mut self, mut event: StoredEvent) -> StoredEvent {
        self.change += 1;
        event.revise(self.change, Utc::now());
        let events = self.calendars.entry(event.owner.clone()).or_default();
        match events.iter_mut().find(|stored| stored.id == event.id) {
            Some(stored) => *stored = event.clone(),
            None => events.push(event.clone()),
        }
        self.notify(&event.owner, None);
        event
    }

    /// Queues a message to the live channels on `owner`'s calendar: `exists`
    /// to all of them, or `sync` to the one channel given.
    pub(crate) fn notify(&mut self, owner: &str, sync_channel: Option<usize>) {
        let now = Utc::now();
        let outbox = self.outbox.clone();
        for (index, channel) in self.channels.iter_mut().enumerate() {
            let state = match sync_channel {
                Some(wanted) if wanted == index => ResourceState::Sync,
                Some(_) => continue,
                None => ResourceState::Exists,
            };
            if channel.public.owner == owner
                && channel.live(now)
                && outbox.send(channel.message(state)).is_err()
            {
                tracing::debug!("delivery task gone: the emulator is stopping");
            }
        }
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
