//! `GET` / `POST /api/categories/`.

use actix_web::{HttpResponse, web};
use phantom_domain::category::{Category, CategoryDraft};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::extract::{AuthUser, JsonForm};
use crate::state::AppState;

fn category_json(c: &Category) -> Value {
    json!({
        "id": c.id,
        "name": c.name,
        "priority_level": c.priority_level,
        "color": c.color,
        "description": c.description,
    })
}

/// The defaults and the user's own categories.
pub async fn list(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
) -> Result<HttpResponse, ApiError> {
    let categories = state.scheduling.categories(user).await?;
    let body: Vec<Value> = categories.iter().map(category_json).collect();
    Ok(HttpResponse::Ok().json(body))
}

/// Creates a category of the user's own.
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
    Ok(HttpResponse::Created().json(category_json(&category)))
}
