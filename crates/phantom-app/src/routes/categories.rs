//! `GET` / `POST /api/categories/`, and `GET` / `PUT` / `PATCH` / `DELETE
//! /api/categories/{id}/` (a DRF `ModelViewSet`'s detail route).

use actix_web::{HttpResponse, web};
use phantom_domain::category::{Category, CategoryDraft, CategoryPatch};
use phantom_domain::ids::CategoryId;
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

/// The body of `PATCH /api/categories/{id}/`: any of the writable fields.
#[derive(Debug, ToSchema)]
pub struct CategoryPatchRequest {
    /// A name not used by the defaults or the user's other categories.
    #[schema(required = false)]
    pub name: String,
    /// 1 to 10; higher is more important. Changes the Google Calendar colour of the
    /// category's events.
    #[schema(required = false, minimum = 1, maximum = 10)]
    pub priority_level: i32,
    /// `#RRGGBB`.
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

/// `GET /api/categories/{id}/`: a default or one of the user's own.
#[utoipa::path(
    get,
    path = "/api/categories/{id}/",
    tag = "categories",
    params(("id" = i64, Path, description = "The category's id.")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The category.", body = CategoryBody),
        (status = 401, description = "No, or an invalid, access token.", body = ErrorDetail),
        (status = 404, description = "No such category for this user.", body = ErrorDetail),
    )
)]
pub async fn show(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let category = state.scheduling.category(user, CategoryId(*id)).await?;
    Ok(HttpResponse::Ok().json(CategoryBody::from(&category)))
}

/// `PUT /api/categories/{id}/`: `name` and `priority_level` are required; an omitted
/// `color` or `description` stays as it is.
#[utoipa::path(
    put,
    path = "/api/categories/{id}/",
    tag = "categories",
    params(("id" = i64, Path, description = "The category's id.")),
    request_body = CategoryRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The stored category.", body = CategoryBody),
        (status = 400, description = "Invalid input, e.g. a name already in use.", body = ValidationErrors),
        (status = 401, description = "No, or an invalid, access token.", body = ErrorDetail),
        (status = 403, description = "A shared default category, which nobody may change.", body = ErrorDetail),
        (status = 404, description = "No such category of the user's own.", body = ErrorDetail),
    )
)]
pub async fn replace(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    id: web::Path<i64>,
    mut form: JsonForm,
) -> Result<HttpResponse, ApiError> {
    let patch = CategoryPatch {
        name: Some(form.required_text("name")),
        priority_level: Some(form.required_integer("priority_level")),
        color: form.text("color"),
        description: form.text("description"),
    };
    form.finish()?;
    update(&state, user, CategoryId(*id), patch).await
}

/// `PATCH /api/categories/{id}/`
#[utoipa::path(
    patch,
    path = "/api/categories/{id}/",
    tag = "categories",
    params(("id" = i64, Path, description = "The category's id.")),
    request_body = CategoryPatchRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The stored category.", body = CategoryBody),
        (status = 400, description = "Invalid input, e.g. a name already in use.", body = ValidationErrors),
        (status = 401, description = "No, or an invalid, access token.", body = ErrorDetail),
        (status = 403, description = "A shared default category, which nobody may change.", body = ErrorDetail),
        (status = 404, description = "No such category of the user's own.", body = ErrorDetail),
    )
)]
pub async fn patch(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    id: web::Path<i64>,
    mut form: JsonForm,
) -> Result<HttpResponse, ApiError> {
    let patch = CategoryPatch {
        name: form.text("name"),
        priority_level: form.integer("priority_level"),
        color: form.text("color"),
        description: form.text("description"),
    };
    form.finish()?;
    update(&state, user, CategoryId(*id), patch).await
}

async fn update(
    state: &AppState,
    user: phantom_domain::ids::UserId,
    id: CategoryId,
    patch: CategoryPatch,
) -> Result<HttpResponse, ApiError> {
    let category = state.scheduling.update_category(user, id, patch).await?;
    // A new priority may have queued colour updates of the category's events.
    state.sync_wakeup.notify_one();
    tracing::info!(category_id = id.0, "category updated");
    Ok(HttpResponse::Ok().json(CategoryBody::from(&category)))
}

/// `DELETE /api/categories/{id}/`
#[utoipa::path(
    delete,
    path = "/api/categories/{id}/",
    tag = "categories",
    params(("id" = i64, Path, description = "The category's id.")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, description = "Refused: events still use the category (the detail says how many), or it is the Google import category.", body = ErrorDetail),
        (status = 401, description = "No, or an invalid, access token.", body = ErrorDetail),
        (status = 403, description = "A shared default category, which nobody may delete.", body = ErrorDetail),
        (status = 404, description = "No such category of the user's own.", body = ErrorDetail),
    )
)]
pub async fn delete(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    state
        .scheduling
        .delete_category(user, CategoryId(*id))
        .await?;
    tracing::info!(category_id = *id, "category deleted");
    Ok(HttpResponse::NoContent().finish())
}
