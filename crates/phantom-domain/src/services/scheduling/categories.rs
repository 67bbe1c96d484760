//! Reading, changing and deleting one category: only a user's own categories change, and a
//! category events still use is never deleted (a user must not lose events that way).

use super::SchedulingService;
use crate::category::{Category, CategoryPatch};
use crate::error::{RepoError, SchedulingError};
use crate::ids::{CategoryId, UserId};
use crate::validation::FieldErrors;

/// Why a shared default cannot be changed, in words a user can act on.
const DEFAULT_IS_SHARED: &str = "The default categories are shared by every user and cannot be changed or deleted; create a category of your own instead.";

impl SchedulingService {
    /// A category the user sees (a default or their own).
    pub async fn category(
        &self,
        user: UserId,
        id: CategoryId,
    ) -> Result<Category, SchedulingError> {
        self.categories
            .find_visible(user, id)
            .await?
            .ok_or(SchedulingError::NotFound)
    }

    /// Applies `patch` to the user's own category and returns the stored state. A default is
    /// [`SchedulingError::Forbidden`]; another user's category is not found.
    pub async fn update_category(
        &self,
        user: UserId,
        id: CategoryId,
        patch: CategoryPatch,
    ) -> Result<Category, SchedulingError> {
        let current = self.own_category(user, id).await?;
        let valid = patch.apply_to(&current).validate(user)?;
        match self.categories.update(id, valid, self.clock.now()).await {
            Err(RepoError::Conflict(_)) => Err(name_taken().into()),
            other => other?.ok_or(SchedulingError::NotFound),
        }
    }

    /// Deletes the user's own category. Refused while events use it, and while it is the
    /// user's Google import category (imports would silently fall back to another one).
    pub async fn delete_category(
        &self,
        user: UserId,
        id: CategoryId,
    ) -> Result<(), SchedulingError> {
        let category = self.own_category(user, id).await?;
        self.refuse_if_used(user, &category).await?;
        let imports_here = self
            .users
            .find(user)
            .await?
            .is_some_and(|u| u.preferences.google_import_category == Some(id));
        if imports_here {
            return Err(SchedulingError::Refused(format!(
                "\"{}\" is the category events from Google Calendar are imported into; choose another import category in your preferences first.",
                category.name
            )));
        }
        match self.categories.delete(user, id).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(SchedulingError::NotFound),
            // An event took the category between the count and the delete.
            Err(RepoError::Conflict(_)) => {
                self.refuse_if_used(user, &category).await?;
                Err(SchedulingError::Refused(in_use(&category, 1)))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The category if it is the user's own: a default is forbidden, anything else not found.
    async fn own_category(
        &self,
        user: UserId,
        id: CategoryId,
    ) -> Result<Category, SchedulingError> {
        let category = self.category(user, id).await?;
        match category.owner {
            Some(owner) if owner == user => Ok(category),
            Some(_) => Err(SchedulingError::NotFound),
            None => Err(SchedulingError::Forbidden(DEFAULT_IS_SHARED.to_owned())),
        }
    }

    async fn refuse_if_used(
        &self,
        user: UserId,
        category: &Category,
    ) -> Result<(), SchedulingError> {
        match self.categories.events_using(user, category.id).await? {
            0 => Ok(()),
            n => Err(SchedulingError::Refused(in_use(category, n))),
        }
    }
}

fn name_taken() -> FieldErrors {
    FieldErrors::single("name", "A category with this name already exists.")
}

fn in_use(category: &Category, events: i64) -> String {
    let counted = if events == 1 {
        "1 event uses it".to_owned()
    } else {
        format!("{events} events use it")
    };
    format!(
        "Cannot delete \"{}\": {counted}. Move or delete those events first.",
        category.name
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::ports::{
        MockCategoryRepository, MockClock, MockEventRepository, MockUserRepository,
    };
    use crate::user::{Preferences, User};

    fn reading(owner: Option<i64>) -> Category {
        Category {
            id: CategoryId(9),
            owner: owner.map(UserId),
            name: "Reading".into(),
            priority_level: 2,
            color: "#123ABC".into(),
            description: String::new(),
        }
    }

    fn service(categories: MockCategoryRepository, users: MockUserRepository) -> SchedulingService {
        let mut clock = MockClock::new();
        clock.expect_now().return_const(
            Utc.with_ymd_and_hms(2026, 11, 24, 8, 0, 0)
                .single()
                .expect("valid time"),
        );
        SchedulingService::new(
            Arc::new(MockEventRepository::new()),
            Arc::new(categories),
            Arc::new(users),
            Arc::new(clock),
        )
    }

    fn visible(category: Category) -> MockCategoryRepository {
        let mut categories = MockCategoryRepository::new();
        categories
            .expect_find_visible()
            .returning(move |_, _| Ok(Some(category.clone())));
        categories
    }

    fn user_importing_into(category: Option<i64>) -> MockUserRepository {
        let mut users = MockUserRepository::new();
        users.expect_find().returning(move |id| {
            Ok(Some(User {
                id,
                username: "alice".into(),
                email: String::new(),
                name: String::new(),
                preferences: Preferences {
                    google_import_category: category.map(CategoryId),
                    ..Preferences::default()
                },
                created_at: Utc::now(),
            }))
        });
        users
    }

    #[tokio::test]
    async fn an_update_stores_the_patched_category() {
        let mut categories = visible(reading(Some(1)));
        categories
            .expect_update()
            .withf(|id, new, _| {
                *id == CategoryId(9) && new.priority_level == 5 && new.name == "Reading"
            })
            .times(1)
            .returning(|id, new, _| {
                Ok(Some(Category {
                    id,
                    owner: Some(new.owner),
                    name: new.name,
                    priority_level: new.priority_level,
                    color: new.color,
                    description: new.description,
                }))
            });
        let patch = CategoryPatch {
            priority_level: Some(5),
            ..CategoryPatch::default()
        };
        let updated = service(categories, MockUserRepository::new())
            .update_category(UserId(1), CategoryId(9), patch)
            .await
            .expect("updated");
        assert_eq!(updated.priority_level, 5);
    }

    #[tokio::test]
    async fn a_default_is_forbidden_and_another_users_category_is_not_found() {
        for (owner, forbidden) in [(None, true), (Some(2), false)] {
            let mut categories = visible(reading(owner));
            categories.expect_update().never();
            categories.expect_delete().never();
            let service = service(categories, MockUserRepository::new());
            let updated = service
                .update_category(UserId(1), CategoryId(9), CategoryPatch::default())
                .await;
            let deleted = service.delete_category(UserId(1), CategoryId(9)).await;
            for result in [updated.map(|_| ()), deleted] {
                if forbidden {
                    assert!(
                        matches!(result, Err(SchedulingError::Forbidden(_))),
                        "{result:?}"
                    );
                } else {
                    assert!(
                        matches!(result, Err(SchedulingError::NotFound)),
                        "{result:?}"
                    );
                }
            }
        }
    }

    #[tokio::test]
    async fn a_taken_name_on_update_is_a_field_error() {
        let mut categories = visible(reading(Some(1)));
        categories
            .expect_update()
            .returning(|_, _, _| Err(RepoError::Conflict("name".into())));
        let patch = CategoryPatch {
            name: Some("Exam".into()),
            ..CategoryPatch::default()
        };
        let result = service(categories, MockUserRepository::new())
            .update_category(UserId(1), CategoryId(9), patch)
            .await;
        assert!(matches!(result, Err(SchedulingError::Validation(e)) if e.has("name")));
    }

    #[tokio::test]
    async fn a_category_in_use_is_not_deleted_and_the_count_is_told() {
        let mut categories = visible(reading(Some(1)));
        categories.expect_events_using().returning(|_, _| Ok(3));
        categories.expect_delete().never();
        let result = service(categories, user_importing_into(None))
            .delete_category(UserId(1), CategoryId(9))
            .await;
        let Err(SchedulingError::Refused(detail)) = result else {
            panic!("expected a refusal, got {result:?}");
        };
        assert!(detail.contains("3 events"), "{detail}");
    }

    #[tokio::test]
    async fn the_import_category_is_not_deleted() {
        let mut categories = visible(reading(Some(1)));
        categories.expect_events_using().returning(|_, _| Ok(0));
        categories.expect_delete().never();
        let result = service(categories, user_importing_into(Some(9)))
            .delete_category(UserId(1), CategoryId(9))
            .await;
        assert!(matches!(result, Err(SchedulingError::Refused(d)) if d.contains("imported")));
    }

    #[tokio::test]
    async fn an_unused_own_category_is_deleted() {
        let mut categories = visible(reading(Some(1)));
        categories.expect_events_using().returning(|_, _| Ok(0));
        categories
            .expect_delete()
            .withf(|owner, id| *owner == UserId(1) && *id == CategoryId(9))
            .times(1)
            .returning(|_, _| Ok(true));
        service(categories, user_importing_into(Some(1)))
            .delete_category(UserId(1), CategoryId(9))
            .await
            .expect("deleted");
    }
}
