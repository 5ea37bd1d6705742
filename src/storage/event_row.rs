//! The `events` row the import writes, defined once: the struct, the column list, the
//! PostgreSQL array types and the binds of both backends all come from the one list below, so a
//! column cannot be added to one statement and forgotten in another. Adding a field: see
//! docs/database.md, "Adding a field to events".

use std::sync::LazyLock;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// A value bound without copying it: text as `&str`, everything else as it is.
pub(super) trait Borrowed {
    type Out<'a>
    where
        Self: 'a;
    fn borrowed(&self) -> Self::Out<'_>;
}

impl Borrowed for String {
    type Out<'a> = &'a str;
    fn borrowed(&self) -> &str {
        self
    }
}

impl Borrowed for Option<String> {
    type Out<'a> = Option<&'a str>;
    fn borrowed(&self) -> Option<&str> {
        self.as_deref()
    }
}

macro_rules! copied {
    ($($t:ty),*) => {$(
        impl Borrowed for $t {
            type Out<'a> = $t;
            fn borrowed(&self) -> $t {
                *self
            }
        }
    )*};
}
copied!(
    bool,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<NaiveDate>,
    Option<NaiveDateTime>
);

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

macro_rules! event_row {
    ($( $(#[$doc:meta])* $col:ident : $ty:ty => $pg:literal, )*) => {
        /// One imported event, as the `events` table stores it (see docs/database.md).
        #[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
        pub struct EventRow {
            $( $(#[$doc])* pub $col: $ty, )*
        }

        /// [`EventRow`]'s columns in order, with their PostgreSQL types.
        pub const EVENT_COLUMNS: &[(&str, &str)] = &[$( (stringify!($col), $pg), )*];

        impl EventRow {
            /// Binds each column of `rows` as one array, in [`EVENT_COLUMNS`] order.
            pub(super) fn bind_arrays<'q>(q: PgQuery<'q>, rows: &[&'q EventRow]) -> PgQuery<'q> {
                q $( .bind(rows.iter().map(|e| e.$col.borrowed()).collect::<Vec<_>>()) )*
            }

            /// Binds one row's columns, in [`EVENT_COLUMNS`] order.
            pub(super) fn push_values(
                &self,
                b: &mut sqlx::query_builder::Separated<'_, sqlx::Sqlite, &'static str>,
            ) {
                $( b.push_bind(self.$col.borrowed()); )*
            }
        }
    };
}

event_row! {
    graph_id: String => "text",
    ical_uid: Option<String> => "text",
    series_master_id: Option<String> => "text",
    event_type: String => "text",
    subject: Option<String> => "text",
    organizer_name: Option<String> => "text",
    organizer_address: Option<String> => "text",
    start_utc: DateTime<Utc> => "timestamptz",
    end_utc: DateTime<Utc> => "timestamptz",
    time_zone: Option<String> => "text",
    is_all_day: bool => "bool",
    start_date: Option<NaiveDate> => "date",
    end_date: Option<NaiveDate> => "date",
    is_cancelled: bool => "bool",
    sensitivity: Option<String> => "text",
    show_as: Option<String> => "text",
    /// Graph's `importance`: `low`, `normal` or `high`.
    importance: Option<String> => "text",
    location: Option<String> => "text",
    locations: Option<String> => "text",
    attendees: Option<String> => "text",
    body_preview: Option<String> => "text",
    web_link: Option<String> => "text",
    online_meeting_url: Option<String> => "text",
    categories: Option<String> => "text",
    last_modified: Option<DateTime<Utc>> => "timestamptz",
    change_key: Option<String> => "text",
    /// Wall-clock start and end in the configured zone, and the local day (see
    /// `crate::time::local_times`).
    start_local: Option<NaiveDateTime> => "timestamp",
    end_local: Option<NaiveDateTime> => "timestamp",
    local_date: Option<NaiveDate> => "date",
}

/// The `events` columns Datapump keeps beside [`EventRow`]'s.
pub const BOOKKEEPING_COLUMNS: &[&str] = &[
    "id",
    "subscription_id",
    "first_imported_at",
    "updated_at",
    "sync_generation",
];

/// `prefix` + each column, comma-separated (`e.graph_id, e.ical_uid, …`).
pub fn select_list(prefix: &str) -> String {
    let columns: Vec<String> = EVENT_COLUMNS
        .iter()
        .map(|(c, _)| format!("{prefix}{c}"))
        .collect();
    columns.join(", ")
}

/// `INSERT INTO events (…)` naming every written column; the values follow in this order:
/// subscription, the row's columns, first imported, updated, generation.
pub(super) static INSERT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO events (subscription_id, {}, first_imported_at, updated_at, sync_generation) ",
        select_list("")
    )
});

/// The upsert's conflict clause: everything Graph sends is replaced, `first_imported_at` stays.
pub(super) static ON_CONFLICT: LazyLock<String> = LazyLock::new(|| {
    let set: Vec<String> = EVENT_COLUMNS
        .iter()
        .filter(|(c, _)| *c != "graph_id")
        .map(|(c, _)| format!("{c} = excluded.{c}"))
        .collect();
    format!(
        " ON CONFLICT (subscription_id, graph_id) DO UPDATE SET {}, updated_at = excluded.updated_at, \
         sync_generation = excluded.sync_generation",
        set.join(", ")
    )
});

/// PostgreSQL's upsert of a whole page: `$1` the subscription, one array per column, then the
/// time and the generation.
pub(super) static PG_UPSERT: LazyLock<String> = LazyLock::new(|| {
    let n = EVENT_COLUMNS.len();
    let arrays: Vec<String> = EVENT_COLUMNS
        .iter()
        .enumerate()
        .map(|(i, (_, t))| format!("${}::{t}[]", i + 2))
        .collect();
    format!(
        "{} SELECT $1, t.*, ${now}, ${now}, ${generation} FROM UNNEST({}) AS t{}",
        *INSERT,
        arrays.join(", "),
        *ON_CONFLICT,
        now = n + 2,
        generation = n + 3,
    )
});
