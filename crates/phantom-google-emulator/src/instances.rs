//! `events.instances`: the instances of one series, as Google expands them.

use actix_web::{HttpRequest, HttpResponse, web};

use crate::bearer::authorize;
use crate::calendar::Answer;
use crate::errors::ApiError;
use crate::event::StoredEvent;
use crate::gate::guarded;
use crate::listing::{ListQuery, Selection, last_updated, page};
use crate::recurrence::{BOUNDED_INSTANCES, OPEN_ENDED_INSTANCES};
use crate::request_log::Operation;
use crate::state::{AppState, Inner};
use crate::sync::Snapshot;

/// `GET calendars/{calendarId}/events/{eventId}/instances`.
pub(crate) async fn instances(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    guarded(&state, &req, Operation::Instances, || {
        let (calendar_id, id) = path.into_inner();
        let answer = authorize(&state, &req, &calendar_id, Operation::Instances)
            .and_then(|owner| list_instances(&state, &owner, &id, req.query_string()));
        answer.unwrap_or_else(HttpResponse::from)
    })
    .await
}

/// The instances of the series `id` whose span meets the selection's
/// window (`timeMin`/`timeMax`), cancelled ones only with `showDeleted`, in
/// start order, at most 730 of them without `timeMax`. A single event has none.
pub(crate) fn series_instances(
    inner: &Inner,
    owner: &str,
    id: &str,
    selection: &Selection,
) -> Result<Vec<StoredEvent>, ApiError> {
    let stored = inner.event(owner, id).ok_or_else(ApiError::not_found)?;
    if stored.occurrence.is_some() {
        return Err(ApiError::not_found());
    }
    let Some((series, schedule)) = inner.series(owner, id) else {
        return Ok(Vec::new());
    };
    let cap = if selection.time_max.is_some() {
        BOUNDED_INSTANCES
    } else {
        OPEN_ENDED_INSTANCES
    };
    let mut instances: Vec<StoredEvent> = schedule
        .starts_within(selection.time_min, selection.time_max, cap)
        .into_iter()
        .map(|original| inner.instance(series, &schedule, original))
        .filter(|instance| selection.selects(instance))
        .collect();
    instances.sort_by_key(|instance| instance.span().map(|(start, _)| start));
    Ok(instances)
}

fn list_instances(state: &AppState, owner: &str, id: &str, query: &str) -> Answer {
    let query = ListQuery::parse(query);
    let selection = Selection::from_query(&query, None)?;
    let mut inner = state.lock();
    page(&mut inner, owner, &query, |inner| {
        let instances = series_instances(inner, owner, id, &selection)?;
        Ok(Snapshot {
            owner: owner.to_owned(),
            items: instances.iter().map(StoredEvent::resource).collect(),
            updated: last_updated(inner, owner),
            next_sync_token: None,
        })
    })
}
