//! How an emulator instance is set up: its registered OAuth client, its users
//! and token lifetimes.

use std::time::Duration;

/// The OAuth client id the emulator accepts by default.
pub const DEFAULT_CLIENT_ID: &str = "emulated-client.apps.googleusercontent.com";
/// The OAuth client secret the emulator accepts by default.
pub const DEFAULT_CLIENT_SECRET: &str = "GOCSPX-emulated-client-secret";
/// The Google account the emulated browser is signed into by default.
pub const DEFAULT_USER: &str = "emulated.user@gmail.com";

/// Which redirect URIs the registered client allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedirectUris {
    /// Any `http://127.0.0.1:<port>/<path>` or `http://localhost:<port>/<path>`,
    /// the way Google treats loopback redirects of desktop clients.
    AnyLoopback,
    /// Only these URIs, compared exactly as strings (as Google does for web clients).
    Exact(Vec<String>),
}

impl RedirectUris {
    /// Whether `uri` is registered.
    pub fn allows(&self, uri: &str) -> bool {
        match self {
            Self::Exact(list) => list.iter().any(|allowed| allowed == uri),
            Self::AnyLoopback => url::Url::parse(uri).is_ok_and(|url| {
                url.scheme() == "http"
                    && matches!(url.host_str(), Some("127.0.0.1" | "localhost"))
                    && url.fragment().is_none()
            }),
        }
    }
}

/// What the emulated user answers on Google's consent screen.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Consent {
    /// Grant every requested scope (the default).
    #[default]
    Grant,
    /// Press "Cancel": the client gets `error=access_denied`.
    Deny,
    /// Grant only those of the requested scopes that are listed here, like a
    /// user who unticks a checkbox on the granular consent screen.
    GrantScopes(Vec<String>),
    /// Show an HTML consent page and let a person decide (for the binary).
    Prompt,
}

/// How to set up an [`Emulator`](crate::Emulator).
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Port to listen on at 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// The registered OAuth client's id.
    pub client_id: String,
    /// The registered OAuth client's secret.
    pub client_secret: String,
    /// The client's redirect URI allow-list.
    pub redirect_uris: RedirectUris,
    /// The account the emulated browser is signed into; `login_hint` picks another.
    pub default_user: String,
    /// The consent answer in force at start.
    pub consent: Consent,
    /// Lifetime of access tokens (Google: 3599 s, reported as `expires_in`).
    pub access_token_lifetime: Duration,
    /// Lifetime of authorization codes (Google: 10 minutes).
    pub code_lifetime: Duration,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            port: 0,
            client_id: DEFAULT_CLIENT_ID.to_owned(),
            client_secret: DEFAULT_CLIENT_SECRET.to_owned(),
            redirect_uris: RedirectUris::AnyLoopback,
            default_user: DEFAULT_USER.to_owned(),
            consent: Consent::Grant,
            access_token_lifetime: Duration::from_secs(3599),
            code_lifetime: Duration::from_secs(600),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RedirectUris;

    #[test]
    fn loopback_policy_accepts_any_port_and_path_on_http_loopback_only() {
        let policy = RedirectUris::AnyLoopback;
        assert!(policy.allows("http://127.0.0.1:53682/"));
        assert!(policy.allows("http://localhost:8080/auth/google/callback"));
        assert!(!policy.allows("https://127.0.0.1:8080/cb"));
        assert!(!policy.allows("http://example.com/cb"));
        assert!(!policy.allows("not a url"));
    }

    #[test]
    fn exact_policy_compares_whole_strings() {
        let policy = RedirectUris::Exact(vec!["https://app.example/cb".into()]);
        assert!(policy.allows("https://app.example/cb"));
        assert!(!policy.allows("https://app.example/cb/"));
    }
}
