//! `GET /metrics`: Prometheus text format. Labels carry ids, never names or addresses.

use std::fmt::Write;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::web::state::AppState;

pub async fn metrics(State(state): State<AppState>) -> Response {
    let (subs, runs, profiles) = match (
        state.db.list_subscriptions(None).await,
        state.db.run_totals().await,
        state.db.list_profiles().await,
    ) {
        (Ok(s), Ok(r), Ok(p)) => (s, r, p),
        _ => return (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response(),
    };
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    };
    metric(
        "datapump_subscription_events",
        "gauge",
        "Events imported per subscription.",
    );
    metric(
        "datapump_subscription_last_success_timestamp_seconds",
        "gauge",
        "Time of the last successful import.",
    );
    metric(
        "datapump_subscription_failures",
        "gauge",
        "Failed imports in a row.",
    );
    metric(
        "datapump_subscription_attention",
        "gauge",
        "1 when the subscription needs attention.",
    );
    metric(
        "datapump_subscription_drift_total",
        "counter",
        "Stored rows the self-check found differing from Graph (and repaired).",
    );
    metric(
        "datapump_subscription_verified_timestamp_seconds",
        "gauge",
        "Time of the last self-check.",
    );
    metric(
        "datapump_sync_runs_total",
        "counter",
        "Import runs by outcome.",
    );
    metric(
        "datapump_graph_requests_total",
        "counter",
        "Graph requests made by import runs.",
    );
    metric(
        "datapump_throttle_waits_total",
        "counter",
        "Waits on 429/503/504 with Retry-After.",
    );
    metric("datapump_profiles", "gauge", "Profiles by status.");
    for s in &subs {
        let id = s.id;
        let _ = writeln!(
            out,
            "datapump_subscription_events{{subscription=\"{id}\"}} {}",
            s.event_count
        );
        if let Some(t) = s.last_sync_at {
            let _ = writeln!(
                out,
                "datapump_subscription_last_success_timestamp_seconds{{subscription=\"{id}\"}} {}",
                t.timestamp()
            );
        }
        let _ = writeln!(
            out,
            "datapump_subscription_failures{{subscription=\"{id}\"}} {}",
            s.failures
        );
        let _ = writeln!(
            out,
            "datapump_subscription_drift_total{{subscription=\"{id}\"}} {}",
            s.drift_total
        );
        if let Some(t) = s.verified_at {
            let _ = writeln!(
                out,
                "datapump_subscription_verified_timestamp_seconds{{subscription=\"{id}\"}} {}",
                t.timestamp()
            );
        }
        let _ = writeln!(
            out,
            "datapump_subscription_attention{{subscription=\"{id}\"}} {}",
            u8::from(crate::subscriptions::attention::reason(s).is_some())
        );
    }
    let (mut requests, mut waits) = (0, 0);
    for (status, n, r, w) in &runs {
        let _ = writeln!(out, "datapump_sync_runs_total{{status=\"{status}\"}} {n}");
        requests += r;
        waits += w;
    }
    let _ = writeln!(out, "datapump_graph_requests_total {requests}");
    let _ = writeln!(out, "datapump_throttle_waits_total {waits}");
    let mut by_status = std::collections::BTreeMap::new();
    for p in &profiles {
        *by_status.entry(p.status.as_str()).or_insert(0) += 1;
    }
    for (status, n) in by_status {
        let _ = writeln!(out, "datapump_profiles{{status=\"{status}\"}} {n}");
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
