//! Rooms' reception data from Microsoft's room directory (`/places/microsoft.graph.room`),
//! for profiles whose account may read it (`Place.Read.All`, which needs an admin's consent).
//! A room is matched to its subscriptions by address; what an admin entered stays.

use std::collections::HashMap;

use chrono::Utc;

use super::SyncEngine;
use crate::graph::Endpoints;
use crate::graph::api::Room as DirectoryRoom;
use crate::model::{ProfileStatus, SubscriptionSource};
use crate::storage::StoreError;
use crate::storage::rooms::RoomDetails;

/// The permission the directory needs.
pub const PLACES_SCOPE: &str = "Place.Read.All";

/// How often the directory is read by itself.
pub const REFRESH_EVERY: chrono::Duration = chrono::Duration::hours(6);

/// The settings row with the time of the last periodic check.
const CHECKED_SETTING: &str = "directory_checked_at";

/// The settings row with the time of the last refresh that read a directory.
pub const REFRESHED_SETTING: &str = "rooms_refreshed_at";

/// What a refresh did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RoomsRefresh {
    /// Profiles whose directory was read.
    pub profiles: usize,
    /// Subscriptions found in a directory.
    pub matched: usize,
    /// Rows written (new or changed).
    pub updated: usize,
    /// Profiles whose directory could not be read, with the reason.
    pub failed: Vec<(String, String)>,
}

fn details(room: &DirectoryRoom) -> RoomDetails {
    let text = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(String::from)
    };
    RoomDetails {
        display_name: text(&room.display_name),
        building: text(&room.building),
        room_list: None,
        floor_number: room.floor_number,
        floor_label: text(&room.floor_label),
        capacity: room.capacity.filter(|c| *c >= 0),
        address: room.address.as_ref().and_then(|a| a.one_line()),
    }
}

impl SyncEngine {
    /// Reads the room directories and the tenants' domains when the last check is older than
    /// [`REFRESH_EVERY`] (or there was none).
    pub async fn refresh_directory_if_due(&self) -> Result<Option<RoomsRefresh>, StoreError> {
        let last = self
            .db
            .setting(CHECKED_SETTING)
            .await?
            .and_then(|v| chrono::DateTime::parse_from_rfc3339(&v).ok());
        if last.is_some_and(|t| Utc::now() - t.with_timezone(&Utc) < REFRESH_EVERY) {
            return Ok(None);
        }
        self.db
            .set_setting(CHECKED_SETTING, &Utc::now().to_rfc3339())
            .await?;
        let domains = self.refresh_tenant_domains().await?;
        if !domains.failed.is_empty() {
            tracing::info!(
                failed = domains.failed.len(),
                "some tenants' domains were not read"
            );
        }
        self.refresh_rooms().await.map(Some)
    }

    /// Reads the directory of every authorized profile that may, and writes what it says
    /// about the subscribed rooms. A directory that cannot be read changes nothing.
    pub async fn refresh_rooms(&self) -> Result<RoomsRefresh, StoreError> {
        let mut report = RoomsRefresh::default();
        let subs = self.db.list_subscriptions(None).await?;
        for profile in self.db.list_profiles().await? {
            if profile.status != ProfileStatus::Ok
                || !profile.scopes().iter().any(|s| s == PLACES_SCOPE)
            {
                continue;
            }
            let mine: Vec<_> = subs
                .iter()
                .filter(|s| {
                    s.profile_id == Some(profile.id) && s.source == SubscriptionSource::Mailbox
                })
                .collect();
            if mine.is_empty() {
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
            // What was read is applied to the rooms it names, whole or not: nothing is removed
            // on the strength of a listing.
            let rooms = match graph.rooms().await {
                Ok(r) => r.items,
                Err(e) => {
                    tracing::warn!(profile = %profile.name, error = %e, "room directory not read");
                    report.failed.push((profile.name.clone(), e.to_string()));
                    continue;
                }
            };
            // Which list each room is on; a list that cannot be read leaves the stored
            // list names as they are.
            let mut lists: Option<HashMap<String, String>> = Some(HashMap::new());
            match graph.room_lists().await {
                Ok(found) => {
                    if !found.complete {
                        lists = None;
                    }
                    for list in found.items {
                        let (Some(name), Some(address)) = (list.display_name, list.email_address)
                        else {
                            continue;
                        };
                        match graph.rooms_of_list(&address).await {
                            Ok(members) => {
                                if !members.complete {
                                    lists = None;
                                }
                                for m in members.items.into_iter().filter_map(|r| r.email_address) {
                                    if let Some(map) = lists.as_mut() {
                                        map.insert(m.to_lowercase(), name.clone());
                                    }
                                }
                            }
                            Err(e) => {
                                report.failed.push((profile.name.clone(), e.to_string()));
                                lists = None;
                            }
                        }
                    }
                }
                Err(e) => {
                    report.failed.push((profile.name.clone(), e.to_string()));
                    lists = None;
                }
            }
            report.profiles += 1;
            for sub in mine {
                let address = sub.mailbox_address.to_lowercase();
                let Some(room) = rooms.iter().find(|r| {
                    r.email_address
                        .as_deref()
                        .is_some_and(|e| e.to_lowercase() == address)
                }) else {
                    continue;
                };
                report.matched += 1;
                let mut d = details(room);
                d.room_list = match &lists {
                    Some(map) => map.get(&address).cloned(),
                    None => self.db.room(sub.id).await?.and_then(|r| r.room_list),
                };
                if self
                    .db
                    .set_room_from_directory(sub.id, &d, room.id.as_deref())
                    .await?
                {
                    report.updated += 1;
                }
            }
        }
        if report.profiles > 0 {
            self.db
                .set_setting(REFRESHED_SETTING, &Utc::now().to_rfc3339())
                .await?;
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_fields_as_stored() {
        let room: DirectoryRoom = serde_json::from_value(serde_json::json!({
            "id": "3162F1E1-C4C0-604B-51D8-91DA78989EB1",
            "emailAddress": "cf100@contoso.com",
            "displayName": "Conf Room 100",
            "address": {"street": "4567 Main Street", "city": "Buffalo", "state": "NY",
                        "postalCode": "98052", "countryOrRegion": "USA"},
            "capacity": 50, "building": "1", "floorNumber": 1, "floorLabel": null,
            "bookingType": "standard"
        }))
        .expect("room");
        let d = details(&room);
        assert_eq!(d.building.as_deref(), Some("1"));
        assert_eq!(d.capacity, Some(50));
        assert_eq!(d.floor_number, Some(1));
        assert_eq!(d.floor_label, None);
        assert_eq!(
            d.address.as_deref(),
            Some("4567 Main Street, 98052 Buffalo, USA")
        );
        let bare: DirectoryRoom =
            serde_json::from_value(serde_json::json!({"displayName": "Raum"})).expect("room");
        assert_eq!(details(&bare).address, None);
    }
}
