//! Per-client rate limiting of the endpoints that check a password or mint tokens:
//! `POST /api/auth/login/`, `/api/auth/register/` and `/api/auth/token/refresh/`.
//!
//! The limiter is [`governor`]'s GCRA, keyed by endpoint and client IP: a client may send
//! `burst` requests to an endpoint at once, and then one more every `60 s / per_minute`. Each
//! endpoint counts on its own, so guessing passwords does not also lock a shared address out
//! of refreshing tokens. Over the limit, the answer is DRF's throttling `429`, with
//! `Retry-After` in whole seconds.

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};
use serde_json::json;

/// How many checks pass between two sweeps of the clients whose limit has fully replenished.
const SWEEP_EVERY: u64 = 1024;

/// The shared limiter of the authentication endpoints; one per server (all workers share it).
///
/// Clients are told apart by their address: the TCP peer's, or, when the peer is one of the
/// trusted reverse proxies (`PHANTOM_TRUSTED_PROXIES`), the one its `X-Forwarded-For` names
/// (see [`client_address`]). From any other peer the header is ignored: any client can send
/// it, so believing it would let an attacker pick a fresh "address" for every request.
/// IPv6 clients are keyed by their /64 network, the smallest block one subscriber usually
/// gets, so that rotating addresses inside it gains nothing.
#[derive(Debug)]
pub struct AuthRateLimiter {
    limiter: Option<DefaultKeyedRateLimiter<(String, IpAddr)>>,
    checks: AtomicU64,
    trusted: Vec<ipnet::IpNet>,
}

impl AuthRateLimiter {
    /// A limiter allowing `per_minute` requests per client and minute, `burst` of them at once.
    /// Either being 0 turns limiting off.
    pub fn new(per_minute: u32, burst: u32) -> Self {
        Self::behind(per_minute, burst, Vec::new())
    }

    /// [`AuthRateLimiter::new`], believing the `X-Forwarded-For` of the `trusted` proxies.
    pub fn behind(per_minute: u32, burst: u32, trusted: Vec<ipnet::IpNet>) -> Self {
        let limiter =
            NonZeroU32::new(per_minute)
                .zip(NonZeroU32::new(burst))
                .map(|(rate, burst)| {
                    DefaultKeyedRateLimiter::keyed(Quota::per_minute(rate).allow_burst(burst))
                });
        Self {
            limiter,
            checks: AtomicU64::new(0),
            trusted,
        }
    }

    /// Whether requests are limited at all.
    pub fn is_enabled(&self) -> bool {
        self.limiter.is_some()
    }

    /// `Ok` if `client` may call `endpoint` now; otherwise how long it must wait.
    fn check(&self, endpoint: &str, client: IpAddr) -> Result<(), Duration> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            // Forget clients that are back to a full allowance, so memory stays bounded by
            // the clients seen recently.
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        limiter
            .check_key(&(endpoint.to_owned(), client_key(client)))
            .map_err(|not_until| not_until.wait_time_from(limiter.clock().now()))
    }
}

/// The client's address: the TCP `peer`, unless the peer is a trusted proxy; then the
/// rightmost address of `X-Forwarded-For` (all its headers, in order) that is not itself a
/// trusted proxy, as each proxy appends the address it got the request from. An unreadable
/// header counts as none.
pub fn client_address(peer: IpAddr, forwarded_for: &[&str], trusted: &[ipnet::IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut hops = Vec::new();
    for header in forwarded_for {
        for hop in header.split(',') {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => hops.push(ip),
                Err(_) => return peer,
            }
        }
    }
    hops.into_iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .unwrap_or(peer)
}

/// The key a client is counted under: IPv4 as is (also when it arrives IPv4-mapped on a
/// dual-stack socket), IPv6 by its /64 network.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let network = u128::from(v6) & !(u128::from(u64::MAX));
                IpAddr::V6(Ipv6Addr::from(network))
            }
        },
    }
}

/// Middleware (for [`actix_web::middleware::from_fn`]) that applies the [`AuthRateLimiter`]
/// registered as app data to the resource it wraps. Without one registered it lets
/// everything through.
pub async fn limit_auth(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if let Some(limiter) = req.app_data::<web::Data<AuthRateLimiter>>() {
        // A request with no peer address (not over TCP) shares one bucket with its kind.
        let peer = req
            .peer_addr()
            .map_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED), |peer| peer.ip());
        let forwarded: Vec<&str> = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .collect();
        let client = client_address(peer, &forwarded, &limiter.trusted);
        let endpoint = req.match_pattern().unwrap_or_else(|| req.path().to_owned());
        if let Err(wait) = limiter.check(&endpoint, client) {
            tracing::warn!(%endpoint, client = %client_key(client), "rate limit exceeded");
            return Ok(req.into_response(throttled(wait)));
        }
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// DRF's `Throttled`: `429`, `Retry-After` in whole seconds (rounded up), and its message.
fn throttled(wait: Duration) -> HttpResponse {
    let seconds = wait.as_nanos().div_ceil(1_000_000_000).max(1);
    let unit = if seconds == 1 { "second" } else { "seconds" };
    HttpResponse::TooManyRequests()
        .insert_header((header::RETRY_AFTER, seconds.to_string()))
        .json(json!({
            "detail": format!("Request was throttled. Expected available in {seconds} {unit}.")
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOGIN: &str = "/api/auth/login/";

    fn nets(list: &[&str]) -> Vec<ipnet::IpNet> {
        list.iter().map(|n| n.parse().expect("a range")).collect()
    }

    #[test]
    fn forwarded_for_counts_only_from_a_trusted_proxy() {
        let proxy: IpAddr = [10, 0, 0, 5].into();
        let client: IpAddr = [198, 51, 100, 7].into();
        let trusted = nets(&["10.0.0.0/8"]);
        // From the proxy: the client it names.
        assert_eq!(client_address(proxy, &["198.51.100.7"], &trusted), client);
        // A chain: the rightmost address that is no trusted proxy; what the client put
        // first (forged) is not believed.
        assert_eq!(
            client_address(proxy, &["1.2.3.4, 198.51.100.7, 10.0.0.9"], &trusted),
            client
        );
        assert_eq!(
            client_address(proxy, &["1.2.3.4", "198.51.100.7"], &trusted),
            client,
            "several headers read in order"
        );
        // From anyone else, or with nothing trusted, the header changes nothing.
        assert_eq!(client_address(client, &["1.2.3.4"], &trusted), client);
        assert_eq!(client_address(proxy, &["1.2.3.4"], &[]), proxy);
        // An unreadable or empty header: the peer.
        assert_eq!(client_address(proxy, &["not an address"], &trusted), proxy);
        assert_eq!(client_address(proxy, &[], &trusted), proxy);
        // Only proxies in the chain: no client is named, so the peer.
        assert_eq!(client_address(proxy, &["10.0.0.7"], &trusted), proxy);
    }

    #[test]
    fn a_burst_passes_then_the_client_waits_about_one_period() {
        let limiter = AuthRateLimiter::new(10, 5);
        let ip: IpAddr = [192, 0, 2, 1].into();
        for _ in 0..5 {
            assert_eq!(limiter.check(LOGIN, ip), Ok(()));
        }
        let wait = limiter.check(LOGIN, ip).expect_err("limited");
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(6),
            "{wait:?}"
        );
        // Another client, or another endpoint, is not affected.
        assert_eq!(limiter.check(LOGIN, [192, 0, 2, 2].into()), Ok(()));
        assert_eq!(limiter.check("/api/auth/token/refresh/", ip), Ok(()));
    }

    #[test]
    fn zero_turns_limiting_off() {
        for (rate, burst) in [(0, 5), (10, 0), (0, 0)] {
            let limiter = AuthRateLimiter::new(rate, burst);
            assert!(!limiter.is_enabled());
            let ip: IpAddr = [192, 0, 2, 1].into();
            assert!((0..100).all(|_| limiter.check(LOGIN, ip).is_ok()));
        }
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().expect("ip");
        let other: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(other));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("ip");
        assert_eq!(client_key(mapped), IpAddr::V4([192, 0, 2, 7].into()));
    }

    #[test]
    fn the_body_is_drfs_throttled_message() {
        let response = throttled(Duration::from_millis(5_200));
        assert_eq!(response.status(), 429);
        assert_eq!(
            response
                .headers()
                .get(header::RETRY_AFTER)
                .map(|v| v.as_bytes()),
            Some(&b"6"[..])
        );
        let one = throttled(Duration::from_millis(10));
        assert_eq!(
            one.headers().get(header::RETRY_AFTER).map(|v| v.as_bytes()),
            Some(&b"1"[..])
        );
    }
}
