//! The category repository.

use async_trait::async_trait;
use diesel::prelude::*;
use phantom_domain::category::{Category, NewCategory};
use phantom_domain::error::RepoError;
use phantom_domain::ids::{CategoryId, UserId};
use phantom_domain::ports::CategoryRepository;

use super::error::from_diesel;
use super::schema::categories;
use super::{Database, first};

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
                        // The unique index covers the user's own names; the defaults (NULL
                        // owner) are checked here, and they never change.
                        let taken = categories::table
                            .filter(categories::name_key.eq(&row.name_key))
                            .filter(
                                categories::user_id
                                    .is_null()
                                    .or(categories::user_id.eq(row.user_id)),
                            )
                            .count()
                            .get_result::<i64>(c)?;
                        if taken > 0 {
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
}
