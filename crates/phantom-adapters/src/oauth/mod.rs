//! Google's OAuth 2.0 web-server flow over the `oauth2` crate.

mod google;

pub use google::{GoogleOAuth, GoogleOAuthConfig, TOKEN_REFRESHES_METRIC};
