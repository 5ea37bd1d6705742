//! Subscriptions: a calendar a profile reads into the database. This module holds the rules
//! every way of subscribing shares (the connect page, bulk subscribe, room lists, the demo):
//! which settings are valid, how a mailbox and its calendar are found, when a room looks
//! anonymized, and the one function that creates a subscription with its audit entry.

pub mod anonymized;
pub mod attention;
pub mod manage;
mod resolve;
pub mod settings;
mod subscribe;

pub use resolve::{Refusal, Target, resolve};
pub use settings::{Invalid, SubscribeForm};
pub use subscribe::{Outcome, Request, subscribe, subscribe_known};
