//! HMAC-SHA256 signed OAuth `state`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::DateTime;
use hmac::{Hmac, Mac};
use phantom_domain::google::OAuthState;
use phantom_domain::ids::UserId;
use phantom_domain::ports::StateCodec;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// `base64url(user.nonce.expiry).base64url(hmac)`: the user id, a nonce and an expiry that
/// nobody without the server's key can forge or alter.
#[derive(Clone)]
pub struct HmacStateCodec {
    key: Vec<u8>,
}

impl std::fmt::Debug for HmacStateCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HmacStateCodec")
    }
}

impl HmacStateCodec {
    /// A codec keyed by the server secret, domain-separated from its other uses.
    pub fn new(secret: &[u8]) -> Self {
        let mut key = b"phantom oauth state v1:".to_vec();
        key.extend_from_slice(secret);
        Self { key }
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes keys of any length; this cannot fail.
        HmacSha256::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
    }
}

impl StateCodec for HmacStateCodec {
    fn sign(&self, state: &OAuthState) -> String {
        let payload = format!(
            "{}.{}.{}",
            state.user.0,
            state.nonce,
            state.expires_at.timestamp()
        );
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        let tag = mac.finalize().into_bytes();
        format!("{}.{}", B64.encode(payload), B64.encode(tag))
    }

    fn verify(&self, text: &str) -> Option<OAuthState> {
        let (payload, tag) = text.split_once('.')?;
        let payload = B64.decode(payload).ok()?;
        let tag = B64.decode(tag).ok()?;
        let mut mac = self.mac();
        mac.update(&payload);
        mac.verify_slice(&tag).ok()?;
        let payload = String::from_utf8(payload).ok()?;
        let mut parts = payload.split('.');
        let user = UserId(parts.next()?.parse().ok()?);
        let nonce = parts.next()?.to_owned();
        let expires_at = DateTime::from_timestamp(parts.next()?.parse().ok()?, 0)?;
        parts.next().is_none().then_some(OAuthState {
            user,
            nonce,
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn state() -> OAuthState {
        OAuthState {
            user: UserId(42),
            nonce: "abc123".into(),
            expires_at: DateTime::from_timestamp(Utc::now().timestamp(), 0).expect("time"),
        }
    }

    #[test]
    fn verifies_its_own_signature_only() {
        let codec = HmacStateCodec::new(b"server secret");
        let signed = codec.sign(&state());
        assert_eq!(codec.verify(&signed), Some(state()));
        assert_eq!(HmacStateCodec::new(b"other secret").verify(&signed), None);

        let (_, tag) = signed.split_once('.').expect("two parts");
        let forged_payload = B64.encode(format!("1.abc123.{}", state().expires_at.timestamp()));
        assert_eq!(codec.verify(&format!("{forged_payload}.{tag}")), None);
        assert_eq!(codec.verify("garbage"), None);
        assert_eq!(codec.verify(""), None);
    }
}
