//! `GET /healthz`: no login; 200 when the database answers, 503 otherwise. Degraded profiles do
//! not make the instance unhealthy, but are listed so monitoring sees them. The body never
//! carries versions or secrets.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::profiles::ProfileStatus;
use crate::web::state::AppState;

pub async fn healthz(State(state): State<AppState>) -> Response {
    let db_ok = tokio::time::timeout(std::time::Duration::from_secs(5), state.db.ping())
        .await
        .is_ok_and(|r| r.is_ok());
    if !db_ok {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "database": "unreachable"})),
        )
            .into_response();
    }
    let degraded: Vec<Value> = state
        .db
        .list_profiles()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p.status != ProfileStatus::Ok)
        .map(|p| json!({"id": p.id, "name": p.name, "status": p.status.as_str(), "code": p.status_code}))
        .collect();
    let attention: Vec<Value> = state
        .db
        .list_subscriptions(None)
        .await
        .unwrap_or_default()
        .iter()
        .filter_map(|s| {
            super::attention::reason(s).map(|(key, _)| {
                json!({"id": s.id, "name": s.display_name, "reason": key.trim_start_matches("attention-"), "error": s.last_error})
            })
        })
        .collect();
    (
        StatusCode::OK,
        Json(json!({"status": "ok", "database": "ok", "degraded_profiles": degraded, "subscriptions_attention": attention})),
    )
        .into_response()
}
