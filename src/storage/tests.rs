//! Stored states are decoded strictly, on both databases: text the enums do not know is an
//! error, never a default.

use chrono::Utc;

use super::StoreError;
use super::testing::{TestDb, databases};
use crate::model::{Cloud, ProfileSettings, RunKind};

#[tokio::test]
async fn unknown_stored_states_are_errors() {
    let dir = tempfile::tempdir().expect("dir");
    for TestDb { db, schema } in databases(dir.path()).await {
        let settings = ProfileSettings {
            name: "Zentrale".into(),
            tenant: "common".into(),
            client_id: "6731de76-14a6-49ae-97bc-6eba6914391e".into(),
            secret_expires_on: Utc::now().date_naive(),
            cloud: Cloud::Global,
            login_base: "https://login.microsoftonline.com".into(),
            graph_base: "https://graph.microsoft.com".into(),
            redirect_uri: None,
            notes: String::new(),
        };
        let p = db
            .create_profile(&settings, "u-1", "sealed")
            .await
            .expect("profile");
        assert!(db.profile(p.id).await.is_ok());
        dispatch!(db, pool => {
            sqlx::query("UPDATE profiles SET status = 'paused_forever' WHERE id = $1")
                .bind(p.id).execute(pool).await.expect("update");
        });
        let read = db.profile(p.id).await;
        assert!(
            matches!(read, Err(StoreError::Database(_))),
            "an unknown status must not read as some status: {read:?}"
        );
        assert!(db.list_profiles().await.is_err());
        dispatch!(db, pool => {
            sqlx::query("UPDATE profiles SET status = 'ok', cloud = 'mars' WHERE id = $1")
                .bind(p.id).execute(pool).await.expect("update");
        });
        assert!(db.profile(p.id).await.is_err(), "unknown cloud");

        // Runs: an unknown kind fails the history instead of showing as something else.
        dispatch!(db, pool => {
            sqlx::query("UPDATE profiles SET cloud = 'global' WHERE id = $1")
                .bind(p.id).execute(pool).await.expect("update");
        });
        let sub = dispatch!(db, pool => {
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO subscriptions (profile_id, source, mailbox_address, mailbox_name, calendar_id, \
                 calendar_name, display_name, days_back, days_ahead, interval_minutes, enabled, mask_private, \
                 created_by, created_at, updated_at, status) \
                 VALUES ($1, 'mailbox', 'a@x', 'a', 'c', 'k', 'd', 1, 1, 5, TRUE, FALSE, 't', $2, $2, 'new') RETURNING id",
            )
            .bind(p.id).bind(Utc::now()).fetch_one(pool).await.expect("subscription")
        });
        let run = db.start_run(sub, RunKind::Full, "me").await.expect("run");
        assert_eq!(
            db.runs_of(sub, 5).await.expect("runs")[0].kind,
            RunKind::Full
        );
        dispatch!(db, pool => {
            sqlx::query("UPDATE sync_runs SET kind = 'sideways' WHERE id = $1")
                .bind(run).execute(pool).await.expect("update");
        });
        assert!(db.runs_of(sub, 5).await.is_err());
        assert!(matches!(
            db.run_totals().await,
            Ok(totals) if totals.len() == 1
        ));
        dispatch!(db, pool => {
            sqlx::query("UPDATE sync_runs SET status = 'sideways' WHERE id = $1")
                .bind(run).execute(pool).await.expect("update");
        });
        assert!(matches!(db.run_totals().await, Err(StoreError::Corrupt(_))));
        db.close().await;
        if let Some(schema) = schema {
            schema.drop().await;
        }
    }
}
