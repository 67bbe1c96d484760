//! Push notifications: the watch channels opened with `events.watch`, and the
//! background task that POSTs Google's notification messages to them.
//!
//! Deliveries are sent one at a time, in the order the changes happened, so a
//! channel's `sync` message always arrives before its first `exists`. A
//! delivery that fails (connection refused, timeout, any non-2xx answer) is
//! logged and recorded, and not retried: real Google retries some failures
//! with exponential backoff, which the emulator does not imitate.

use std::sync::{Mutex, PoisonError, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::state::Inner;

/// How long one delivery may take before it counts as failed.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);
/// The `User-Agent` Google's push notifications carry.
const USER_AGENT: &str =
    "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)";

/// The `X-Goog-Resource-State` of a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceState {
    /// `"sync"`: the first message of a channel, sent right after the watch.
    Sync,
    /// `"exists"`: an event of the watched calendar changed.
    Exists,
}

impl ResourceState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Sync => "sync",
            Self::Exists => "exists",
        }
    }
}

/// A live notification channel, as `events.watch` opened it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchChannel {
    /// The channel id the client chose.
    pub id: String,
    /// Opaque id of the watched resource: stable per calendar.
    pub resource_id: String,
    /// The watched collection's URI.
    pub resource_uri: String,
    /// The client's secret, echoed in `X-Goog-Channel-Token`.
    pub token: Option<String>,
    /// Where notifications are POSTed.
    pub address: String,
    /// The Google account whose calendar is watched.
    pub owner: String,
    /// When the channel stops by itself.
    pub expiration: DateTime<Utc>,
}

/// What became of one notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryOutcome {
    /// The receiver answered with this HTTP status (2xx is a success).
    Answered {
        /// HTTP status code.
        status: u16,
    },
    /// No answer: connection refused, timeout, or a malformed address.
    Failed {
        /// What went wrong.
        error: String,
    },
    /// Not sent: the emulator only delivers to loopback addresses.
    Skipped {
        /// Why.
        reason: String,
    },
}

/// One notification the emulator sent (or tried to), for tests to inspect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// `X-Goog-Channel-ID`.
    pub channel_id: String,
    /// `X-Goog-Message-Number`: 1 for the `sync` message, then increasing.
    pub message_number: u64,
    /// `X-Goog-Resource-State`.
    pub resource_state: ResourceState,
    /// Where it was sent.
    pub address: String,
    /// When the delivery finished.
    pub at: DateTime<Utc>,
    /// What happened.
    pub outcome: DeliveryOutcome,
}

/// A channel as stored: the public view plus what the emulator tracks.
#[derive(Debug, Clone)]
pub(crate) struct Channel {
    pub(crate) public: WatchChannel,
    pub(crate) stopped: bool,
    /// The number of the last message queued.
    pub(crate) messages: u64,
}

impl Channel {
    /// Neither stopped nor expired.
    pub(crate) fn live(&self, now: DateTime<Utc>) -> bool {
        !self.stopped && now < self.public.expiration
    }

    /// The next message for this channel, numbered.
    pub(crate) fn message(&mut self, state: ResourceState) -> Delivery {
        self.messages += 1;
        Delivery {
            channel: self.public.clone(),
            number: self.messages,
            state,
        }
    }
}

/// A notification waiting for the delivery task.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    channel: WatchChannel,
    number: u64,
    state: ResourceState,
}

/// Whether the emulator may send to `address`: plain or TLS HTTP on a
/// loopback host. Anything else would leave the machine.
pub(crate) fn loopback(address: &str) -> bool {
    url::Url::parse(address).is_ok_and(|url| {
        matches!(url.scheme(), "http" | "https")
            && match url.host() {
                Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            }
    })
}

/// Sends queued deliveries until every sender is gone (the emulator stopped)
/// or the state is dropped, recording each outcome in the state.
pub(crate) async fn deliver(state: Weak<Mutex<Inner>>, mut queue: UnboundedReceiver<Delivery>) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(DELIVERY_TIMEOUT)
        .user_agent(USER_AGENT)
        .build();
    while let Some(delivery) = queue.recv().await {
        let outcome = match &client {
            Err(error) => DeliveryOutcome::Failed {
                error: format!("no HTTP client: {error}"),
            },
            Ok(_) if !loopback(&delivery.channel.address) => DeliveryOutcome::Skipped {
                reason: "the emulator only delivers to loopback addresses".into(),
            },
            Ok(client) => send(client, &delivery).await,
        };
        if let DeliveryOutcome::Failed { error } = &outcome {
            tracing::warn!(
                channel = %delivery.channel.id,
                address = %delivery.channel.address,
                %error,
                "push notification not delivered (not retried)"
            );
        }
        let Some(state) = state.upgrade() else {
            break;
        };
        let mut inner = state.lock().unwrap_or_else(PoisonError::into_inner);
        inner.notifications.push(Notification {
            channel_id: delivery.channel.id,
            message_number: delivery.number,
            resource_state: delivery.state,
            address: delivery.channel.address,
            at: Utc::now(),
            outcome,
        });
    }
}

/// One POST with Google's headers and an empty body.
async fn send(client: &reqwest::Client, delivery: &Delivery) -> DeliveryOutcome {
    let channel = &delivery.channel;
    let expiration = httpdate::fmt_http_date(channel.expiration.into());
    let mut request = client
        .post(&channel.address)
        .header("X-Goog-Channel-ID", &channel.id)
        .header("X-Goog-Channel-Expiration", expiration)
        .header("X-Goog-Resource-ID", &channel.resource_id)
        .header("X-Goog-Resource-URI", &channel.resource_uri)
        .header("X-Goog-Resource-State", delivery.state.as_str())
        .header("X-Goog-Message-Number", delivery.number.to_string())
        .header("Content-Length", "0");
    if let Some(token) = &channel.token {
        request = request.header("X-Goog-Channel-Token", token);
    }
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            if !response.status().is_success() {
                tracing::warn!(channel = %channel.id, status, "push notification refused (not retried)");
            }
            DeliveryOutcome::Answered { status }
        }
        Err(error) => DeliveryOutcome::Failed {
            error: error.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::loopback;

    #[test]
    fn only_loopback_addresses_are_delivered_to() {
        assert!(loopback("http://127.0.0.1:8000/hook"));
        assert!(loopback("http://localhost/hook"));
        assert!(loopback("http://[::1]:9/hook"));
        assert!(loopback("https://127.0.0.1/hook"));
        assert!(!loopback("https://phantom.example.com/hook"));
        assert!(!loopback("http://10.0.0.1/hook"));
        assert!(!loopback("ftp://127.0.0.1/hook"));
    }
}
