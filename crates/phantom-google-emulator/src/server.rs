//! The [`Emulator`] handle: starts the HTTP server and gives tests its
//! addresses and controls.

use actix_web::dev::ServerHandle;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use chrono::{DateTime, Utc};
use tokio::task::JoinHandle;

use crate::calendar;
use crate::config::{Consent, EmulatorConfig};
use crate::consent::{self, CONSENT_PATH};
use crate::control;
use crate::errors::ApiError;
use crate::event::EmulatedEvent;
use crate::faults::{Fault, Match};
use crate::gate::{CONTROL_PREFIX, guarded, log_requests};
use crate::instances;
use crate::notify::{Notification, WatchChannel};
use crate::oauth;
use crate::person::{EditError, EventEdit};
use crate::request_log::{LoggedRequest, Operation};
use crate::state::AppState;
use crate::token;
use crate::{notify, watch};

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// Binding or serving the socket failed.
    #[error("could not start the Google emulator: {0}")]
    Io(#[from] std::io::Error),
}

/// A running emulated Google, serving on 127.0.0.1 until [`Emulator::shutdown`]
/// or until the handle is dropped.
#[derive(Debug)]
pub struct Emulator {
    state: AppState,
    base_url: String,
    handle: ServerHandle,
    /// The push-notification delivery task.
    deliveries: JoinHandle<()>,
}

impl Emulator {
    /// Binds 127.0.0.1 (port from `config`, 0 = any free one) and serves in
    /// the background on the current tokio runtime with one worker.
    pub async fn start(config: EmulatorConfig) -> Result<Self, EmulatorError> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", config.port))?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let (state, outbox) = AppState::new(config, &base_url);
        let deliveries = tokio::spawn(notify::deliver(state.downgrade(), outbox));
        let data = web::Data::new(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .wrap(from_fn(log_requests))
                .route("/o/oauth2/v2/auth", web::get().to(oauth::authorize))
                .route("/o/oauth2/auth", web::get().to(oauth::authorize))
                .route(CONSENT_PATH, web::post().to(consent::answer))
                .route("/token", web::post().to(token::token))
                .route("/revoke", web::post().to(token::revoke))
                .service(
                    web::scope("/calendar/v3/calendars/{calendarId}/events")
                        .route("", web::post().to(calendar::insert))
                        .route("", web::get().to(calendar::list))
                        .route("/watch", web::post().to(watch::watch))
                        .route("/{eventId}", web::get().to(calendar::get))
                        .route("/{eventId}/instances", web::get().to(instances::instances))
                        .route("/{eventId}", web::put().to(calendar::update))
                        .route("/{eventId}", web::patch().to(calendar::patch))
                        .route("/{eventId}", web::delete().to(calendar::delete)),
                )
                .route("/calendar/v3/channels/stop", web::post().to(watch::stop))
                .service(web::scope(CONTROL_PREFIX).configure(control::routes))
                .default_service(web::to(unknown))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(1)
        .listen(listener)?
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(Self {
            state,
            base_url,
            handle,
            deliveries,
        })
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Authorization endpoint (Google: `https://accounts.google.com/o/oauth2/v2/auth`).
    pub fn auth_url(&self) -> String {
        format!("{}/o/oauth2/v2/auth", self.base_url)
    }

    /// Token endpoint (Google: `https://oauth2.googleapis.com/token`).
    pub fn token_url(&self) -> String {
        format!("{}/token", self.base_url)
    }

    /// Revocation endpoint (Google: `https://oauth2.googleapis.com/revoke`).
    pub fn revoke_url(&self) -> String {
        format!("{}/revoke", self.base_url)
    }

    /// Calendar API base, with a trailing slash (Google:
    /// `https://www.googleapis.com/calendar/v3/`).
    pub fn calendar_api_url(&self) -> String {
        format!("{}/calendar/v3/", self.base_url)
    }

    /// The registered OAuth client's id.
    pub fn client_id(&self) -> &str {
        &self.state.config.client_id
    }

    /// The registered OAuth client's secret.
    pub fn client_secret(&self) -> &str {
        &self.state.config.client_secret
    }

    /// The account the emulated browser is signed into unless `login_hint` says otherwise.
    pub fn default_user(&self) -> &str {
        &self.state.config.default_user
    }

    /// Sets what the user answers at the consent screen from now on.
    pub fn set_consent(&self, consent: Consent) {
        self.state.set_consent(consent);
    }

    /// Switches the account the emulated browser is signed into.
    pub fn set_signed_in_user(&self, user: &str) {
        self.state.set_signed_in_user(user);
    }

    /// Appends a fault rule; rules are checked in the order pushed.
    pub fn push_fault(&self, fault: Fault) {
        self.state.push_fault(fault);
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.state.clear_faults();
    }

    /// The fault rules still armed, in order, with the uses they have left: a rule of
    /// [`Fault::once`] is gone from here once a request took it (a `Delay` then is under way).
    pub fn armed_faults(&self) -> Vec<Fault> {
        self.state.armed_faults()
    }

    /// Removes the fault rules with exactly this matcher, keeping the others.
    pub fn remove_faults(&self, matcher: &Match) {
        self.state.remove_faults(matcher);
    }

    /// Makes every access token issued so far expired; refresh tokens keep working.
    pub fn expire_all_access_tokens(&self) {
        self.state.expire_all_access_tokens();
    }

    /// Makes refreshing with `token` fail with `invalid_grant`; false if it
    /// was never issued. Access tokens already issued stay valid.
    pub fn invalidate_refresh_token(&self, token: &str) -> bool {
        self.state.invalidate_refresh_token(token)
    }

    /// [`Emulator::invalidate_refresh_token`] for every refresh token.
    pub fn invalidate_all_refresh_tokens(&self) {
        self.state.invalidate_all_refresh_tokens();
    }

    /// Every request answered so far, oldest first.
    pub fn request_log(&self) -> Vec<LoggedRequest> {
        self.state.request_log()
    }

    /// Forgets the requests logged so far.
    pub fn clear_request_log(&self) {
        self.state.clear_request_log();
    }

    /// The events of `owner`'s calendar (a Google account email), cancelled
    /// ones included, in insertion order.
    pub fn events(&self, owner: &str) -> Vec<EmulatedEvent> {
        self.state.events(owner)
    }

    /// One event of `owner`'s calendar as stored, cancelled (deleted) ones
    /// included; `owner` `"primary"` means [`Emulator::default_user`]. An
    /// instance id (`<seriesId>_20261208T090000Z`, all-day `<seriesId>_20261208`)
    /// answers that instance of the series, as `events.get` does.
    pub fn event(&self, owner: &str, id: &str) -> Option<EmulatedEvent> {
        self.state.event(owner, id)
    }

    /// Creates an event the way a person does in Google Calendar's own apps:
    /// Google picks the id, and live channels on the calendar are notified.
    /// `owner` `"primary"` means [`Emulator::default_user`].
    pub fn create_event(&self, owner: &str, edit: EventEdit) -> Result<EmulatedEvent, EditError> {
        self.state.create_event(owner, edit)
    }

    /// Changes the fields `edit` sets on a live event, as a person would in
    /// Google Calendar: a new `updated` and etag, and a notification. With
    /// an instance id it changes only that instance of the series ("this
    /// event"), which Google keeps as an exception; `recurrence` is then
    /// refused. A series' exceptions that its new rule no longer produces
    /// are cancelled.
    pub fn edit_event(
        &self,
        owner: &str,
        id: &str,
        edit: EventEdit,
    ) -> Result<EmulatedEvent, EditError> {
        self.state.edit_event(owner, id, edit)
    }

    /// Deletes a live event as a person would in Google Calendar; it stays
    /// as a cancelled tombstone, which is returned. With an instance id it
    /// cancels only that instance; deleting a series cancels all of them.
    pub fn delete_event(&self, owner: &str, id: &str) -> Result<EmulatedEvent, EditError> {
        self.state.delete_event(owner, id)
    }

    /// The live instances of the series `series_id` in `owner`'s calendar
    /// that meet `[from, to)`, in start order, changed instances as changed
    /// and cancelled ones left out: what `events.list?singleEvents=true`
    /// shows of that series over the same window. A single event has none;
    /// an unknown id is [`EditError::NotFound`].
    pub fn instances(
        &self,
        owner: &str,
        series_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<EmulatedEvent>, EditError> {
        self.state.instances(owner, series_id, from, to)
    }

    /// Expires every sync token issued so far: the next `events.list` with
    /// one answers `410 fullSyncRequired`, on any page.
    pub fn invalidate_sync_tokens(&self) {
        self.state.invalidate_sync_tokens();
    }

    /// The live (neither stopped nor expired) watch channels.
    pub fn channels(&self) -> Vec<WatchChannel> {
        self.state.channels()
    }

    /// Expires every watch channel now: they get no more notifications.
    pub fn expire_all_channels(&self) {
        self.state.expire_all_channels();
    }

    /// Every push notification sent so far, with its outcome, oldest first.
    /// Delivery is asynchronous: a notification appears here once its POST
    /// finished.
    pub fn notifications(&self) -> Vec<Notification> {
        self.state.notifications()
    }

    /// Forgets the notifications recorded so far.
    pub fn clear_notifications(&self) {
        self.state.clear_notifications();
    }

    /// Stops serving: afterwards connections are refused, as when Google is
    /// unreachable.
    pub async fn shutdown(self) {
        self.handle.stop(false).await;
        self.deliveries.abort();
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        // The stop command is sent when `stop` is called; awaiting the
        // returned future would only wait for completion.
        let stopping = self.handle.stop(false);
        drop(stopping);
        self.deliveries.abort();
    }
}

/// Any path the emulator does not implement.
async fn unknown(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    guarded(&state, &req, Operation::Other, || {
        ApiError::not_found().response()
    })
    .await
}
