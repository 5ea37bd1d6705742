//! `GET /healthz`: no login; 200 when the database answers, 503 otherwise. Later features add
//! what is degraded; the body never carries versions or secrets.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::web::state::AppState;

pub async fn healthz(State(state): State<AppState>) -> Response {
    let db_ok = tokio::time::timeout(std::time::Duration::from_secs(5), state.db.ping())
        .await
        .is_ok_and(|r| r.is_ok());
    if db_ok {
        (
            StatusCode::OK,
            Json(json!({"status": "ok", "database": "ok"})),
        )
            .into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "database": "unreachable"})),
        )
            .into_response()
    }
}
