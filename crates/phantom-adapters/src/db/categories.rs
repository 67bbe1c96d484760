//! The category repository.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use phantom_domain::category::{Category, NewCategory};
use phantom_domain::error::RepoError;
use phantom_domain::event::Origin;
use phantom_domain::google_changes::FieldSet;
use phantom_domain::ids::{CategoryId, UserId};
use phantom_domain::ports::CategoryRepository;

use super::error::from_diesel;
use super::events::{Operation, enqueue, is_connected, status_after_change};
use super::schema::{categories, events};
use super::time::to_db;
use super::{AnyConnection, Database, first};

#[derive(Queryable)]
struct CategoryRow {
    id: i64,
    user_id: Option<i64>,
    name: String,
    _name_key: String,
    priority_level: i32,
    color: String,
    description: String,
}

impl From<CategoryRow> for Category {
    fn from(row: CategoryRow) -> Self {
        Category {
            id: CategoryId(row.id),
            owner: row.user_id.map(UserId),
            name: row.name,
            priority_level: row.priority_level,
            color: row.color,
            description: row.description,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = categories)]
struct NewCategoryRow {
    user_id: i64,
    name: String,
    name_key: String,
    priority_level: i32,
    color: String,
    description: String,
}

/// Another category than `except` that `user` sees (a default or their own) already has the
/// name key. The unique index covers the user's own names; the defaults (NULL owner) are
/// checked here, and they never change.
fn name_taken(
    c: &mut AnyConnection,
    user: i64,
    key: &str,
    except: Option<i64>,
) -> QueryResult<bool> {
    let mut query = categories::table
        .filter(categories::name_key.eq(key))
        .filter(
            categories::user_id
                .is_null()
                .or(categories::user_id.eq(user)),
        )
        .into_boxed();
    if let Some(id) = except {
        query = query.filter(categories::id.ne(id));
    }
    Ok(query.count().get_result::<i64>(c)? > 0)
}

/// Queues a write of each of `user`'s Phantom events in `category`, so that Google Calendar
/// gets the colour of the category's new priority. No field Google holds changed (an empty
/// field set): the write of a Phantom event sends it whole anyway, colour included, and
/// events made in Google keep their own colour.
fn queue_recolour(
    c: &mut AnyConnection,
    user: i64,
    category: i64,
    at: DateTime<Utc>,
) -> QueryResult<()> {
    if !is_connected(c, user)? {
        return Ok(());
    }
    let now = to_db(at);
    let mine = events::table
        .filter(events::user_id.eq(user))
        .filter(events::category_id.eq(category))
        .filter(events::origin.eq(Origin::Phantom.as_str()));
    let affected = mine
        .select((events::id, events::google_event_id))
        .load::<(i64, String)>(c)?;
    if affected.is_empty() {
        return Ok(());
    }
    diesel::update(mine)
        .set(events::sync_status.eq(status_after_change(true).as_str()))
        .execute(c)?;
    for (event, google_id) in affected {
        enqueue(
            c,
            user,
            event,
            &google_id,
            Operation::Upsert(FieldSet::NONE),
            None,
            now,
        )?;
    }
    Ok(())
}

/// What an update found inside its transaction.
enum Updated {
    /// No such category of the user's own.
    Missing,
    /// Another category the user sees has the name.
    NameTaken,
    /// The stored category.
    Done(Category),
}

/// The key names are unique by: what a person would call "the same name".
fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// [`CategoryRepository`] over the `categories` table.
#[derive(Debug, Clone)]
pub struct DieselCategoryRepository {
    db: Database,
}

impl DieselCategoryRepository {
    /// A repository on `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl CategoryRepository for DieselCategoryRepository {
    async fn list_visible(&self, user: UserId) -> Result<Vec<Category>, RepoError> {
        self.db
            .read(move |c| {
                let rows = categories::table
                    .filter(
                        categories::user_id
                            .is_null()
                            .or(categories::user_id.eq(user.0)),
                    )
                    .order((categories::priority_level.desc(), categories::id.asc()))
                    .load::<CategoryRow>(c)
                    .map_err(from_diesel)?;
                Ok(rows.into_iter().map(Category::from).collect())
            })
            .await
    }

    async fn find_visible(
        &self,
        user: UserId,
        id: CategoryId,
    ) -> Result<Option<Category>, RepoError> {
        self.db
            .read(move |c| {
                let row = categories::table
                    .find(id.0)
                    .filter(
                        categories::user_id
                            .is_null()
                            .or(categories::user_id.eq(user.0)),
                    )
                    .first::<CategoryRow>(c)
                    .optional()
                    .map_err(from_diesel)?;
                Ok(row.map(Category::from))
            })
            .await
    }

    async fn create(&self, category: NewCategory) -> Result<Category, RepoError> {
        let row = NewCategoryRow {
            user_id: category.owner.0,
            name_key: name_key(&category.name),
            name: category.name,
            priority_level: category.priority_level,
            color: category.color,
            description: category.description,
        };
        self.db
            .write(move |c| {
                let created = c
                    .transaction(|c| {
                        if name_taken(c, row.user_id, &row.name_key, None)? {
                            return Ok(None);
                        }
                        diesel::insert_into(categories::table)
                            .values(&row)
                            .returning(categories::all_columns)
                            .get_results::<CategoryRow>(c)
                            .and_then(first)
                            .map(Some)
                    })
                    .map_err(from_diesel)?;
                created
                    .map(Category::from)
                    .ok_or_else(|| RepoError::Conflict("category name".to_owned()))
            })
            .await
    }

    async fn update(
        &self,
        id: CategoryId,
        category: NewCategory,
        updated_at: DateTime<Utc>,
    ) -> Result<Option<Category>, RepoError> {
        let owner = category.owner.0;
        let key = name_key(&category.name);
        self.db
            .write(move |c| {
                let outcome = c
                    .transaction(|c| {
                        let mine = categories::table
                            .filter(categories::id.eq(id.0))
                            .filter(categories::user_id.eq(owner));
                        let Some(before) = mine.first::<CategoryRow>(c).optional()? else {
                            return Ok(Updated::Missing);
                        };
                        if name_taken(c, owner, &key, Some(id.0))? {
                            return Ok(Updated::NameTaken);
                        }
                        let after = diesel::update(mine)
                            .set((
                                categories::name.eq(&category.name),
                                categories::name_key.eq(&key),
                                categories::priority_level.eq(category.priority_level),
                                categories::color.eq(&category.color),
                                categories::description.eq(&category.description),
                            ))
                            .returning(categories::all_columns)
                            .get_results::<CategoryRow>(c)
                            .and_then(first)?;
                        if after.priority_level != before.priority_level {
                            queue_recolour(c, owner, id.0, updated_at)?;
                        }
                        Ok(Updated::Done(Category::from(after)))
                    })
                    .map_err(from_diesel)?;
                match outcome {
                    Updated::Done(category) => Ok(Some(category)),
                    Updated::Missing => Ok(None),
                    Updated::NameTaken => Err(RepoError::Conflict("category name".to_owned())),
                }
            })
            .await
    }

    async fn events_using(&self, user: UserId, id: CategoryId) -> Result<i64, RepoError> {
        self.db
            .read(move |c| {
                events::table
                    .filter(events::user_id.eq(user.0))
                    .filter(events::category_id.eq(id.0))
                    .count()
                    .get_result::<i64>(c)
                    .map_err(from_diesel)
            })
            .await
    }

    async fn delete(&self, owner: UserId, id: CategoryId) -> Result<bool, RepoError> {
        self.db
            .write(move |c| {
                let mine = categories::table
                    .filter(categories::id.eq(id.0))
                    .filter(categories::user_id.eq(owner.0));
                match diesel::delete(mine).execute(c) {
                    Ok(deleted) => Ok(deleted > 0),
                    // `events.category_id` has no ON DELETE: the database refuses while an
                    // event uses the category, whatever the caller checked before.
                    Err(DieselError::DatabaseError(
                        DatabaseErrorKind::ForeignKeyViolation,
                        info,
                    )) => Err(RepoError::Conflict(info.message().to_owned())),
                    Err(e) => Err(from_diesel(e)),
                }
            })
            .await
    }
}
