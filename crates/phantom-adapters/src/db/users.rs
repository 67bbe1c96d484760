//! The user repository.

use async_trait::async_trait;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use phantom_domain::error::RepoError;
use phantom_domain::ids::{CategoryId, UserId};
use phantom_domain::ports::UserRepository;
use phantom_domain::user::{NewUser, Preferences, User, UserCredentials};

use super::error::{from_diesel, storage};
use super::schema::users;
use super::time::{from_db, to_db};
use super::{Database, first};

#[derive(Queryable)]
struct UserRow {
    id: i64,
    username: String,
    email: String,
    name: String,
    password_hash: String,
    timezone: String,
    default_event_duration: i32,
    created_at: NaiveDateTime,
    google_import_category: Option<i64>,
}

/// The columns of a [`UserRow`]: the account, not the Google connection or sync state.
const COLUMNS: (
    users::id,
    users::username,
    users::email,
    users::name,
    users::password_hash,
    users::timezone,
    users::default_event_duration,
    users::created_at,
    users::google_import_category,
) = (
    users::id,
    users::username,
    users::email,
    users::name,
    users::password_hash,
    users::timezone,
    users::default_event_duration,
    users::created_at,
    users::google_import_category,
);

impl UserRow {
    fn into_credentials(self) -> Result<UserCredentials, RepoError> {
        let timezone = self.timezone.parse().map_err(storage)?;
        Ok(UserCredentials {
            user: User {
                id: UserId(self.id),
                username: self.username,
                email: self.email,
                name: self.name,
                preferences: Preferences {
                    timezone,
                    default_event_duration: self.default_event_duration,
                    google_import_category: self.google_import_category.map(CategoryId),
                },
                created_at: from_db(self.created_at),
            },
            password_hash: self.password_hash,
        })
    }

    fn into_user(self) -> Result<User, RepoError> {
        self.into_credentials().map(|c| c.user)
    }
}

#[derive(Insertable)]
#[diesel(table_name = users)]
struct NewUserRow {
    username: String,
    email: String,
    name: String,
    password_hash: String,
    timezone: String,
    default_event_duration: i32,
    created_at: NaiveDateTime,
}

/// [`UserRepository`] over the `users` table.
#[derive(Debug, Clone)]
pub struct DieselUserRepository {
    db: Database,
}

impl DieselUserRepository {
    /// A repository on `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl UserRepository for DieselUserRepository {
    async fn create(&self, user: NewUser) -> Result<User, RepoError> {
        let row = NewUserRow {
            username: user.username,
            email: user.email,
            name: user.name,
            password_hash: user.password_hash,
            timezone: user.preferences.timezone.name().to_owned(),
            default_event_duration: user.preferences.default_event_duration,
            created_at: to_db(user.created_at),
        };
        self.db
            .write(move |c| {
                let rows = diesel::insert_into(users::table)
                    .values(row)
                    .returning(COLUMNS)
                    .get_results::<UserRow>(c);
                rows.and_then(first).map_err(from_diesel)?.into_user()
            })
            .await
    }

    async fn find_credentials(&self, username: &str) -> Result<Option<UserCredentials>, RepoError> {
        let username = username.to_owned();
        self.db
            .read(move |c| {
                users::table
                    .filter(users::username.eq(username))
                    .select(COLUMNS)
                    .first::<UserRow>(c)
                    .optional()
                    .map_err(from_diesel)?
                    .map(UserRow::into_credentials)
                    .transpose()
            })
            .await
    }

    async fn find(&self, id: UserId) -> Result<Option<User>, RepoError> {
        self.db
            .read(move |c| {
                users::table
                    .find(id.0)
                    .select(COLUMNS)
                    .first::<UserRow>(c)
                    .optional()
                    .map_err(from_diesel)?
                    .map(UserRow::into_user)
                    .transpose()
            })
            .await
    }

    async fn update_preferences(
        &self,
        id: UserId,
        preferences: Preferences,
    ) -> Result<Option<User>, RepoError> {
        self.db
            .write(move |c| {
                let rows = diesel::update(users::table.find(id.0))
                    .set((
                        users::timezone.eq(preferences.timezone.name()),
                        users::default_event_duration.eq(preferences.default_event_duration),
                        users::google_import_category
                            .eq(preferences.google_import_category.map(|c| c.0)),
                    ))
                    .returning(COLUMNS)
                    .get_results::<UserRow>(c)
                    .map_err(from_diesel)?;
                rows.into_iter().next().map(UserRow::into_user).transpose()
            })
            .await
    }
}
