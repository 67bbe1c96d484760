//! `GET` / `POST /api/categories/`.

use actix_web::{HttpResponse, web};
use phantom_domain::category::{Category, CategoryDraft};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::extract::{AuthUser, JsonForm};
use crate::openapi::{ErrorDetail, ValidationErrors};
use crate::state::AppState;

/// The public representation of a category.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Category)]
pub struct CategoryBody {
    /// The category's id.
    pub id: i64,
    /// Its name, unique among the categories a user sees.
    pub name: String,
    /// Higher is more important (the defaults go from 1 to 5).
    pub priority_level: i32,
    /// `#RRGGBB`.
    #[schema(pattern = "^#[0-9A-Fa-f]{6}$")]
    pub color: String,
    /// Free text.
    pub description: String,
}

impl From<&Category> for CategoryBody {
    fn from(c: &Category) -> Self {
        CategoryBody {
            id: c.id.0,
            name: c.name.clone(),
            priority_level: c.priority_level,
            color: c.color.clone(),
            description: c.description.clone(),
        }
    }
}

/// The body of `POST /api/categories/`.
#[derive(Debug, ToSchema)]
pub struct CategoryRequest {
    /// A name not yet used by the defaults or the user's own categories.
    pub name: String,
    /// 1 to 10; higher is more important.
    #[schema(minimum = 1, maximum = 10)]
    pub priority_level: i32,
    /// `#RRGGBB` (default `#9E9E9E`).
    #[schema(required = false, pattern = "^#[0-9A-Fa-f]{6}$")]
    pub color: String,
    /// Free text.
    #[schema(required = false)]
    pub description: String,
}

/// The defaults and the user's own categories.
#[utoipa::path(
    get,
    path = "/api/categories/",
    tag = "categories",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every category the user may use.", body = Vec<CategoryBody>),
        (status = 401, description = "No, or an invalid, access token.", body = ErrorDetail),
    )
)]
pub async fn list(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
) -> Result<HttpResponse, ApiError> {
    let categories = state.scheduling.categories(user).await?;
    let body: Vec<CategoryBody> = categories.iter().map(CategoryBody::from).collect();
    Ok(HttpResponse::Ok().json(body))
}

/// Creates a category of the user's own.
#[utoipa::path(
    post,
    path = "/api/categories/",
    tag = "categories",
    request_body = CategoryRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The new category.", body = CategoryBody),
        (status = 400, description = "Invalid input, e.g. a name already in use.", body = ValidationErrors),
        (status = 401, description = "No, or an invalid, access token.", body = ErrorDetail),
    )
)]
pub async fn create(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    mut form: JsonForm,
) -> Result<HttpResponse, ApiError> {
    let draft = CategoryDraft {
        name: form.required_text("name"),
        priority_level: form.required_integer("priority_level"),
        color: form.text("color"),
        description: form.text("description"),
    };
    form.finish()?;
    let category = state.scheduling.create_category(user, draft).await?;
    Ok(HttpResponse::Created().json(CategoryBody::from(&category)))
}
