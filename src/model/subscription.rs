//! Where a subscription's calendar comes from, and where its import stands.

use super::stored_enum;

stored_enum! {
    /// How a subscription reaches its calendar.
    pub enum SubscriptionSource as "subscription source" {
        /// The primary calendar of a mailbox (another one, or the account's own), by address.
        Mailbox = "mailbox",
        /// A calendar listed under the signed-in account's calendars, by id.
        Own = "own",
    }
}

stored_enum! {
    /// How the subscription's latest run ended (`New` before the first).
    pub enum SubscriptionStatus as "subscription status" {
        New = "new",
        Ok = "ok",
        /// The profile needs an admin first.
        Paused = "paused",
        /// Stopped by shutdown; continued at the next start.
        Interrupted = "interrupted",
        Error = "error",
    }
}

stored_enum! {
    /// Which of Graph's id forms a subscription's stored ids (`graph_id`, `series_master_id`)
    /// are in.
    pub enum ItemIds as "item id form" {
        /// Graph's default ids, which change when an item moves: subscriptions made before
        /// Datapump asked for immutable ids, until their next run translates them.
        Rest = "rest",
        /// `Prefer: IdType="ImmutableId"`: the same id for the item's life in its mailbox.
        Immutable = "immutable",
    }
}

/// Which of an event's optional fields a subscription stores (data minimisation). Times,
/// subject, organizer, location, sensitivity and attendee names are always stored: the reader
/// needs them for room occupancy and visitors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredFields {
    pub body: bool,
    /// Off: an attendee's address is reduced to its domain (`@partner.example`), so visitors
    /// are still told from colleagues and their company guessed, but not written to.
    pub attendee_addresses: bool,
    pub online_meeting: bool,
    pub categories: bool,
}

impl Default for StoredFields {
    fn default() -> Self {
        Self {
            body: true,
            attendee_addresses: true,
            online_meeting: true,
            categories: true,
        }
    }
}

impl StoredFields {
    /// `address` as stored under these rules.
    pub fn address(self, address: &str) -> String {
        if self.attendee_addresses {
            return address.to_string();
        }
        match address.rfind('@') {
            Some(at) => address[at..].to_string(),
            None => String::new(),
        }
    }
}

impl StoredFields {
    /// An attendee's name as stored: the name of someone invited by address alone may be the
    /// address itself, so a name that is an address is reduced like one.
    pub fn name(self, name: &str) -> String {
        if name.contains('@') {
            self.address(name)
        } else {
            name.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_reduced_to_their_domain() {
        let off = StoredFields {
            attendee_addresses: false,
            ..StoredFields::default()
        };
        assert_eq!(
            off.address("petra.gast@partner.example"),
            "@partner.example"
        );
        assert_eq!(off.address("no-at-sign"), "");
        assert_eq!(off.name("petra.gast@partner.example"), "@partner.example");
        assert_eq!(off.name("Petra Gast"), "Petra Gast");
        assert_eq!(
            StoredFields::default().address("petra.gast@partner.example"),
            "petra.gast@partner.example"
        );
    }
}

stored_enum! {
    /// Where a room's reception data comes from.
    pub enum RoomSource as "room source" {
        /// Microsoft's room directory (`/places/microsoft.graph.room`), refreshed.
        Directory = "directory",
        /// Entered by an admin; the directory leaves it alone.
        Admin = "admin",
    }
}
