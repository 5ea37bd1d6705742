//! The tenants' verified domains (`GET /organization`), so that colleagues at every domain of
//! the organisation count as internal, not only at the domains of the subscribed mailboxes.
//! Needs `User.Read`, which app registrations carry by default but the setup guide does not
//! name: where the account may not read it, the last known list stays.

use super::SyncEngine;
use crate::graph::Endpoints;
use crate::model::ProfileStatus;
use crate::storage::StoreError;

/// What a refresh did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DomainsRefresh {
    /// Profiles whose tenant's domains were read.
    pub read: usize,
    /// Profiles whose tenant's domains could not be read, with the reason.
    pub failed: Vec<(String, String)>,
}

impl SyncEngine {
    /// Reads the verified domains of every authorized work profile's tenant. A profile whose
    /// answer fails keeps the domains read before.
    pub async fn refresh_tenant_domains(&self) -> Result<DomainsRefresh, StoreError> {
        let mut report = DomainsRefresh::default();
        for profile in self.db.list_profiles().await? {
            if profile.status != ProfileStatus::Ok || profile.personal_account() {
                continue;
            }
            let token = match self.tokens.access_token(profile.id).await {
                Ok(t) => t,
                Err(e) => {
                    report.failed.push((profile.name.clone(), e.to_string()));
                    continue;
                }
            };
            let graph = self.client.graph(&Endpoints::from(&profile), &token.token);
            match graph.verified_domains().await {
                Ok(domains) if !domains.is_empty() => {
                    self.db.set_tenant_domains(profile.id, &domains).await?;
                    report.read += 1;
                }
                // An organisation without domains is no answer to act on.
                Ok(_) => report
                    .failed
                    .push((profile.name.clone(), "no verified domains".into())),
                Err(e) => {
                    tracing::info!(profile = %profile.name, error = %e, "tenant domains not read");
                    report.failed.push((profile.name.clone(), e.to_string()));
                }
            }
        }
        Ok(report)
    }
}
