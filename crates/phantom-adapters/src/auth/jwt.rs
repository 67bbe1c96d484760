//! HS256 JSON Web Tokens in djangorestframework-simplejwt's shape.

use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use phantom_domain::error::Cause;
use phantom_domain::ids::UserId;
use phantom_domain::ports::{TokenClaims, TokenCodec, TokenKind};
use serde::{Deserialize, Serialize};

/// The claims simplejwt puts in a token.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    token_type: String,
    exp: i64,
    iat: i64,
    jti: String,
    user_id: i64,
}

fn kind_name(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::Access => "access",
        TokenKind::Refresh => "refresh",
    }
}

/// Issues and checks HS256 tokens; only HS256 is accepted, `exp` is required, and the
/// `token_type` claim keeps refresh and access tokens from standing in for each other.
#[derive(Clone)]
pub struct JwtCodec {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    access_ttl: Duration,
    refresh_ttl: Duration,
}

impl std::fmt::Debug for JwtCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtCodec")
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .finish_non_exhaustive()
    }
}

impl JwtCodec {
    /// A codec signing with `secret`.
    pub fn new(secret: &[u8], access_ttl: Duration, refresh_ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_required_spec_claims(&["exp"]);
        validation.leeway = 0;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            access_ttl,
            refresh_ttl,
        }
    }
}

impl TokenCodec for JwtCodec {
    fn issue(&self, user: UserId, kind: TokenKind) -> Result<String, Cause> {
        let ttl = match kind {
            TokenKind::Access => self.access_ttl,
            TokenKind::Refresh => self.refresh_ttl,
        };
        let now = Utc::now().timestamp();
        let claims = Claims {
            token_type: kind_name(kind).to_owned(),
            exp: now.saturating_add(i64::try_from(ttl.as_secs())?),
            iat: now,
            jti: uuid::Uuid::new_v4().simple().to_string(),
            user_id: user.0,
        };
        Ok(encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    fn decode(&self, token: &str, kind: Option<TokenKind>) -> Option<TokenClaims> {
        let claims = decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()?
            .claims;
        let actual = match claims.token_type.as_str() {
            "access" => TokenKind::Access,
            "refresh" => TokenKind::Refresh,
            _ => return None,
        };
        if kind.is_some_and(|wanted| wanted != actual) {
            return None;
        }
        Some(TokenClaims {
            user_id: UserId(claims.user_id),
            kind: actual,
            jti: claims.jti,
            expires_at: DateTime::from_timestamp(claims.exp, 0)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

    const HOUR: Duration = Duration::from_secs(3600);

    fn codec(secret: &[u8]) -> JwtCodec {
        JwtCodec::new(secret, HOUR, HOUR)
    }

    #[test]
    fn round_trips_and_keeps_kinds_apart() {
        let codec = codec(b"secret");
        let access = codec.issue(UserId(7), TokenKind::Access).expect("issue");
        let claims = codec
            .decode(&access, Some(TokenKind::Access))
            .expect("valid");
        assert_eq!(
            (claims.user_id, claims.kind),
            (UserId(7), TokenKind::Access)
        );
        assert!(codec.decode(&access, Some(TokenKind::Refresh)).is_none());
        assert!(codec.decode(&access, None).is_some());
    }

    #[test]
    fn refuses_other_keys_tampering_expiry_and_alg_none() {
        let codec = codec(b"secret");
        let token = codec.issue(UserId(7), TokenKind::Access).expect("issue");
        assert!(self::codec(b"other").decode(&token, None).is_none());

        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let payload = String::from_utf8(B64.decode(&parts[1]).expect("base64")).expect("utf8");
        parts[1] = B64.encode(payload.replace("\"user_id\":7", "\"user_id\":8").as_bytes());
        assert!(
            codec.decode(&parts.join("."), None).is_none(),
            "tampered payload accepted"
        );

        let none_header = B64.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let unsigned = format!("{none_header}.{}.", parts[1]);
        assert!(codec.decode(&unsigned, None).is_none(), "alg none accepted");

        let expired = JwtCodec::new(b"secret", Duration::ZERO, HOUR)
            .issue(UserId(7), TokenKind::Access)
            .expect("issue");
        std::thread::sleep(Duration::from_millis(1100));
        assert!(
            codec.decode(&expired, None).is_none(),
            "expired token accepted"
        );
    }
}
