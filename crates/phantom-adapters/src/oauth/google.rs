//! [`OAuthProvider`] for Google: authorization URL with PKCE, code exchange, refresh, revoke.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{TimeDelta, Utc};
use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, Scope,
    TokenResponse, TokenUrl, reqwest,
};
use phantom_domain::google::{CALENDAR_EVENTS_SCOPE, Secret, TokenGrant};
use phantom_domain::ports::{AuthorizationRequest, OAuthError, OAuthProvider};

/// `phantom_google_token_refreshes_total`: refresh-token grants sent to Google, by outcome
/// (`ok`, `invalid_grant`: the user must reconnect, `error`: anything else).
pub const TOKEN_REFRESHES_METRIC: &str = "phantom_google_token_refreshes_total";

type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// Where Google's endpoints are and who we are to Google.
#[derive(Clone, Default)]
pub struct GoogleOAuthConfig {
    /// OAuth client id; without it and the secret, nothing is sent anywhere.
    pub client_id: Option<String>,
    /// OAuth client secret.
    pub client_secret: Option<String>,
    /// Our callback URL, registered with Google.
    pub redirect_uri: String,
    /// Authorization endpoint.
    pub auth_url: String,
    /// Token endpoint.
    pub token_url: String,
    /// Revocation endpoint (RFC 7009).
    pub revoke_url: String,
}

/// Google's OAuth endpoints through the `oauth2` crate, with an HTTP client that never follows
/// redirects (the crate's advice against SSRF) and gives up after 15 s.
#[derive(Clone)]
pub struct GoogleOAuth {
    client: Option<Client>,
    revoke_url: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for GoogleOAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleOAuth")
            .field("configured", &self.client.is_some())
            .finish_non_exhaustive()
    }
}

/// A configuration value that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("{name} is not a valid URL")]
pub struct InvalidUrl {
    /// The setting.
    pub name: &'static str,
}

impl GoogleOAuth {
    /// Checks the URLs; a missing client id or secret leaves the provider unconfigured.
    pub fn new(config: GoogleOAuthConfig) -> Result<Self, InvalidUrl> {
        let client = match (config.client_id, config.client_secret) {
            (Some(id), Some(secret)) => Some(
                BasicClient::new(ClientId::new(id))
                    .set_client_secret(ClientSecret::new(secret))
                    .set_auth_uri(AuthUrl::new(config.auth_url).map_err(|_| InvalidUrl {
                        name: "GOOGLE_AUTH_URL",
                    })?)
                    .set_token_uri(TokenUrl::new(config.token_url).map_err(|_| InvalidUrl {
                        name: "GOOGLE_TOKEN_URL",
                    })?)
                    .set_redirect_uri(RedirectUrl::new(config.redirect_uri).map_err(|_| {
                        InvalidUrl {
                            name: "GOOGLE_REDIRECT_URI",
                        }
                    })?),
            ),
            _ => None,
        };
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|_| InvalidUrl {
                name: "HTTP client",
            })?;
        Ok(Self {
            client,
            revoke_url: config.revoke_url,
            http,
        })
    }

    fn client(&self) -> Result<&Client, OAuthError> {
        self.client.as_ref().ok_or(OAuthError::NotConfigured)
    }
}

fn grant(response: &oauth2::basic::BasicTokenResponse) -> TokenGrant {
    let lifetime = response
        .expires_in()
        .and_then(|d| TimeDelta::from_std(d).ok())
        .unwrap_or(TimeDelta::hours(1));
    TokenGrant {
        access_token: Secret::new(response.access_token().secret().clone()),
        refresh_token: response
            .refresh_token()
            .map(|t| Secret::new(t.secret().clone())),
        expires_at: Utc::now() + lifetime,
        scopes: response
            .scopes()
            .map(|s| s.iter().map(|s| s.to_string()).collect())
            .unwrap_or_default(),
    }
}

type TokenError = RequestTokenError<
    oauth2::HttpClientError<reqwest::Error>,
    oauth2::StandardErrorResponse<BasicErrorResponseType>,
>;

/// The crate drops the HTTP status of an error answer, so the error code decides: RFC 6749's
/// codes are the client's fault; anything else (`server_error`, `temporarily_unavailable`,
/// Google's `internal_failure`, `rate_limit_exceeded`) is Google's, and worth a later retry.
fn classify(e: TokenError) -> OAuthError {
    use BasicErrorResponseType as Code;
    match e {
        RequestTokenError::ServerResponse(r) => match r.error() {
            Code::InvalidGrant => OAuthError::InvalidGrant,
            Code::InvalidRequest
            | Code::InvalidClient
            | Code::UnauthorizedClient
            | Code::UnsupportedGrantType
            | Code::InvalidScope => OAuthError::Rejected(r.error().to_string()),
            Code::Extension(code) => {
                OAuthError::Unavailable(format!("Google answered {code}").into())
            }
        },
        // Network errors, timeouts, and 5xx pages that are not OAuth error JSON.
        other => OAuthError::Unavailable(Box::new(other)),
    }
}

#[async_trait]
impl OAuthProvider for GoogleOAuth {
    fn authorization_request(&self, state: &str) -> Result<AuthorizationRequest, OAuthError> {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = state.to_owned();
        let (url, _) = self
            .client()?
            .authorize_url(move || CsrfToken::new(state))
            .add_scope(Scope::new(CALENDAR_EVENTS_SCOPE.to_owned()))
            .add_extra_param("access_type", "offline")
            .add_extra_param("prompt", "consent")
            .set_pkce_challenge(challenge)
            .url();
        Ok(AuthorizationRequest {
            url: url.to_string(),
            pkce_verifier: Secret::new(verifier.secret().clone()),
        })
    }

    async fn exchange_code(
        &self,
        code: &str,
        pkce_verifier: &Secret,
    ) -> Result<TokenGrant, OAuthError> {
        let response = self
            .client()?
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.expose().to_owned()))
            .request_async(&self.http)
            .await
            .map_err(classify)?;
        Ok(grant(&response))
    }

    async fn refresh(&self, refresh_token: &Secret) -> Result<TokenGrant, OAuthError> {
        let token = RefreshToken::new(refresh_token.expose().to_owned());
        let result = self
            .client()?
            .exchange_refresh_token(&token)
            .request_async(&self.http)
            .await
            .map_err(classify);
        let outcome = match &result {
            Ok(_) => "ok",
            Err(OAuthError::InvalidGrant) => "invalid_grant",
            Err(_) => "error",
        };
        metrics::counter!(TOKEN_REFRESHES_METRIC, "outcome" => outcome).increment(1);
        Ok(grant(&result?))
    }

    /// One RFC 7009 form POST. The crate's own revocation refuses `http://` endpoints, which
    /// the local emulator needs; this is the same request over the same client.
    async fn revoke(&self, token: &Secret) -> Result<(), OAuthError> {
        self.client()?;
        let response = self
            .http
            .post(&self.revoke_url)
            .form(&[("token", token.expose())])
            .send()
            .await
            .map_err(|e| OAuthError::Unavailable(Box::new(e)))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.bytes().await.unwrap_or_default();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        match (status.as_u16(), body["error"].as_str()) {
            // Already invalid: as good as revoked.
            (400, Some("invalid_token")) => Ok(()),
            (s, _) if s >= 500 || s == 429 => Err(OAuthError::Unavailable(
                format!("revocation answered {status}").into(),
            )),
            (_, error) => Err(OAuthError::Rejected(
                error.unwrap_or("unknown error").to_owned(),
            )),
        }
    }
}
