//! The engine's panic guard, on both databases: a run that panics is recorded as failed, its
//! lease released, and the subscription runs again.

use std::sync::Arc;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use super::{SyncEngine, SyncPolicy};
use crate::crypto::SecretKey;
use crate::crypto::context::ProfileColumn;
use crate::graph::Client;
use crate::model::{Cloud, ProfileSettings, RunStatus, SubscriptionSource, SubscriptionStatus};
use crate::profiles::tokens::{TokenPolicy, TokenService};
use crate::storage::subscriptions::{NewSubscription, SubscriptionSettings};
use crate::storage::testing::{TestDb, databases};

#[tokio::test]
async fn a_panicking_run_is_recorded_as_failed_and_the_subscription_runs_again() {
    let dir = tempfile::tempdir().expect("dir");
    for TestDb { db, schema } in databases(dir.path()).await {
        let key = Arc::new(SecretKey::generate());
        let tokens = Arc::new(TokenService::new(
            db.clone(),
            key,
            Client::new().expect("client"),
            TokenPolicy::default(),
        ));
        let uuid = uuid::Uuid::new_v4().to_string();
        let settings = ProfileSettings {
            kind: crate::model::ProfileKind::Delegated,
            name: "Zentrale".into(),
            tenant: "common".into(),
            client_id: "6731de76-14a6-49ae-97bc-6eba6914391e".into(),
            secret_expires_on: Utc::now().date_naive(),
            cloud: Cloud::Custom,
            login_base: "http://127.0.0.1:9".into(),
            graph_base: "http://127.0.0.1:9".into(),
            redirect_uri: None,
            notes: String::new(),
        };
        let profile = db
            .create_profile(
                &settings,
                &uuid,
                &tokens.seal(ProfileColumn::ClientSecret, &uuid, "s"),
            )
            .await
            .expect("profile");
        let id = db
            .create_subscription(
                &NewSubscription {
                    profile_id: profile.id,
                    source: SubscriptionSource::Mailbox,
                    mailbox_id: None,
                    mailbox_address: "raum.berlin@contoso.example",
                    mailbox_name: "Raum Berlin",
                    calendar_id: "AAMk",
                    calendar_name: "Kalender",
                    settings: &SubscriptionSettings {
                        display_name: "Raum Berlin".into(),
                        days_back: 7,
                        days_ahead: 30,
                        interval_minutes: 5,
                        enabled: true,
                        mask_private: false,
                        fields: crate::model::StoredFields::default(),
                        retention_days: None,
                    },
                    created_by: "test",
                    room_list_id: None,
                },
                &Default::default(),
            )
            .await
            .expect("subscription");
        let engine = SyncEngine::new(
            db.clone(),
            tokens,
            SyncPolicy::default(),
            CancellationToken::new(),
        );

        engine.panic_for.lock().unwrap().insert(id);
        let report = engine
            .run_subscription(id)
            .await
            .expect("recorded")
            .expect("the lease was free");
        assert_eq!(report.status, RunStatus::Error);
        let error = report.error.unwrap_or_default();
        assert!(error.contains("injected by a test"), "{error}");
        let runs = db.runs_of(id, 5).await.expect("runs");
        assert_eq!(runs[0].status, RunStatus::Error);
        assert!(runs[0].finished_at.is_some());
        let sub = db.subscription(id).await.expect("subscription");
        assert_eq!(sub.status, SubscriptionStatus::Error);
        assert_eq!(sub.error_hint.as_deref(), Some("sync-hint-internal"));
        assert!(sub.next_sync_at.is_some_and(|t| t > Utc::now()));

        // The lease was released: the next run happens, and goes as far as it can (the
        // profile was never authorized, so it pauses).
        engine.panic_for.lock().unwrap().clear();
        db.request_sync(id, None).await.expect("sync now");
        let again = engine
            .run_subscription(id)
            .await
            .expect("recorded")
            .expect("the lease was released");
        assert_eq!(again.status, RunStatus::Paused, "{:?}", again.error);
        assert_eq!(db.runs_of(id, 5).await.expect("runs").len(), 2);

        db.close().await;
        if let Some(schema) = schema {
            schema.drop().await;
        }
    }
}
