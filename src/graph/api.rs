//! Typed Graph calls. Shapes follow Microsoft's documented JSON (`user`, `calendar`, collections
//! with `@odata.nextLink`).

use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::Endpoints;
use super::error::GraphError;
pub use super::events::{DateTimeTimeZone, EmailAddress, Recipient};
use super::events::{DeltaPage, Event};
use super::oauth::describe;
use crate::model::ItemIds;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub display_name: Option<String>,
    pub mail: Option<String>,
    pub user_principal_name: Option<String>,
    pub given_name: Option<String>,
    pub surname: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Calendar {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub color: Option<String>,
    #[serde(default)]
    pub hex_color: Option<String>,
    #[serde(default)]
    pub is_default_calendar: bool,
    #[serde(default)]
    pub can_edit: bool,
    pub owner: Option<EmailAddress>,
}

#[derive(Debug, Deserialize)]
struct Collection<T> {
    value: Vec<T>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
struct ErrorDetail {
    code: String,
    #[serde(default)]
    message: String,
}

/// `translateExchangeIds` takes at most 1000 ids per call (documented: "user:
/// translateExchangeIds").
const TRANSLATE_BATCH: usize = 1000;

/// The `Prefer` part asking for immutable ids (documented: "Obtain immutable identifiers for
/// Outlook resources"; it applies to the request it is sent with only).
fn id_preference(ids: ItemIds) -> &'static str {
    match ids {
        ItemIds::Immutable => ", IdType=\"ImmutableId\"",
        ItemIds::Rest => "",
    }
}

/// Seconds from `Retry-After`: Graph sends a (possibly fractional) number of seconds; HTTP
/// also allows a date (RFC 9110, 10.2.3), which gateways in front of a service send. A date in
/// the past means now; anything else unreadable is ignored (the caller backs off).
pub fn retry_after(headers: &HeaderMap) -> Option<f64> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then_some(seconds);
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some((wait.num_milliseconds().max(0) as f64) / 1000.0)
}

/// Graph calls under one access token. Owns what it needs (all cheap to clone), so that a
/// caller can retry an operation with a fresh token without borrowing across attempts.
#[derive(Clone)]
pub struct Graph {
    http: reqwest::Client,
    endpoints: Endpoints,
    token: String,
}

impl std::fmt::Debug for Graph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Graph")
            .field("graph_base", &self.endpoints.graph_base)
            .finish_non_exhaustive()
    }
}

/// The longest range a calendar view (and its delta) may cover: Graph refuses more with 400
/// `ErrorInvalidRequest` "… Maximum number of days: 1825" (observed, microsoft-graph-docs
/// #6284).
pub const MAX_VIEW_DAYS: i64 = 1825;

/// Longest error message kept from a Graph error body (they can be long; the admin sees them).
const MESSAGE_CHARS: usize = 300;

impl Graph {
    pub(crate) fn new(http: &reqwest::Client, endpoints: &Endpoints, token: &str) -> Self {
        Self {
            http: http.clone(),
            endpoints: endpoints.clone(),
            token: token.to_string(),
        }
    }

    /// Only ever send the token to the configured Graph host: links come from Graph's answers
    /// (and from the database), and a link to another host is refused unsent.
    fn check_link(&self, url: &str) -> Result<(), GraphError> {
        let base = format!("{}/", self.endpoints.graph_base);
        if url.starts_with(&base) {
            Ok(())
        } else {
            Err(GraphError::ForeignLink(
                url::Url::parse(url)
                    .ok()
                    .and_then(|u| u.host_str().map(String::from))
                    .unwrap_or_else(|| "?".into()),
            ))
        }
    }

    /// GETs a Graph URL and deserializes the answer in one pass; a failure keeps Graph's error
    /// code and message and the `Retry-After` wait.
    pub async fn get<T: DeserializeOwned>(
        &self,
        url: &str,
        headers: &[(&str, &str)],
    ) -> Result<T, GraphError> {
        self.check_link(url)?;
        self.exchange(self.http.get(url), headers).await
    }

    /// POSTs a JSON body (Graph's actions, such as `translateExchangeIds`).
    async fn post<T: DeserializeOwned>(
        &self,
        url: &str,
        body: &impl serde::Serialize,
        headers: &[(&str, &str)],
    ) -> Result<T, GraphError> {
        self.check_link(url)?;
        self.exchange(self.http.post(url).json(body), headers).await
    }

    async fn exchange<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        headers: &[(&str, &str)],
    ) -> Result<T, GraphError> {
        let mut request = request
            .bearer_auth(&self.token)
            // Microsoft asks for one per request, to find it in their logs when asked.
            .header("client-request-id", uuid::Uuid::new_v4().to_string());
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = request
            .send()
            .await
            .map_err(|e| GraphError::Network(describe(&e)))?;
        let status = response.status();
        let retry = retry_after(response.headers());
        let bytes = super::read_body(response, super::MAX_BODY_BYTES)
            .await
            .map_err(|e| match e {
                super::BodyError::TooLarge(_) => GraphError::Decode(e.to_string()),
                super::BodyError::Network(m) => GraphError::Network(m),
            })?;
        if !status.is_success() {
            return Err(api_error(status.as_u16(), &bytes, retry));
        }
        serde_json::from_slice(&bytes).map_err(|e| GraphError::Decode(e.to_string()))
    }

    /// Follows `@odata.nextLink` to the end (bounded, so a misbehaving server cannot loop).
    pub async fn get_all<T: DeserializeOwned>(
        &self,
        first: &str,
        headers: &[(&str, &str)],
    ) -> Result<Vec<T>, GraphError> {
        let mut out = Vec::new();
        let mut next = Some(first.to_string());
        let mut pages = 0;
        while let Some(url) = next {
            pages += 1;
            if pages > 1000 {
                return Err(GraphError::Decode("more than 1000 pages".into()));
            }
            let page: Collection<T> = self.get(&url, headers).await?;
            out.extend(page.value);
            next = page.next_link;
        }
        Ok(out)
    }

    pub async fn me(&self) -> Result<User, GraphError> {
        self.get(
            &format!(
                "{}/me?$select=id,displayName,mail,userPrincipalName,givenName,surname",
                self.endpoints.graph_v1()
            ),
            &[],
        )
        .await
    }

    pub async fn my_calendars(&self) -> Result<Vec<Calendar>, GraphError> {
        self.get_all(
            &format!("{}/me/calendars?$top=50", self.endpoints.graph_v1()),
            &[],
        )
        .await
    }
}

/// One result of `translateExchangeIds` (documented: convertIdResult): `targetId`, or
/// `errorDetails` when that id could not be translated.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Converted {
    source_id: Option<String>,
    target_id: Option<String>,
}

/// The (old, new) pairs of an answer: only ids that were asked about and translated.
fn translated(answer: Vec<Converted>, asked: &[String]) -> Vec<(String, String)> {
    answer
        .into_iter()
        .filter_map(|c| {
            let source = c.source_id.filter(|s| asked.contains(s))?;
            Some((source, c.target_id.filter(|t| !t.is_empty())?))
        })
        .collect()
}

/// A room from `/places/microsoft.graph.room` (Microsoft's documented room resource:
/// https://learn.microsoft.com/en-us/graph/api/resources/room; graph-protocol §2.8). Every
/// field may be missing or null: rooms are often registered with little more than a name.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Room {
    #[serde(default)]
    pub id: Option<String>,
    pub display_name: Option<String>,
    pub email_address: Option<String>,
    #[serde(default)]
    pub capacity: Option<i64>,
    #[serde(default)]
    pub building: Option<String>,
    #[serde(default)]
    pub floor_number: Option<i64>,
    #[serde(default)]
    pub floor_label: Option<String>,
    #[serde(default)]
    pub address: Option<PhysicalAddress>,
}

impl Room {
    /// What identifies a room in a listing: its id, else its address.
    fn key(&self) -> Option<String> {
        self.id.clone().or_else(|| self.email_address.clone())
    }
}

/// A `/places` collection as read: `complete` only when the read proves nothing is missing
/// (see `Graph::places`); what was read is in `items` either way.
#[derive(Debug, Clone)]
pub struct Places<T> {
    pub items: Vec<T>,
    pub complete: bool,
}

/// A room list from `/places/microsoft.graph.roomlist` (documented roomList resource).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomList {
    pub display_name: Option<String>,
    pub email_address: Option<String>,
}

/// Graph's `physicalAddress`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhysicalAddress {
    pub street: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country_or_region: Option<String>,
}

impl PhysicalAddress {
    /// One line, as a lobby screen shows it: "Street, Postal code City, Country".
    pub fn one_line(&self) -> Option<String> {
        let nonempty = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(String::from)
        };
        let town = [nonempty(&self.postal_code), nonempty(&self.city)]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        let parts: Vec<String> = [
            nonempty(&self.street),
            Some(town).filter(|t| !t.is_empty()),
            nonempty(&self.country_or_region),
        ]
        .into_iter()
        .flatten()
        .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

/// The few event fields a preview shows.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviewEvent {
    pub subject: Option<String>,
    pub organizer: Option<Recipient>,
    pub start: Option<DateTimeTimeZone>,
    pub end: Option<DateTimeTimeZone>,
    #[serde(default)]
    pub is_all_day: bool,
    pub sensitivity: Option<String>,
}

/// A refusal: Graph's error code and message when the body is Graph's error JSON (with or
/// without `innerError`); `HTTP{status}` when it is not (a gateway's HTML page, say).
fn api_error(status: u16, body: &[u8], retry_after: Option<f64>) -> GraphError {
    let (code, message) = serde_json::from_slice::<ErrorBody>(body)
        .map(|b| {
            (
                b.error.code,
                b.error.message.chars().take(MESSAGE_CHARS).collect(),
            )
        })
        .unwrap_or_else(|_| (format!("HTTP{status}"), String::new()));
    GraphError::Api {
        status,
        code,
        message,
        retry_after,
    }
}

/// A Graph URL from path segments (each percent-encoded) and query pairs.
fn graph_url(endpoints: &Endpoints, segments: &[&str], query: &[(&str, &str)]) -> String {
    let base = endpoints.graph_v1();
    let Ok(mut url) = url::Url::parse(&base) else {
        return base;
    };
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty();
        for s in segments {
            path.push(s);
        }
    }
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
    url.to_string()
}

fn utc(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// An OData string literal: single quotes doubled.
pub fn odata_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A `$search` term: quotes and backslashes cannot be part of a word prefix, so they go.
fn search_term(text: &str) -> String {
    text.chars().filter(|c| !matches!(c, '"' | '\\')).collect()
}

/// Where a calendar is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CalendarRef {
    /// The primary calendar of a mailbox, by address (`/users/{address}/calendar`).
    Mailbox(String),
    /// One of the signed-in account's calendars (`/me/calendars/{id}`).
    Own(String),
}

impl Graph {
    /// A Graph URL from path segments (each percent-encoded) and query pairs.
    pub fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> String {
        graph_url(&self.endpoints, segments, query)
    }

    /// The calendar itself: `users/{address}/calendar` (a mailbox's primary calendar, the only
    /// one reachable in another mailbox) or `me/calendars/{id}`.
    fn calendar_segments(r: &CalendarRef) -> Vec<&str> {
        match r {
            CalendarRef::Mailbox(address) => vec!["users", address.as_str(), "calendar"],
            CalendarRef::Own(id) => vec!["me", "calendars", id.as_str()],
        }
    }

    /// The mailbox the calendar belongs to: `users/{address}` or `me`.
    fn mailbox_segments(r: &CalendarRef) -> Vec<&str> {
        match r {
            CalendarRef::Mailbox(address) => vec!["users", address.as_str()],
            CalendarRef::Own(_) => vec!["me"],
        }
    }

    /// `calendarView/delta` as Microsoft's v1.0 "event: delta" page lists it: on a mailbox's
    /// primary calendar only (`users/{id}/calendarView/delta`). Another calendar of the
    /// account is read whole by `calendarView` instead (`first_link`).
    fn delta_segments(r: &CalendarRef) -> Vec<&str> {
        let mut segments = Self::mailbox_segments(r);
        segments.extend(["calendarView", "delta"]);
        segments
    }

    /// Where a series' master and instances are found: under the mailbox for its primary
    /// calendar, through the calendar for the account's listed calendars (one shared with it
    /// lives in another mailbox: `/me/events/{id}` does not reach it).
    fn item_segments(r: &CalendarRef) -> Vec<&str> {
        let mut segments = match r {
            CalendarRef::Mailbox(_) => Self::mailbox_segments(r),
            CalendarRef::Own(_) => Self::calendar_segments(r),
        };
        segments.push("events");
        segments
    }

    pub async fn calendar(&self, r: &CalendarRef) -> Result<Calendar, GraphError> {
        self.get(&self.url(&Self::calendar_segments(r), &[]), &[])
            .await
    }

    /// The directory object of a mailbox address. Graph addresses a mailbox by object id or
    /// user principal name only, and a primary SMTP address often is not the UPN
    /// (graph-protocol §9.4): the address is looked up as `mail`, then as UPN.
    pub async fn resolve_mailbox(&self, address: &str) -> Result<Option<User>, GraphError> {
        let lit = odata_literal(address.trim());
        let url = self.url(
            &["users"],
            &[
                (
                    "$filter",
                    &format!("mail eq {lit} or userPrincipalName eq {lit}"),
                ),
                (
                    "$select",
                    "id,displayName,givenName,surname,mail,userPrincipalName",
                ),
                ("$top", "2"),
            ],
        );
        let found: Collection<User> = self.get(&url, &[]).await?;
        let wanted = address.trim();
        // Prefer the one whose mail is the address; a UPN match otherwise.
        let mut users = found.value;
        users.sort_by_key(|u| {
            !u.mail
                .as_deref()
                .is_some_and(|m| m.eq_ignore_ascii_case(wanted))
        });
        Ok(users.into_iter().next())
    }

    /// People and rooms whose name or address starts with `term`: `startswith` over the five
    /// name and address properties, plus `$search` (word starts inside names), merged by id.
    pub async fn search_users(&self, term: &str) -> Result<Vec<User>, GraphError> {
        let lit = odata_literal(term.trim());
        let filter = [
            "displayName",
            "givenName",
            "surname",
            "mail",
            "userPrincipalName",
        ]
        .iter()
        .map(|p| format!("startswith({p},{lit})"))
        .collect::<Vec<_>>()
        .join(" or ");
        let select = "id,displayName,givenName,surname,mail,userPrincipalName";
        let by_prefix: Vec<User> = self
            .get_all(
                &self.url(
                    &["users"],
                    &[("$filter", &filter), ("$select", select), ("$top", "100")],
                ),
                &[],
            )
            .await?;
        let term = search_term(term.trim());
        let mut all = by_prefix;
        if !term.is_empty() {
            let search = format!("\"displayName:{term}\" OR \"mail:{term}\"");
            let by_word: Vec<User> = self
                .get_all(
                    &self.url(
                        &["users"],
                        &[
                            ("$search", &search),
                            ("$select", select),
                            ("$top", "100"),
                            ("$count", "true"),
                        ],
                    ),
                    &[("ConsistencyLevel", "eventual")],
                )
                .await?;
            all.extend(by_word);
        }
        let mut seen = std::collections::HashSet::new();
        all.retain(|u| seen.insert(u.id.clone()));
        all.sort_by_key(|u| u.display_name.clone().unwrap_or_default().to_lowercase());
        Ok(all)
    }

    /// The names of the tenant's verified domains (`GET /organization`, documented; needs
    /// `User.Read` or more, work and school accounts only).
    pub async fn verified_domains(&self) -> Result<Vec<String>, GraphError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Organization {
            #[serde(default)]
            verified_domains: Vec<VerifiedDomain>,
        }
        #[derive(Deserialize)]
        struct VerifiedDomain {
            name: Option<String>,
        }
        let orgs: Vec<Organization> = self
            .get_all(
                &self.url(&["organization"], &[("$select", "verifiedDomains")]),
                &[],
            )
            .await?;
        Ok(orgs
            .into_iter()
            .flat_map(|o| o.verified_domains)
            .filter_map(|d| d.name)
            .map(|n| n.trim().to_ascii_lowercase())
            .filter(|n| !n.is_empty())
            .collect())
    }

    /// The tenant's room lists (`/places/microsoft.graph.roomlist`, Place.Read.All).
    pub async fn room_lists(&self) -> Result<Places<RoomList>, GraphError> {
        self.places(&["places", "microsoft.graph.roomlist"], |l: &RoomList| {
            l.email_address.clone()
        })
        .await
    }

    /// The rooms of a room list, addressed by the list's email address (documented).
    pub async fn rooms_of_list(&self, list_address: &str) -> Result<Places<Room>, GraphError> {
        self.places(
            &["places", list_address, "microsoft.graph.roomlist", "rooms"],
            Room::key,
        )
        .await
    }

    pub async fn rooms(&self) -> Result<Places<Room>, GraphError> {
        self.places(&["places", "microsoft.graph.room"], Room::key)
            .await
    }

    /// Reads a `/places` collection whole. Graph answers it with the first `$top` (100 by
    /// default) and no `@odata.nextLink` (observed: microsoft-graph-docs #6427, #9923, #9542,
    /// #18604, msgraph-sdk-dotnet #2190, msgraph-sdk-powershell #2260), so it is paged with
    /// `$skip` and `$top` and `$count=true` until the count is reached or a page comes short.
    /// `complete` only where the read proves nothing is missing: as many distinct items as the
    /// count said, the same count on every page (a directory that changed between pages shifts
    /// `$skip`: one item twice, another never), or without a count a short page and no item
    /// twice.
    async fn places<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        key: impl Fn(&T) -> Option<String>,
    ) -> Result<Places<T>, GraphError> {
        #[derive(Deserialize)]
        struct Page<T> {
            value: Vec<T>,
            #[serde(rename = "@odata.count")]
            count: Option<u64>,
        }
        const TOP: usize = 100;
        const MAX_PAGES: usize = 200;
        let mut items: Vec<T> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut twice = false;
        let mut counts = std::collections::BTreeSet::new();
        let mut short = false;
        for n in 0..MAX_PAGES {
            let skip = (n * TOP).to_string();
            let top = TOP.to_string();
            let url = self.url(
                segments,
                &[("$top", &top), ("$skip", &skip), ("$count", "true")],
            );
            let page: Page<T> = self.get(&url, &[]).await?;
            if let Some(c) = page.count {
                counts.insert(c);
            }
            let got = page.value.len();
            for item in page.value {
                if let Some(k) = key(&item)
                    && !seen.insert(k.to_lowercase())
                {
                    twice = true;
                    continue;
                }
                items.push(item);
            }
            if got < TOP {
                short = true;
                break;
            }
            if counts
                .iter()
                .next_back()
                .is_some_and(|c| (n + 1) * TOP >= usize::try_from(*c).unwrap_or(usize::MAX))
            {
                break;
            }
        }
        let complete = match counts.len() {
            0 => short && !twice,
            1 => counts
                .first()
                .is_some_and(|c| usize::try_from(*c).is_ok_and(|c| c == items.len()) && !twice),
            _ => false,
        };
        Ok(Places { items, complete })
    }

    /// The first link of a round over `[from, to)`: `calendarView/delta` on a mailbox's
    /// primary calendar; `calendarView` with `$count=true` on a listed calendar of the account
    /// (read whole every round). Nothing is requested: the caller stores the link first, so
    /// that a round can be resumed from it after a crash.
    pub fn delta_start(
        endpoints: &Endpoints,
        r: &CalendarRef,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> String {
        let (from, to) = (utc(from), utc(to));
        match r {
            CalendarRef::Mailbox(_) => graph_url(
                endpoints,
                &Self::delta_segments(r),
                &[("startDateTime", &from), ("endDateTime", &to)],
            ),
            CalendarRef::Own(_) => {
                let mut segments = Self::calendar_segments(r);
                segments.push("calendarView");
                graph_url(
                    endpoints,
                    &segments,
                    &[
                        ("startDateTime", &from),
                        ("endDateTime", &to),
                        ("$count", "true"),
                    ],
                )
            }
        }
    }

    /// One page of a delta round: the first link, or a next/delta link Graph returned. A page
    /// whose links lead anywhere but this Graph is refused whole, so that such a link is never
    /// kept as the place to continue from.
    pub async fn delta_page(
        &self,
        link: &str,
        page_size: u32,
        ids: ItemIds,
    ) -> Result<DeltaPage, GraphError> {
        let prefer = format!(
            "outlook.timezone=\"UTC\", odata.maxpagesize={page_size}{}",
            id_preference(ids)
        );
        let page: DeltaPage = self.get(link, &[("Prefer", &prefer)]).await?;
        for next in [&page.next_link, &page.delta_link].into_iter().flatten() {
            self.check_link(next)?;
        }
        Ok(page)
    }

    /// One event by id, in UTC: the series master that delta's minimal occurrences refer to.
    pub async fn event(
        &self,
        r: &CalendarRef,
        id: &str,
        ids: ItemIds,
    ) -> Result<Event, GraphError> {
        let mut segments = Self::item_segments(r);
        segments.push(id);
        let prefer = format!("outlook.timezone=\"UTC\"{}", id_preference(ids));
        self.get(&self.url(&segments, &[]), &[("Prefer", &prefer)])
            .await
    }

    /// The occurrences and exceptions of a series in `[from, to)` (Graph's
    /// `events/{id}/instances`), with what delta's minimal occurrences carry plus each one's
    /// own iCalUId ("different for each occurrence in a recurring series", event resource),
    /// which delta leaves out. What a series is now: delta does not say which occurrences
    /// vanished (docs/graph-behaviours.md).
    pub async fn instances(
        &self,
        r: &CalendarRef,
        master_id: &str,
        (from, to): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>),
        ids: ItemIds,
    ) -> Result<Vec<Event>, GraphError> {
        let mut segments = Self::item_segments(r);
        segments.extend([master_id, "instances"]);
        let (start, end) = (utc(from), utc(to));
        let url = self.url(
            &segments,
            &[
                ("startDateTime", &start),
                ("endDateTime", &end),
                (
                    "$select",
                    "id,type,seriesMasterId,start,end,iCalUId,changeKey",
                ),
                ("$top", "1000"),
            ],
        );
        let prefer = format!("outlook.timezone=\"UTC\"{}", id_preference(ids));
        self.get_all(&url, &[("Prefer", &prefer)]).await
    }

    /// Every instance in `[from, to)` with only what the self-check compares (id, change key,
    /// times), from `calendarView` — another listing than delta, read whole through its
    /// next links.
    pub async fn view_versions(
        &self,
        r: &CalendarRef,
        (from, to): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>),
        ids: ItemIds,
    ) -> Result<Vec<Event>, GraphError> {
        let mut segments = Self::calendar_segments(r);
        segments.push("calendarView");
        let (start, end) = (utc(from), utc(to));
        let url = self.url(
            &segments,
            &[
                ("startDateTime", &start),
                ("endDateTime", &end),
                ("$select", "id,type,changeKey,start,end"),
            ],
        );
        let prefer = format!(
            "outlook.timezone=\"UTC\", odata.maxpagesize=500{}",
            id_preference(ids)
        );
        self.get_all(&url, &[("Prefer", &prefer)]).await
    }

    /// Translates default (REST) item ids of the calendar's mailbox to immutable ones (Graph's
    /// `translateExchangeIds`, at most 1000 ids a call): old id and new for each id Graph
    /// translated; an id Graph could not translate is left out.
    pub async fn translate_to_immutable(
        &self,
        r: &CalendarRef,
        ids: &[String],
    ) -> Result<Vec<(String, String)>, GraphError> {
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Body<'a> {
            input_ids: &'a [String],
            source_id_type: &'static str,
            target_id_type: &'static str,
        }
        let mut segments = Self::mailbox_segments(r);
        segments.push("translateExchangeIds");
        let url = self.url(&segments, &[]);
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(TRANSLATE_BATCH) {
            let body = Body {
                input_ids: chunk,
                source_id_type: "restId",
                target_id_type: "restImmutableEntryId",
            };
            let answer: Collection<Converted> = self.post(&url, &body, &[]).await?;
            out.extend(translated(answer.value, chunk));
        }
        Ok(out)
    }

    /// The next events of a calendar, for a preview before subscribing.
    pub async fn preview(
        &self,
        r: &CalendarRef,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<PreviewEvent>, GraphError> {
        let mut segments = Self::calendar_segments(r);
        segments.push("calendarView");
        let (start, end) = (utc(from), utc(to));
        #[derive(Deserialize)]
        struct Page {
            value: Vec<PreviewEvent>,
        }
        let page: Page = self
            .get(
                &self.url(
                    &segments,
                    &[
                        ("startDateTime", &start),
                        ("endDateTime", &end),
                        ("$top", "10"),
                        (
                            "$select",
                            "subject,organizer,start,end,isAllDay,sensitivity",
                        ),
                    ],
                ),
                &[("Prefer", "outlook.timezone=\"UTC\"")],
            )
            .await?;
        Ok(page.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odata_and_search_escaping() {
        assert_eq!(odata_literal("O'Neill"), "'O''Neill'");
        assert_eq!(search_term("a\"b\\c"), "abc");
        let ep = Endpoints {
            login_base: "https://l".into(),
            graph_base: "https://graph.microsoft.com".into(),
            tenant: "common".into(),
        };
        let g = crate::graph::Client::new().expect("client").graph(&ep, "t");
        let u = g.url(
            &["users", "o'neill#x@contoso.example", "calendar"],
            &[("$filter", "startswith(mail,'a&b')")],
        );
        assert!(
            u.starts_with(
                "https://graph.microsoft.com/v1.0/users/o'neill%23x@contoso.example/calendar?"
            ),
            "{u}"
        );
        assert!(u.contains("%27a%26b%27"), "{u}");
    }

    /// Error bodies quoted from public threads (tests/fixtures/README.md) are read as Graph's
    /// errors and handled as they must be.
    #[test]
    fn documented_and_observed_error_bodies() {
        use crate::graph::GraphFailure;
        let cases: [(u16, &str, GraphFailure, &str); 6] = [
            (
                400,
                include_str!("../../tests/fixtures/graph/personal-account-users.json"),
                GraphFailure::Rejected,
                "BadRequest",
            ),
            (
                410,
                include_str!("../../tests/fixtures/graph/sync-state-not-found.json"),
                GraphFailure::Gone,
                "SyncStateNotFound",
            ),
            (
                400,
                include_str!("../../tests/fixtures/graph/view-range-too-long.json"),
                GraphFailure::Rejected,
                "ErrorInvalidRequest",
            ),
            (
                404,
                include_str!("../../tests/fixtures/graph/item-not-found.json"),
                GraphFailure::NotFound,
                "ErrorItemNotFound",
            ),
            (
                429,
                include_str!("../../tests/fixtures/graph/mailbox-concurrency.json"),
                GraphFailure::Throttled(None),
                "ApplicationThrottled",
            ),
            (
                503,
                "<html><body><h1>Service Unavailable</h1></body></html>",
                GraphFailure::Throttled(None),
                "HTTP503",
            ),
        ];
        for (status, body, failure, code) in cases {
            let e = api_error(status, body.as_bytes(), None);
            assert_eq!(e.failure(), failure, "{body}");
            assert_eq!(e.code(), Some(code));
        }
        let long = api_error(
            400,
            include_str!("../../tests/fixtures/graph/view-range-too-long.json").as_bytes(),
            None,
        );
        assert!(
            matches!(long, GraphError::Api { message, .. } if message.ends_with("Maximum number of days: 1825"))
        );
    }

    /// Microsoft's documented `translateExchangeIds` answer: the translated id is taken, the
    /// refused one and any id not asked about are left out.
    #[test]
    fn translate_exchange_ids_answer() {
        let answer: Collection<Converted> = serde_json::from_str(include_str!(
            "../../tests/fixtures/graph/translate-exchange-ids.json"
        ))
        .expect("fixture");
        let asked = vec![
            "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0AXRL9GMnwZEyjAZQ2rMakHQAAAAAATAAA".to_string(),
            "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0AXRL9GMnwZEyjAZQ2rMakHQAAAAAATCCC".to_string(),
        ];
        let pairs = translated(answer.value, &asked);
        assert_eq!(
            pairs,
            vec![(
                asked[0].clone(),
                "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0AXRL9GMnwZEyjAZQ2rMakHQAAAAAATBBB".to_string()
            )]
        );
        let other: Collection<Converted> = serde_json::from_str(include_str!(
            "../../tests/fixtures/graph/translate-exchange-ids.json"
        ))
        .expect("fixture");
        assert!(translated(other.value, &["someone else's".to_string()]).is_empty());
    }

    #[test]
    fn retry_after_as_seconds_or_as_a_date() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(RETRY_AFTER, v.parse().expect("header"));
            retry_after(&h)
        };
        assert_eq!(with("2.5"), Some(2.5));
        assert_eq!(with(" 7 "), Some(7.0));
        assert_eq!(with("-1"), None);
        assert_eq!(with("NaN"), None);
        assert_eq!(with("soon"), None);
        let in_ten = (chrono::Utc::now() + chrono::Duration::seconds(10))
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let wait = with(&in_ten).expect("a date");
        assert!((8.0..=10.0).contains(&wait), "{wait}");
        assert_eq!(with("Sun, 06 Nov 1994 08:49:37 GMT"), Some(0.0));
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn calendar_paths() {
        let ep = Endpoints {
            login_base: "https://l".into(),
            graph_base: "https://graph.microsoft.com".into(),
            tenant: "common".into(),
        };
        let t = chrono::DateTime::from_timestamp(1_780_000_000, 0).unwrap_or_default();
        let room = CalendarRef::Mailbox("raum.berlin@contoso.example".into());
        assert_eq!(
            Graph::delta_start(&ep, &room, t, t),
            "https://graph.microsoft.com/v1.0/users/raum.berlin@contoso.example/calendarView/delta?startDateTime=2026-05-28T20%3A26%3A40Z&endDateTime=2026-05-28T20%3A26%3A40Z"
        );
        let own = CalendarRef::Own("AAMk=".into());
        // Not delta: v1.0 has it on the primary calendar only.
        let first = Graph::delta_start(&ep, &own, t, t);
        assert!(
            first.starts_with("https://graph.microsoft.com/v1.0/me/calendars/AAMk=/calendarView?")
                && first.ends_with("&%24count=true"),
            "{first}"
        );
    }

    #[tokio::test]
    async fn links_to_other_hosts_are_refused_unsent() {
        let ep = Endpoints {
            login_base: "https://l".into(),
            graph_base: "https://graph.microsoft.com".into(),
            tenant: "common".into(),
        };
        let g = crate::graph::Client::new().expect("client").graph(&ep, "t");
        for link in [
            "https://evil.example/v1.0/me",
            "https://graph.microsoft.com.evil.example/v1.0/me",
            "not a url",
        ] {
            assert!(matches!(
                g.delta_page(link, 10, ItemIds::Immutable).await,
                Err(GraphError::ForeignLink(_))
            ));
        }
    }
}
