//! The few API calls the bench makes itself: users, events, connecting Google Calendar.

use anyhow::{Context, bail, ensure};
use phantom_google_emulator::Emulator;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Every bench user's password.
pub const PASSWORD: &str = "correct horse battery staple";

/// A client of the server under test.
#[derive(Clone)]
pub struct Api {
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    client: reqwest::Client,
}

/// A registered, logged-in user.
#[derive(Debug, Clone)]
pub struct User {
    /// Access token.
    pub access: String,
}

impl Api {
    /// A client for `base_url` with keep-alive connections.
    pub fn new(base_url: &str) -> anyhow::Result<Self> {
        Ok(Self {
            base_url: base_url.to_owned(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .pool_max_idle_per_host(64)
                .build()?,
        })
    }

    /// Registers `username` and logs in.
    pub async fn user(&self, username: &str) -> anyhow::Result<User> {
        let credentials = json!({"username": username, "password": PASSWORD});
        let registered = self
            .client
            .post(format!("{}/api/auth/register/", self.base_url))
            .json(&credentials)
            .send()
            .await?;
        ensure!(
            registered.status() == StatusCode::CREATED,
            "register answered {}",
            registered.status()
        );
        self.login(username).await
    }

    /// Logs `username` (registered by [`Api::user`]) in again: a fresh access token, for a
    /// load that starts after the first one may have expired (they last 5 minutes).
    pub async fn login(&self, username: &str) -> anyhow::Result<User> {
        let credentials = json!({"username": username, "password": PASSWORD});
        let tokens: Value = self
            .client
            .post(format!("{}/api/auth/login/", self.base_url))
            .json(&credentials)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let access = tokens["access"].as_str().context("no access token")?;
        Ok(User {
            access: access.to_owned(),
        })
    }

    /// Registers and logs in `{prefix}{i}` for every `i` below `count`, `concurrency` at a
    /// time (each costs two password hashes), in order of `i`.
    pub async fn users(
        &self,
        prefix: &str,
        count: usize,
        concurrency: usize,
    ) -> anyhow::Result<Vec<User>> {
        let mut tasks = tokio::task::JoinSet::new();
        let step = concurrency.max(1);
        for worker in 0..step {
            let api = self.clone();
            let prefix = prefix.to_owned();
            tasks.spawn(async move {
                let mut made = Vec::new();
                for i in (worker..count).step_by(step) {
                    made.push((i, api.user(&format!("{prefix}{i}")).await?));
                }
                anyhow::Ok(made)
            });
        }
        let mut all = Vec::with_capacity(count);
        while let Some(done) = tasks.join_next().await {
            all.extend(done??);
        }
        all.sort_by_key(|(i, _)| *i);
        Ok(all.into_iter().map(|(_, user)| user).collect())
    }

    /// Creates an event titled `title` on day `n` of a cycle; fails unless `201`.
    pub async fn create_event(&self, user: &User, title: &str, n: usize) -> anyhow::Result<()> {
        let day = n % 28 + 1;
        let hour = n % 23;
        let body = json!({
            "title": title,
            "category": 1,
            "start_time": format!("2027-01-{day:02}T{hour:02}:00:00Z"),
            "end_time": format!("2027-01-{day:02}T{hour:02}:30:00Z"),
        });
        self.post_event(user, &body).await
    }

    /// `POST /api/events/` of `body` as `user`; fails unless `201`.
    pub async fn post_event(&self, user: &User, body: &Value) -> anyhow::Result<()> {
        let answer = self
            .client
            .post(format!("{}/api/events/", self.base_url))
            .bearer_auth(&user.access)
            .json(body)
            .send()
            .await?;
        if answer.status() != StatusCode::CREATED {
            bail!(
                "create answered {}: {}",
                answer.status(),
                answer.text().await?
            );
        }
        // Read the body so the connection goes back to the pool.
        answer.bytes().await?;
        Ok(())
    }

    /// `POST /api/events/` of every body `bodies` gives, `concurrency` requests in flight.
    pub async fn post_events(
        &self,
        user: &User,
        bodies: Vec<Value>,
        concurrency: usize,
    ) -> anyhow::Result<()> {
        let bodies = std::sync::Arc::new(bodies);
        let mut tasks = tokio::task::JoinSet::new();
        let step = concurrency.max(1);
        for worker in 0..step {
            let (api, user, bodies) = (self.clone(), user.clone(), bodies.clone());
            tasks.spawn(async move {
                for body in bodies.iter().skip(worker).step_by(step) {
                    api.post_event(&user, body).await?;
                }
                anyhow::Ok(())
            });
        }
        while let Some(done) = tasks.join_next().await {
            done??;
        }
        Ok(())
    }

    /// `GET path` (e.g. `/api/events/?page_size=1`) as `user`; fails unless `200`.
    pub async fn get_json(&self, user: &User, path: &str) -> anyhow::Result<Value> {
        let answer = self
            .client
            .get(format!("{}{path}", self.base_url))
            .bearer_auth(&user.access)
            .send()
            .await?;
        if answer.status() != StatusCode::OK {
            bail!("GET {path} answered {}", answer.status());
        }
        Ok(answer.json().await?)
    }

    /// Creates `count` events for `user` with `concurrency` requests in flight.
    pub async fn create_many(
        &self,
        user: &User,
        prefix: &str,
        count: usize,
        concurrency: usize,
    ) -> anyhow::Result<()> {
        let mut tasks = tokio::task::JoinSet::new();
        for worker in 0..concurrency.max(1) {
            let api = self.clone();
            let user = user.clone();
            let prefix = prefix.to_owned();
            tasks.spawn(async move {
                for n in (worker..count).step_by(concurrency.max(1)) {
                    api.create_event(&user, &format!("{prefix} {n}"), n).await?;
                }
                anyhow::Ok(())
            });
        }
        while let Some(done) = tasks.join_next().await {
            done??;
        }
        Ok(())
    }

    /// Connects `user`'s Google Calendar as the emulator's account `google_account`: connect,
    /// the emulator's consent (granted), then the callback the browser would call.
    pub async fn connect_google(
        &self,
        user: &User,
        emulator: &Emulator,
        google_account: &str,
    ) -> anyhow::Result<()> {
        emulator.set_signed_in_user(google_account);
        let connect: Value = self
            .client
            .get(format!(
                "{}/api/integrations/google-calendar/connect/",
                self.base_url
            ))
            .bearer_auth(&user.access)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let url = connect["authorization_url"]
            .as_str()
            .context("no authorization_url")?;
        let consent = self.client.get(url).send().await?;
        ensure!(
            consent.status() == StatusCode::FOUND,
            "the emulator's consent answered {}",
            consent.status()
        );
        let location = consent
            .headers()
            .get("location")
            .context("no redirect from the consent screen")?
            .to_str()?;
        let callback = self.client.get(location).send().await?;
        ensure!(
            callback.status() == StatusCode::OK,
            "the callback answered {}",
            callback.status()
        );
        Ok(())
    }
}
