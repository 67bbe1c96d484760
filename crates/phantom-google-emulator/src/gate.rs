//! The path every emulated request takes: recognised as an [`Operation`],
//! run through the fault rules, then logged with the status it got.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use chrono::Utc;

use crate::bearer::Account;
use crate::faults::{FaultAction, fault_response, short_circuit};
use crate::request_log::{LoggedRequest, Operation};
use crate::state::AppState;

/// Prefix of the control API, which is neither faulted nor logged.
pub(crate) const CONTROL_PREFIX: &str = "/_emulator";

/// Runs `handle` for `operation` unless a fault rule says otherwise.
pub(crate) async fn guarded(
    state: &AppState,
    req: &HttpRequest,
    operation: Operation,
    handle: impl FnOnce() -> HttpResponse,
) -> HttpResponse {
    req.extensions_mut().insert(operation);
    let action = state.lock().faults.take(operation, req.path());
    match action {
        None => handle(),
        Some(FaultAction::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            handle()
        }
        Some(FaultAction::DelayAnswer(delay)) => {
            let answer = handle();
            tokio::time::sleep(delay).await;
            answer
        }
        Some(FaultAction::ApplyThen503) => {
            // The operation's own answer is what got "lost on the way back".
            drop(handle());
            fault_response(operation, 503, None)
        }
        Some(action) => short_circuit(operation, &action).unwrap_or_else(handle),
    }
}

/// Middleware that appends every non-control request to the request log.
pub(crate) async fn log_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let at = Utc::now();
    let method = req.method().to_string();
    let path = req.path().to_owned();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let result = next.call(req).await;
    if let Some(state) = state
        && !path.starts_with(CONTROL_PREFIX)
    {
        let (operation, status, account) = match &result {
            Ok(response) => {
                let extensions = response.request().extensions();
                (
                    extensions
                        .get::<Operation>()
                        .copied()
                        .unwrap_or(Operation::Other),
                    response.status().as_u16(),
                    extensions.get::<Account>().map(|a| a.0.clone()),
                )
            }
            Err(error) => (
                Operation::Other,
                error.as_response_error().status_code().as_u16(),
                None,
            ),
        };
        tracing::debug!(%method, %path, ?operation, status, "request");
        state.lock().log.push(LoggedRequest {
            at,
            method,
            path,
            operation,
            status,
            account,
        });
    }
    result
}
