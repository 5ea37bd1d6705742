//! The subscriptions list: filtered, sorted and paged, with bulk actions on the checked rows
//! or on everything the filter matches.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::Form;
use serde::Deserialize;
use tower_sessions::Session;

use crate::storage::profiles::Profile;
use crate::storage::subscription_list::{BulkChange, BulkOutcome, ListQuery, SortKey, StateFilter};
use crate::storage::subscriptions::Subscription;
use crate::web::auth::Actor;
use crate::web::error::WebResult;
use crate::web::page::{self, FlashKind, Page, flash_args};
use crate::web::state::AppState;

/// Rows per page unless the admin picks another size.
const PER_PAGE: i64 = 50;
const PAGE_SIZES: [i64; 4] = [25, 50, 100, 200];
/// Names listed on the delete confirmation before "and N more".
const CONFIRM_NAMES: usize = 50;

/// The list's query string, read leniently: an unknown value means its default (a stale
/// bookmark still opens the list).
#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    profile: Option<String>,
    state: Option<String>,
    q: Option<String>,
    sort: Option<String>,
    dir: Option<String>,
    page: Option<String>,
    per: Option<String>,
}

fn parse<T: serde::de::DeserializeOwned + Default>(raw: Option<&str>) -> T {
    raw.and_then(|v| {
        serde::Deserialize::deserialize(
            serde::de::value::StrDeserializer::<serde::de::value::Error>::new(v),
        )
        .ok()
    })
    .unwrap_or_default()
}

impl ListParams {
    fn query(&self) -> ListQuery {
        let per = self.per();
        let page = self.page();
        ListQuery {
            profile: self.profile.as_deref().and_then(|p| p.trim().parse().ok()),
            state: parse(self.state.as_deref()),
            text: self.q.clone().filter(|q| !q.trim().is_empty()),
            sort: parse(self.sort.as_deref()),
            descending: self.dir.as_deref() == Some("desc"),
            offset: (page - 1) * per,
            limit: Some(per),
        }
    }

    fn per(&self) -> i64 {
        self.per
            .as_deref()
            .and_then(|p| p.parse().ok())
            .filter(|p| PAGE_SIZES.contains(p))
            .unwrap_or(PER_PAGE)
    }

    fn page(&self) -> i64 {
        self.page
            .as_deref()
            .and_then(|p| p.parse::<i64>().ok())
            .unwrap_or(1)
            .clamp(1, 1_000_000)
    }
}

#[derive(Template)]
#[template(path = "subscriptions/list.html")]
pub struct ListTemplate {
    p: Page,
    subscriptions: Vec<Subscription>,
    profiles: Vec<Profile>,
    query: ListQuery,
    text: String,
    page: i64,
    per: i64,
    total: i64,
    /// Any subscription at all (an empty filter result is not "nothing subscribed").
    any: bool,
}

impl ListTemplate {
    pub fn pages(&self) -> i64 {
        ((self.total + self.per - 1) / self.per).max(1)
    }

    pub fn states(&self) -> [StateFilter; 5] {
        StateFilter::ALL
    }

    pub fn sizes(&self) -> [i64; 4] {
        PAGE_SIZES
    }

    pub fn state_key(&self, s: &StateFilter) -> &'static str {
        match s {
            StateFilter::All => "subs-filter-all",
            StateFilter::Active => "subs-filter-active",
            StateFilter::Paused => "subs-filter-paused",
            StateFilter::Failing => "subs-filter-failing",
            StateFilter::New => "subs-filter-new",
        }
    }

    pub fn profile_selected(&self, id: &i64) -> bool {
        self.query.profile == Some(*id)
    }

    pub fn first_row(&self) -> i64 {
        if self.total == 0 {
            0
        } else {
            self.query.offset + 1
        }
    }

    pub fn last_row(&self) -> i64 {
        (self.query.offset + self.per).min(self.total)
    }

    /// The filter as query-string pairs (without sort and page).
    fn filter_pairs(&self) -> Vec<(&'static str, String)> {
        let mut v = Vec::new();
        if let Some(p) = self.query.profile {
            v.push(("profile", p.to_string()));
        }
        if self.query.state != StateFilter::All {
            v.push(("state", self.query.state.as_str().to_string()));
        }
        if !self.text.is_empty() {
            v.push(("q", self.text.clone()));
        }
        if self.per != PER_PAGE {
            v.push(("per", self.per.to_string()));
        }
        v
    }

    fn link(&self, sort: SortKey, descending: bool, page: i64) -> String {
        let mut pairs = self.filter_pairs();
        if sort != SortKey::Name {
            pairs.push(("sort", sort.as_str().to_string()));
        }
        if descending {
            pairs.push(("dir", "desc".into()));
        }
        if page > 1 {
            pairs.push(("page", page.to_string()));
        }
        let qs = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        let base = self.p.url("/subscriptions");
        if qs.is_empty() {
            base
        } else {
            format!("{base}?{qs}")
        }
    }

    /// A column header's link: sorts by it, or reverses when it is the current sort.
    pub fn sort_link(&self, key: &str) -> String {
        let key: SortKey = parse(Some(key));
        let descending = key == self.query.sort && !self.query.descending;
        self.link(key, descending, 1)
    }

    /// "▲"/"▼" on the current sort column.
    pub fn sort_mark(&self, key: &str) -> &'static str {
        if self.query.sort.as_str() != key {
            ""
        } else if self.query.descending {
            " ▼"
        } else {
            " ▲"
        }
    }

    pub fn page_link(&self, page: i64) -> String {
        self.link(self.query.sort, self.query.descending, page)
    }

    /// The filter's fields, for the bulk form's "everything matching".
    pub fn hidden_filter(&self) -> Vec<(&'static str, String)> {
        self.filter_pairs()
            .into_iter()
            .filter(|(k, _)| *k != "per")
            .collect()
    }
}

pub async fn list(
    State(state): State<AppState>,
    p: Page,
    Query(params): Query<ListParams>,
) -> WebResult<Response> {
    let query = params.query();
    let (subscriptions, total) = state.db.list_subscription_page(&query).await?;
    let any = total > 0
        || state
            .db
            .list_subscription_page(&ListQuery {
                limit: Some(0),
                ..ListQuery::default()
            })
            .await?
            .1
            > 0;
    page::ok(&ListTemplate {
        p,
        subscriptions,
        profiles: state.db.list_profiles().await?,
        text: query.text.clone().unwrap_or_default(),
        page: params.page(),
        per: params.per(),
        query,
        total,
        any,
    })
}

/// The bulk form: the checked ids, or `scope=matching` with the list's filter.
#[derive(Debug, Deserialize)]
pub struct BulkForm {
    #[serde(default)]
    id: Vec<i64>,
    action: String,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    interval_minutes: Option<String>,
    /// Delete: `keep` or `remove` the imported events; absent → the confirmation page.
    #[serde(default)]
    events: Option<String>,
    #[serde(default)]
    profile: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    q: Option<String>,
}

#[derive(Template)]
#[template(path = "subscriptions/bulk_delete.html")]
pub struct BulkDeleteTemplate {
    p: Page,
    ids: Vec<i64>,
    names: Vec<String>,
    more: usize,
    /// The events choice was missing on a confirmation.
    error: bool,
}

pub async fn bulk(
    State(state): State<AppState>,
    session: Session,
    p: Page,
    actor: Actor,
    Form(f): Form<BulkForm>,
) -> WebResult<Response> {
    let mut ids = if f.scope.as_deref() == Some("matching") {
        let params = ListParams {
            profile: f.profile.clone(),
            state: f.state.clone(),
            q: f.q.clone(),
            ..ListParams::default()
        };
        state.db.matching_subscription_ids(&params.query()).await?
    } else {
        f.id.clone()
    };
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return refused(&session, &p, "subs-bulk-none").await;
    }
    let change = match f.action.as_str() {
        "pause" => BulkChange::Pause,
        "resume" => BulkChange::Resume,
        "sync" => BulkChange::SyncNow,
        "interval" => match f
            .interval_minutes
            .as_deref()
            .and_then(crate::subscriptions::settings::interval)
        {
            Some(m) => BulkChange::Interval(m),
            None => return refused(&session, &p, "sub-interval-invalid").await,
        },
        "delete" => match f.events.as_deref() {
            Some("keep") => BulkChange::Delete { keep_events: true },
            Some("remove") => BulkChange::Delete { keep_events: false },
            other => {
                // First the confirmation, naming what goes.
                let (rows, _) = state
                    .db
                    .list_subscription_page(&ListQuery {
                        limit: None,
                        ..ListQuery::default()
                    })
                    .await?;
                let names: Vec<String> = rows
                    .into_iter()
                    .filter(|s| ids.binary_search(&s.id).is_ok())
                    .map(|s| s.display_name)
                    .collect();
                let more = names.len().saturating_sub(CONFIRM_NAMES);
                let status = if other.is_some() {
                    StatusCode::UNPROCESSABLE_ENTITY
                } else {
                    StatusCode::OK
                };
                return page::render(
                    status,
                    &BulkDeleteTemplate {
                        p,
                        ids,
                        names: names.into_iter().take(CONFIRM_NAMES).collect(),
                        more,
                        error: other.is_some(),
                    },
                );
            }
        },
        _ => return refused(&session, &p, "subs-bulk-unknown").await,
    };
    let outcomes = crate::subscriptions::manage::bulk(&state.db, &ids, change, &actor).await?;
    let count = |o: BulkOutcome| outcomes.iter().filter(|x| x.2 == o).count().to_string();
    let changed = count(BulkOutcome::Changed);
    let unchanged = count(BulkOutcome::Unchanged);
    let missing = count(BulkOutcome::Missing);
    flash_args(
        &session,
        FlashKind::Success,
        match change {
            BulkChange::Pause => "subs-bulk-paused",
            BulkChange::Resume => "subs-bulk-resumed",
            BulkChange::SyncNow => "subs-bulk-synced",
            BulkChange::Interval(_) => "subs-bulk-interval",
            BulkChange::Delete { .. } => "subs-bulk-deleted",
        },
        &[
            ("count", &changed),
            ("unchanged", &unchanged),
            ("missing", &missing),
        ],
    )
    .await?;
    Ok(p.redirect("/subscriptions"))
}

/// Back to the list with a message why nothing was done.
async fn refused(session: &Session, p: &Page, key: &str) -> WebResult<Response> {
    flash_args(session, FlashKind::Error, key, &[]).await?;
    Ok(p.redirect("/subscriptions"))
}
