//! `google-emulator`: serves the emulated Google on 127.0.0.1 so a person can
//! click through the OAuth flow locally, or a benchmark can drive it through
//! the `/_emulator/` control endpoints.

use clap::{Parser, ValueEnum};
use phantom_google_emulator::{
    Consent, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_USER, Emulator, EmulatorConfig,
};

/// What the consent screen does.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum ConsentMode {
    /// Show a page with the requested scopes and Continue/Cancel buttons.
    Prompt,
    /// Grant every requested scope without asking.
    Grant,
    /// Deny every request.
    Deny,
}

/// Emulated Google OAuth 2.0 and Calendar API v3 for local development.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Port to listen on at 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 9090)]
    port: u16,
    /// OAuth client id to accept.
    #[arg(long, default_value = DEFAULT_CLIENT_ID)]
    client_id: String,
    /// OAuth client secret to accept.
    #[arg(long, default_value = DEFAULT_CLIENT_SECRET)]
    client_secret: String,
    /// Google account the emulated browser is signed into.
    #[arg(long, default_value = DEFAULT_USER)]
    user: String,
    /// Consent screen behaviour.
    #[arg(long, value_enum, default_value_t = ConsentMode::Prompt)]
    consent: ConsentMode,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "phantom_google_emulator=debug".into()),
        )
        .init();
    let args = Args::parse();
    let consent = match args.consent {
        ConsentMode::Prompt => Consent::Prompt,
        ConsentMode::Grant => Consent::Grant,
        ConsentMode::Deny => Consent::Deny,
    };
    let config = EmulatorConfig {
        port: args.port,
        client_id: args.client_id,
        client_secret: args.client_secret,
        default_user: args.user,
        consent,
        ..EmulatorConfig::default()
    };
    let emulator = Emulator::start(config).await?;
    println!("Emulated Google listening on {}", emulator.base_url());
    println!("Configure the server with:");
    println!("  GOOGLE_AUTH_URL={}", emulator.auth_url());
    println!("  GOOGLE_TOKEN_URL={}", emulator.token_url());
    println!("  GOOGLE_REVOKE_URL={}", emulator.revoke_url());
    println!("  GOOGLE_CALENDAR_API_URL={}", emulator.calendar_api_url());
    println!("  GOOGLE_CLIENT_ID={}", emulator.client_id());
    println!("  GOOGLE_CLIENT_SECRET={}", emulator.client_secret());
    println!(
        "Redirect URIs accepted: any http://127.0.0.1:<port>/... or http://localhost:<port>/..."
    );
    println!(
        "Signed-in user: {} (override per request with login_hint)",
        emulator.default_user()
    );
    println!(
        "Controls: {}/_emulator/ (see the crate docs); Ctrl-C stops.",
        emulator.base_url()
    );
    println!(
        "Edit as a person would in Google: POST/PATCH/DELETE {}/_emulator/calendars/primary/events[/ID] (docs/google-emulator.md)",
        emulator.base_url()
    );
    tokio::signal::ctrl_c().await?;
    emulator.shutdown().await;
    Ok(())
}
