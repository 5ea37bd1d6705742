//! Item ids in the two forms Graph hands out (documented: "Obtain immutable identifiers for
//! Outlook resources"). The default REST id changes when the item moves to another folder or
//! calendar ("By default, this value changes when the item is moved from one container"); with
//! `Prefer: IdType="ImmutableId"` the id stays for the item's life in the mailbox. The header
//! applies to the request it is sent with only, so every answer is rendered in the form its own
//! request asked for.
//!
//! Inside the simulator an item's key is its immutable id; the REST form is derived from it and
//! from how often the item moved. Which form Graph accepts as input without the matching header
//! is not documented: the simulator takes only the form the request asks for (stricter).

use std::collections::HashMap;

use super::model::graph_id;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdForm {
    Rest,
    Immutable,
}

impl IdForm {
    /// From a request's parsed `Prefer` header (keys lower-cased).
    pub fn of(prefer: &HashMap<String, String>) -> Self {
        match prefer.get("idtype") {
            Some(v) if v.eq_ignore_ascii_case("ImmutableId") => Self::Immutable,
            _ => Self::Rest,
        }
    }

    /// The id of the item with immutable id `key` that has moved `moves` times.
    pub fn render(self, key: &str, moves: u32) -> String {
        match self {
            Self::Immutable => key.to_string(),
            Self::Rest => rest_id(key, moves),
        }
    }

    /// `translateExchangeIds`' name of the form (documented: exchangeIdFormat).
    pub fn from_exchange_format(name: &str) -> Option<Self> {
        match name {
            "restId" => Some(Self::Rest),
            "restImmutableEntryId" => Some(Self::Immutable),
            _ => None,
        }
    }
}

/// The default (REST) id: a new one after every move.
pub fn rest_id(key: &str, moves: u32) -> String {
    graph_id(&["restId", key, &moves.to_string()])
}
