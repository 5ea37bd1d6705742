//! Probes, without login and without names: `GET /healthz` says the process answers (liveness);
//! `GET /readyz` says it can work: the database answers and takes a write, every migration is
//! applied, the secret key decrypts the stored canary, and the data directory has room (readiness; what the container's health check asks). The state of
//! profiles and subscriptions is for signed-in admins: `GET /status.json`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::profiles::ProfileStatus;
use crate::web::error::WebResult;
use crate::web::state::AppState;

pub async fn healthz() -> Response {
    (StatusCode::OK, Json(json!({"status": "ok"}))).into_response()
}

pub async fn readyz(State(state): State<AppState>) -> Response {
    let limit = std::time::Duration::from_secs(5);
    let database = tokio::time::timeout(limit, state.db.ping())
        .await
        .is_ok_and(|r| r.is_ok());
    let write = database
        && tokio::time::timeout(limit, state.db.write_probe())
            .await
            .is_ok_and(|r| r.is_ok());
    let migrated = database
        && tokio::time::timeout(limit, state.db.migrations_applied())
            .await
            .is_ok_and(|r| r.unwrap_or(false));
    let key = database
        && tokio::time::timeout(limit, state.db.key_fits(&state.key))
            .await
            .is_ok_and(|r| r.unwrap_or(false));
    let free = crate::disk::free_mb(&state.config.data_dir);
    let disk_ok = free.is_none_or(|mb| mb >= state.config.min_free_disk_mb);
    let ready = database && write && migrated && key && disk_ok;
    let body = json!({
        "status": if ready { "ok" } else { "unavailable" },
        "database": if database { "ok" } else { "unreachable" },
        "write": if write { "ok" } else { "failed" },
        "migrations": if migrated { "ok" } else { "pending" },
        "key": if key { "ok" } else { "wrong" },
        "disk": if disk_ok { "ok" } else { "low" },
        "disk_free_mb": free,
        "disk_min_free_mb": state.config.min_free_disk_mb,
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// What needs an admin's eye, as JSON, for signed-in admins (names and error texts included).
/// A database that cannot be read is an error here, never an empty list.
pub async fn status(State(state): State<AppState>) -> WebResult<Response> {
    let degraded: Vec<Value> = state
        .db
        .list_profiles()
        .await?
        .into_iter()
        .filter(|p| p.status != ProfileStatus::Ok)
        .map(|p| json!({"id": p.id, "name": p.name, "status": p.status.as_str(), "code": p.status_code}))
        .collect();
    let attention: Vec<Value> = crate::subscriptions::attention::needing_attention(&state.db)
        .await?
        .iter()
        .map(|(s, key, _)| {
            json!({"id": s.id, "name": s.display_name, "reason": key.trim_start_matches("attention-"), "error": s.last_error})
        })
        .collect();
    // The self-check's findings: what delta missed and a full round repaired.
    let drift: Vec<Value> = state
        .db
        .drifting_subscriptions()
        .await?
        .iter()
        .map(|s| {
            json!({"id": s.id, "name": s.display_name, "drift_last": s.drift_last,
                   "drift_total": s.drift_total, "drift_streak": s.drift_streak, "verified_at": s.verified_at})
        })
        .collect();
    Ok(Json(json!({
        "degraded_profiles": degraded,
        "subscriptions_attention": attention,
        "subscriptions_drift": drift,
    }))
    .into_response())
}
