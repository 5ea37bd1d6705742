//! Microsoft Graph v1.0, the subset Datapump uses: users (with `$filter`/`$search` people
//! picking), calendars, events, `calendarView`, `calendarView/delta` and rooms.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::Sim;
use super::delta::RoundItem;
use super::ids::IdForm;
use super::json::{self, graph_error};
use super::model::{Instance, MailboxKind, User};
use super::state::{AccessToken, SimState};

const ACCESS_DENIED: &str = "Access is denied. Check credentials and try again.";
const NOT_FOUND: &str = "The specified object was not found in the store.";
const GRAPH: &str = "https://graph.microsoft.com/v1.0";

/// A refusal, turned into a Graph error response by the caller.
struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl Refusal {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
}

type Window = (DateTime<Utc>, DateTime<Utc>);

struct Request {
    base: String,
    path: String,
    query: Vec<(String, String)>,
    prefer: HashMap<String, String>,
    /// The id form this request's answers use (`Prefer: IdType`).
    ids: IdForm,
    /// POST (only `translateExchangeIds` here) and its body.
    post: bool,
    body: Bytes,
    consistency_eventual: bool,
    client_request_id: Option<String>,
}

impl Request {
    fn param(&self, name: &str) -> Option<&str> {
        // Graph accepts system query options with and without the `$`.
        let bare = name.trim_start_matches('$');
        self.query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name) || k.eq_ignore_ascii_case(bare))
            .map(|(_, v)| v.as_str())
    }

    fn error(&self, status: StatusCode, code: &str, message: &str) -> Response {
        graph_error(status, code, message, self.client_request_id.as_deref())
    }

    fn refuse(&self, r: Refusal) -> Response {
        self.error(r.status, r.code, &r.message)
    }

    /// The request URL with some parameters replaced, for `@odata.nextLink`.
    fn link(&self, replace: &[(&str, String)]) -> String {
        let mut pairs: Vec<(String, String)> = self
            .query
            .iter()
            .filter(|(k, _)| !replace.iter().any(|(r, _)| k.eq_ignore_ascii_case(r)))
            .cloned()
            .collect();
        for (k, v) in replace {
            pairs.push((k.to_string(), v.clone()));
        }
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        format!("{}{}?{}", self.base, self.path, query)
    }
}

fn parse_prefer(headers: &HeaderMap) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for value in headers.get_all("prefer") {
        let Ok(text) = value.to_str() else { continue };
        for item in text.split(',') {
            let (k, v) = item.split_once('=').unwrap_or((item, ""));
            out.insert(
                k.trim().to_ascii_lowercase(),
                v.trim().trim_matches('"').to_string(),
            );
        }
    }
    out
}

fn authenticate(s: &SimState, headers: &HeaderMap) -> Result<AccessToken, Refusal> {
    let raw = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(raw) = raw else {
        return Err(Refusal::new(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token is empty.",
        ));
    };
    let Some(token) = s.access_tokens.get(raw) else {
        return Err(Refusal::new(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "CompactToken parsing failed with error code: 80049217",
        ));
    };
    if token.expires <= s.now() {
        return Err(Refusal::new(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token has expired or is not yet valid.",
        ));
    }
    Ok(token.clone())
}

fn has_any(token: &AccessToken, scopes: &[&str]) -> bool {
    scopes.iter().any(|s| token.scopes.contains(*s))
}

/// Which mailbox a request is about, for the concurrency limit and the counters.
fn target_mailbox(s: &SimState, token: &AccessToken, segments: &[String]) -> Option<User> {
    match segments {
        [me, ..] if me == "me" => s.user(&token.user_id).cloned(),
        [users, key, ..] if users == "users" => s.find_user_by_key(key).cloned(),
        _ => None,
    }
}

/// The OData forms Graph accepts beside plain segments (graph-protocol §9.5, documented and
/// observed; Microsoft's generated SDKs send them): a function called with empty parentheses
/// (`calendarView/delta()`) and a key in parentheses (`users('{id}')`, quotes doubled inside).
fn odata_segments(raw: Vec<String>) -> Vec<String> {
    let mut out = Vec::with_capacity(raw.len());
    for segment in raw {
        if let Some(name) = segment.strip_suffix("()") {
            out.push(name.to_string());
            continue;
        }
        let keyed = segment
            .strip_suffix(')')
            .and_then(|s| s.split_once('('))
            .filter(|(name, _)| !name.is_empty() && name.chars().all(|c| c.is_ascii_alphabetic()));
        match keyed {
            Some((name, key)) => {
                let key = key
                    .strip_prefix('\'')
                    .and_then(|k| k.strip_suffix('\''))
                    .map_or_else(|| key.to_string(), |k| k.replace("''", "'"));
                out.push(name.to_string());
                out.push(key);
            }
            None => out.push(segment),
        }
    }
    out
}

pub async fn handle(
    State(sim): State<Sim>,
    Path(rest): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let base = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map_or_else(|| GRAPH.to_string(), |h| format!("http://{h}"));
    let prefer = parse_prefer(&headers);
    let req = Request {
        post: method == Method::POST,
        body,
        ids: IdForm::of(&prefer),
        base,
        path: uri.path().to_string(),
        query: uri
            .query()
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default(),
        prefer,
        consistency_eventual: headers
            .get("consistencylevel")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("eventual")),
        client_request_id: headers
            .get("client-request-id")
            .and_then(|v| v.to_str().ok())
            .map(String::from),
    };
    // Ids keep their case; structural segments are case-insensitive.
    let raw_segments: Vec<String> = rest
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        })
        .collect();
    let raw_segments = odata_segments(raw_segments);
    let segments: Vec<String> = raw_segments
        .iter()
        .map(|s| s.to_ascii_lowercase())
        .collect();

    let (token, mailbox, latency) = {
        let mut s = sim.lock();
        let token = match authenticate(&s, &headers) {
            Ok(t) => t,
            Err(r) => {
                s.count(&req.path, None);
                return req.refuse(r);
            }
        };
        let mailbox = target_mailbox(&s, &token, &segments);
        s.count(&req.path, mailbox.as_ref().map(|m| m.upn.as_str()));
        (token, mailbox, s.config.latency)
    };

    // Outlook endpoints (anything below a mailbox) count against its concurrency limit.
    let outlook = mailbox.is_some() && segments.len() > if segments[0] == "me" { 1 } else { 2 };
    // The request budget of an app and mailbox (throttling-limits, "Outlook service limits":
    // 10,000 requests per 10 minutes); the 429 body is the throttling page's documented
    // sample, with `Retry-After` in seconds.
    if let (Some(m), true) = (&mailbox, outlook) {
        let wait = sim.lock().spend_budget(&token.client_id, &m.id);
        if let Some(seconds) = wait {
            let mut r = req.error(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "Please retry again later.",
            );
            if let Ok(v) = HeaderValue::from_str(&seconds.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return r;
        }
    }
    let slot = match (&mailbox, outlook) {
        (Some(m), true) => {
            let acquired = sim.lock().acquire_slot(&token.client_id, &m.id);
            if !acquired {
                let mut r = req.error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "ApplicationThrottled",
                    "Application is over its MailboxConcurrency limit.",
                );
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                return r;
            }
            Some(SlotGuard {
                sim: sim.clone(),
                app: token.client_id.clone(),
                mailbox: m.id.clone(),
            })
        }
        _ => None,
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let response = {
        let mut s = sim.lock();
        route(&mut s, &req, &token, &raw_segments, &segments)
    };
    drop(slot);
    let mut response = response;
    if !response.headers().contains_key("request-id") {
        let rid = uuid::Uuid::new_v4().to_string();
        let cid = req.client_request_id.clone().unwrap_or_else(|| rid.clone());
        json::add_request_ids(response.headers_mut(), &rid, &cid);
    }
    response
}

struct SlotGuard {
    sim: Sim,
    app: String,
    mailbox: String,
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.sim.lock().release_slot(&self.app, &self.mailbox);
    }
}

fn route(
    s: &mut SimState,
    req: &Request,
    token: &AccessToken,
    raw: &[String],
    seg: &[String],
) -> Response {
    let strs: Vec<&str> = seg.iter().map(String::as_str).collect();
    let translate = matches!(
        strs.as_slice(),
        ["me", "translateexchangeids"] | ["users", _, "translateexchangeids"]
    );
    if translate != req.post {
        // Inferred: Graph's answer to a wrong method is not quoted anywhere we found.
        return req.error(
            StatusCode::METHOD_NOT_ALLOWED,
            "Request_BadRequest",
            "The HTTP method is not allowed for this resource.",
        );
    }
    if translate {
        let user = match strs.as_slice() {
            ["me", _] => s.user(&token.user_id).cloned(),
            _ => s.find_user_by_key(&raw[1]).cloned(),
        };
        return match user {
            Some(u) => translate_ids(s, req, token, &u),
            None => req.error(
                StatusCode::NOT_FOUND,
                "ErrorInvalidUser",
                "The requested user is invalid.",
            ),
        };
    }
    // Personal accounts have no organization: the directory and places are "Not supported"
    // for them (documented, "List users" and "List places" permission tables). The answer to
    // a `/users` query is observed (microsoft-graph-docs-contrib #7212); the same answer for
    // `/users/{id}` and `/places` is inferred.
    if s.user(&token.user_id).is_some_and(|u| u.personal)
        && matches!(strs.first(), Some(&"users" | &"places" | &"organization"))
    {
        return req.error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "The query specified in the URI is not valid. Could not find a property named 'displayName' on type 'Microsoft.Fast.Profile.Web.Models._1._0.Profile'.",
        );
    }
    // Observed (microsoftgraph/msgraph-sdk-php#1163): 400 BadRequest "/me request is only
    // valid with delegated authentication flow." for an app-only token.
    if strs.first() == Some(&"me") && super::state::is_app_reader(&token.user_id) {
        return req.error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "/me request is only valid with delegated authentication flow.",
        );
    }
    match strs.as_slice() {
        ["users"] => list_users(s, req, token),
        ["me"] => {
            if !has_any(token, &["User.Read", "User.ReadBasic.All", "User.Read.All"]) {
                return req.error(
                    StatusCode::FORBIDDEN,
                    "Authorization_RequestDenied",
                    "Insufficient privileges to complete the operation.",
                );
            }
            match s.user(&token.user_id) {
                Some(u) => user_response(req, u, "users/$entity"),
                None => req.error(
                    StatusCode::NOT_FOUND,
                    "Request_ResourceNotFound",
                    "Resource does not exist.",
                ),
            }
        }
        ["users", _] => {
            if !has_any(token, &["User.ReadBasic.All", "User.Read.All"])
                && s.find_user_by_key(&raw[1])
                    .is_none_or(|u| u.id != token.user_id)
            {
                return req.error(
                    StatusCode::FORBIDDEN,
                    "Authorization_RequestDenied",
                    "Insufficient privileges to complete the operation.",
                );
            }
            match s.find_user_by_key(&raw[1]) {
                Some(u) => user_response(req, u, "users/$entity"),
                None => req.error(StatusCode::NOT_FOUND, "Request_ResourceNotFound", &format!("Resource '{}' does not exist or one of its queried reference-property objects are not present.", raw[1])),
            }
        }
        ["places", "microsoft.graph.room"] => rooms(s, req, token),
        ["places", "microsoft.graph.roomlist"] => roomlists(s, req, token),
        ["places", list, "microsoft.graph.roomlist", "rooms"] => {
            roomlist_rooms(s, req, token, list)
        }
        ["organization"] => organization(s, req, token),
        ["me", ..] => {
            let Some(user) = s.user(&token.user_id).cloned() else {
                return req.error(
                    StatusCode::NOT_FOUND,
                    "ErrorInvalidUser",
                    "The requested user is invalid.",
                );
            };
            mailbox(s, req, token, &user, &seg[1..], &raw[1..])
        }
        ["users", key, ..] => {
            let Some(user) = s.find_user_by_key(key).cloned() else {
                return req.error(
                    StatusCode::NOT_FOUND,
                    "ErrorInvalidUser",
                    &format!("The requested user '{}' is invalid.", raw[1]),
                );
            };
            mailbox(s, req, token, &user, &seg[2..], &raw[2..])
        }
        [first, ..] => req.error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!("Resource not found for the segment '{first}'."),
        ),
        [] => req.error(StatusCode::BAD_REQUEST, "BadRequest", "Invalid request."),
    }
}

fn user_response(req: &Request, u: &User, context: &str) -> Response {
    let select = req.param("$select").map(|s| {
        s.split(',')
            .map(|p| p.trim().to_string())
            .collect::<Vec<_>>()
    });
    let mut body = json::user(u, select.as_deref());
    if let Some(obj) = body.as_object_mut() {
        obj.insert(
            "@odata.context".into(),
            json!(format!("{GRAPH}/$metadata#{context}")),
        );
    }
    axum::Json(body).into_response()
}

// ---------------------------------------------------------------------------------------------
// People picker

#[derive(Debug, PartialEq)]
enum Clause {
    StartsWith(String, String),
    Eq(String, String),
}

const USER_PROPS: &[&str] = &[
    "displayName",
    "givenName",
    "surname",
    "mail",
    "userPrincipalName",
];

/// Parses `startswith(prop,'v') or prop eq 'v' or …` (OData string literals: `''` is a quote).
fn parse_filter(text: &str) -> Result<Vec<Clause>, String> {
    let mut clauses = Vec::new();
    let mut rest = text.trim();
    loop {
        let lower = rest.to_ascii_lowercase();
        let clause;
        if lower.starts_with("startswith(") {
            let inner = &rest["startswith(".len()..];
            let (prop, after) = inner.split_once(',').ok_or("expected ','")?;
            let (value, after) = literal(after.trim_start())?;
            let after = after.trim_start().strip_prefix(')').ok_or("expected ')'")?;
            clause = Clause::StartsWith(prop.trim().to_string(), value);
            rest = after.trim_start();
        } else {
            let (prop, after) = rest.split_once(' ').ok_or("unsupported filter")?;
            let after = after.trim_start();
            let after = after
                .strip_prefix("eq ")
                .or_else(|| after.strip_prefix("EQ "))
                .ok_or("unsupported operator")?;
            let (value, after) = literal(after.trim_start())?;
            clause = Clause::Eq(prop.trim().to_string(), value);
            rest = after.trim_start();
        }
        let prop = match &clause {
            Clause::StartsWith(p, _) | Clause::Eq(p, _) => p,
        };
        if !USER_PROPS.iter().any(|p| p.eq_ignore_ascii_case(prop))
            && !prop.eq_ignore_ascii_case("id")
        {
            return Err(format!("unsupported property {prop}"));
        }
        clauses.push(clause);
        if rest.is_empty() {
            return Ok(clauses);
        }
        rest = rest
            .strip_prefix("or ")
            .or_else(|| rest.strip_prefix("OR "))
            .ok_or("only 'or' joins are supported")?
            .trim_start();
    }
}

fn literal(text: &str) -> Result<(String, &str), String> {
    let body = text.strip_prefix('\'').ok_or("expected a string literal")?;
    let mut out = String::new();
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\'' {
            if matches!(chars.peek(), Some((_, '\''))) {
                chars.next();
                out.push('\'');
                continue;
            }
            return Ok((out, &body[i + 1..]));
        }
        out.push(c);
    }
    Err("unterminated string literal".into())
}

fn prop_value(u: &User, prop: &str) -> Option<String> {
    match prop.to_ascii_lowercase().as_str() {
        "displayname" => Some(u.display_name.clone()),
        "givenname" => u.given_name.clone(),
        "surname" => u.surname.clone(),
        "mail" => u.mail.clone(),
        "userprincipalname" => Some(u.upn.clone()),
        "id" => Some(u.id.clone()),
        _ => None,
    }
}

/// `"displayName:ber" OR "mail:ber"`: word-prefix matches, as the directory's search does.
/// Clauses are quoted; `OR`/`AND` between them are operators, inside quotes they are text.
fn parse_search(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    loop {
        let body = rest
            .strip_prefix('"')
            .ok_or("a quoted \"property:term\" expected")?;
        let end = body.find('"').ok_or("unterminated quote")?;
        let (prop, term) = body[..end]
            .split_once(':')
            .ok_or("property:term expected")?;
        if !USER_PROPS
            .iter()
            .any(|p| p.eq_ignore_ascii_case(prop.trim()))
        {
            return Err(format!("unsupported property {prop}"));
        }
        out.push((prop.trim().to_string(), term.trim().to_lowercase()));
        rest = body[end + 1..].trim_start();
        if rest.is_empty() {
            return Ok(out);
        }
        let (op, after) = rest
            .split_once(char::is_whitespace)
            .ok_or("OR or AND expected")?;
        if !op.eq_ignore_ascii_case("OR") && !op.eq_ignore_ascii_case("AND") {
            return Err(format!("unexpected {op}"));
        }
        rest = after.trim_start();
    }
}

fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

fn list_users(s: &SimState, req: &Request, token: &AccessToken) -> Response {
    if !has_any(token, &["User.ReadBasic.All", "User.Read.All"]) {
        return req.error(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        );
    }
    if req.param("$search").is_some() && !req.consistency_eventual {
        return req.error(StatusCode::BAD_REQUEST, "Request_UnsupportedQuery", "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'");
    }
    let count = req
        .param("$count")
        .is_some_and(|c| c.eq_ignore_ascii_case("true"));
    if count && !req.consistency_eventual {
        return req.error(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            "$count is not currently supported.",
        );
    }
    let filter = match req.param("$filter").map(parse_filter).transpose() {
        Ok(f) => f,
        Err(e) => {
            return req.error(
                StatusCode::BAD_REQUEST,
                "Request_UnsupportedQuery",
                &format!("Unsupported or invalid query filter clause specified: {e}"),
            );
        }
    };
    let search = match req.param("$search").map(parse_search).transpose() {
        Ok(sr) => sr,
        Err(e) => {
            return req.error(
                StatusCode::BAD_REQUEST,
                "Request_UnsupportedQuery",
                &format!("Invalid search expression: {e}"),
            );
        }
    };
    let top = match req.param("$top").map(str::parse::<usize>) {
        None => 100,
        Some(Ok(n)) if (1..=999).contains(&n) => n,
        _ => {
            return req.error(
                StatusCode::BAD_REQUEST,
                "Request_BadRequest",
                "Invalid page size specified: '$top'. Must be between 1 and 999 inclusive.",
            );
        }
    };
    let mut matches: Vec<&User> = s
        .users
        .iter()
        // Personal accounts are not in the tenant's directory.
        .filter(|u| !u.personal)
        .filter(|u| {
            filter.as_ref().is_none_or(|clauses| {
                clauses.iter().any(|c| match c {
                    Clause::StartsWith(p, v) => prop_value(u, p)
                        .is_some_and(|x| x.to_lowercase().starts_with(&v.to_lowercase())),
                    Clause::Eq(p, v) => prop_value(u, p).is_some_and(|x| x.eq_ignore_ascii_case(v)),
                })
            })
        })
        .filter(|u| {
            search.as_ref().is_none_or(|terms| {
                terms.iter().any(|(p, term)| {
                    prop_value(u, p)
                        .is_some_and(|x| words(&x).any(|w| w.starts_with(term.as_str())))
                })
            })
        })
        .collect();
    matches.sort_by(|a, b| {
        a.display_name
            .to_lowercase()
            .cmp(&b.display_name.to_lowercase())
    });
    let offset = req
        .param("$skiptoken")
        .and_then(|t| URL_SAFE_NO_PAD.decode(t).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|t| t.strip_prefix("X'").and_then(|n| n.parse::<usize>().ok()))
        .unwrap_or(0);
    let select = req.param("$select").map(|s| {
        s.split(',')
            .map(|p| p.trim().to_string())
            .collect::<Vec<_>>()
    });
    let page: Vec<Value> = matches
        .iter()
        .skip(offset)
        .take(top)
        .map(|u| json::user(u, select.as_deref()))
        .collect();
    let context = match &select {
        Some(p) => format!("{GRAPH}/$metadata#users({})", p.join(",")),
        None => format!("{GRAPH}/$metadata#users"),
    };
    let mut body = json!({ "@odata.context": context });
    let obj = body.as_object_mut();
    if let Some(obj) = obj {
        if count {
            obj.insert("@odata.count".into(), json!(matches.len()));
        }
        if offset + top < matches.len() {
            let token = URL_SAFE_NO_PAD.encode(format!("X'{}", offset + top));
            obj.insert(
                "@odata.nextLink".into(),
                json!(req.link(&[("$skiptoken", token)])),
            );
        }
        obj.insert("value".into(), Value::Array(page));
    }
    axum::Json(body).into_response()
}

/// `translateExchangeIds` between the two REST forms (documented: "user:
/// translateExchangeIds", "convertIdResult"): delegated `User.ReadBasic.All` or higher, at most
/// 1000 ids of one mailbox, one result per id, a failed one with `errorDetails` instead of
/// `targetId`. The error code for an id that names nothing in the mailbox is not documented
/// (inferred: `ErrorItemNotFound`). The binary and EWS formats are not simulated.
fn translate_ids(s: &SimState, req: &Request, token: &AccessToken, user: &User) -> Response {
    // Personal accounts: User.Read for one's own mailbox (documented, same page).
    let any_user = has_any(
        token,
        &[
            "User.ReadBasic.All",
            "User.Read.All",
            "User.ReadWrite",
            "User.ReadWrite.All",
        ],
    );
    let own = user.id == token.user_id && has_any(token, &["User.Read"]);
    if !any_user && !own {
        return req.error(
            StatusCode::FORBIDDEN,
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again.",
        );
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Body {
        input_ids: Vec<String>,
        source_id_type: String,
        target_id_type: String,
    }
    let Ok(body) = serde_json::from_slice::<Body>(&req.body) else {
        return req.error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Invalid request body: inputIds, sourceIdType and targetIdType are required.",
        );
    };
    if body.input_ids.len() > 1000 {
        return req.error(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidParameter",
            "The maximum number of input ids is 1000.",
        );
    }
    let (Some(source), Some(target)) = (
        IdForm::from_exchange_format(&body.source_id_type),
        IdForm::from_exchange_format(&body.target_id_type),
    ) else {
        return req.error(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidParameter",
            "The simulator translates between restId and restImmutableEntryId only.",
        );
    };
    let value: Vec<Value> = body
        .input_ids
        .iter()
        .map(|id| {
            let found = s.find_item_as(id, source).filter(|(e, _)| {
                s.calendar(&e.calendar_id)
                    .is_some_and(|c| c.owner_id == user.id)
            });
            match found {
                Some((e, date)) => {
                    let key = match date {
                        None => e.id.clone(),
                        Some(d) => super::model::graph_id(&[&e.id, &d.to_string()]),
                    };
                    json!({ "sourceId": id, "targetId": target.render(&key, e.moves) })
                }
                None => json!({
                    "sourceId": id,
                    "errorDetails": { "code": "ErrorItemNotFound", "message": "The specified object was not found in the store." },
                }),
            }
        })
        .collect();
    axum::Json(json!({
        "@odata.context": format!("{GRAPH}/$metadata#Collection(microsoft.graph.convertIdResult)"),
        "value": value,
    }))
    .into_response()
}

// ---------------------------------------------------------------------------------------------
// Mailbox: calendars, events, views

fn mailbox(
    s: &mut SimState,
    req: &Request,
    token: &AccessToken,
    user: &User,
    seg: &[String],
    raw: &[String],
) -> Response {
    if !user.has_mailbox() {
        return req.error(
            StatusCode::NOT_FOUND,
            "MailboxNotEnabledForRESTAPI",
            "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
        );
    }
    let own = user.id == token.user_id;
    let app_only = super::state::is_app_reader(&token.user_id);
    // App-only: the application permission Calendars.Read(Write) reads every mailbox's
    // calendars (permission tables of the calendar APIs). Calendars.ReadBasic.All leaves out
    // bodies and is not modelled: refused here rather than answered in full.
    let calendar_scopes: &[&str] = if app_only {
        &["Calendars.Read", "Calendars.ReadWrite"]
    } else if own {
        &[
            "Calendars.Read",
            "Calendars.ReadWrite",
            "Calendars.Read.Shared",
            "Calendars.ReadWrite.Shared",
        ]
    } else {
        &["Calendars.Read.Shared", "Calendars.ReadWrite.Shared"]
    };
    let allowed = if app_only {
        s.app_may_read_calendars(token, &user.id)
    } else {
        has_any(token, calendar_scopes)
    };
    if !allowed {
        return req.error(StatusCode::FORBIDDEN, "ErrorAccessDenied", ACCESS_DENIED);
    }
    let strs: Vec<&str> = seg.iter().map(String::as_str).collect();
    let primary = match s.primary_calendar(&user.id) {
        Some(c) => c.clone(),
        None => return req.error(StatusCode::NOT_FOUND, "ErrorItemNotFound", NOT_FOUND),
    };
    let readable = |s: &SimState, c: &super::model::Calendar| s.may_read(&token.user_id, c);
    let calendar_by_id = |s: &SimState, id: &str| -> Option<super::model::Calendar> {
        let c = s.calendar(id)?;
        let listed = if own || app_only {
            s.calendars_of(&user.id).iter().any(|x| x.id == c.id)
        } else {
            c.id == primary.id
        };
        listed.then(|| c.clone())
    };
    match strs.as_slice() {
        ["calendar"] => {
            if !readable(s, &primary) {
                return req.error(StatusCode::FORBIDDEN, "ErrorAccessDenied", ACCESS_DENIED);
            }
            calendar_response(s, &primary, &token.user_id)
        }
        ["calendars"] => {
            if !own && !app_only {
                return req.error(StatusCode::FORBIDDEN, "ErrorAccessDenied", ACCESS_DENIED);
            }
            let cals: Vec<Value> = s
                .calendars_of(&user.id)
                .into_iter()
                .filter_map(|c| {
                    s.user(&c.owner_id)
                        .map(|o| json::calendar(c, o, &token.user_id))
                })
                .collect();
            axum::Json(json!({ "@odata.context": format!("{GRAPH}/$metadata#users('{}')/calendars", user.id), "value": cals })).into_response()
        }
        ["calendars", _] => match calendar_by_id(s, &raw[1]) {
            Some(c) if readable(s, &c) => calendar_response(s, &c, &token.user_id),
            Some(_) => req.error(StatusCode::FORBIDDEN, "ErrorAccessDenied", ACCESS_DENIED),
            None => req.error(StatusCode::NOT_FOUND, "ErrorItemNotFound", NOT_FOUND),
        },
        ["calendarview"] | ["calendar", "calendarview"] => {
            view(s, req, user, &primary, &token.user_id, false)
        }
        ["calendarview", "delta"] | ["calendar", "calendarview", "delta"] => {
            view(s, req, user, &primary, &token.user_id, true)
        }
        ["calendars", _, "calendarview"] => match calendar_by_id(s, &raw[1]) {
            Some(c) => view(s, req, user, &c, &token.user_id, false),
            None => req.error(StatusCode::NOT_FOUND, "ErrorItemNotFound", NOT_FOUND),
        },
        // The v1.0 reference ("event: delta") lists `calendarView/delta` on a user's primary
        // calendar only (`/me/calendarView/delta`, `/users/{id}/calendarView/delta`); delta on
        // another calendar is beta (microsoft-graph-docs #5194). Refused here, the stricter
        // reading; the answer's wording is inferred.
        ["calendars", _, "calendarview", "delta"] => match calendar_by_id(s, &raw[1]) {
            Some(c) if c.id == primary.id => view(s, req, user, &c, &token.user_id, true),
            Some(_) => req.error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Resource not found for the segment 'delta'.",
            ),
            None => req.error(StatusCode::NOT_FOUND, "ErrorItemNotFound", NOT_FOUND),
        },
        // An item of a calendar shared with the reader lives in its owner's mailbox: it is
        // found through that calendar (documented: `/me/calendars/{id}/events/{id}`), not
        // under the reader's own `/me/events`.
        ["events", _] => event_by_id(s, req, token, user, None, &raw[1]),
        ["events", _, "instances"] => event_instances(s, req, token, user, None, &raw[1]),
        ["calendars", _, "events", _] => match calendar_by_id(s, &raw[1]) {
            Some(c) => event_by_id(s, req, token, user, Some(&c), &raw[3]),
            None => req.error(StatusCode::NOT_FOUND, "ErrorItemNotFound", NOT_FOUND),
        },
        ["calendars", _, "events", _, "instances"] => match calendar_by_id(s, &raw[1]) {
            Some(c) => event_instances(s, req, token, user, Some(&c), &raw[3]),
            None => req.error(StatusCode::NOT_FOUND, "ErrorItemNotFound", NOT_FOUND),
        },
        [first, ..] => req.error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!("Resource not found for the segment '{first}'."),
        ),
        [] => req.error(StatusCode::BAD_REQUEST, "BadRequest", "Invalid request."),
    }
}

fn calendar_response(s: &SimState, c: &super::model::Calendar, reader: &str) -> Response {
    match s.user(&c.owner_id) {
        Some(owner) => {
            let mut body = json::calendar(c, owner, reader);
            if let Some(obj) = body.as_object_mut() {
                obj.insert(
                    "@odata.context".into(),
                    json!(format!(
                        "{GRAPH}/$metadata#users('{}')/calendars/$entity",
                        owner.id
                    )),
                );
            }
            axum::Json(body).into_response()
        }
        None => (StatusCode::NOT_FOUND, "").into_response(),
    }
}

/// An item of the mailbox that the reader may open by id (with its original date for an
/// occurrence, and the mailbox's owner), or Graph's refusal.
fn openable<'s>(
    s: &'s SimState,
    req: &Request,
    token: &AccessToken,
    user: &User,
    via: Option<&super::model::Calendar>,
    id: &str,
) -> Result<(&'s super::model::Event, Option<chrono::NaiveDate>, &'s User), Refusal> {
    let not_found = || Refusal::new(StatusCode::NOT_FOUND, "ErrorItemNotFound", NOT_FOUND);
    let Some((event, date)) = s.find_item_as(id, req.ids) else {
        return Err(not_found());
    };
    let Some(calendar) = s.calendar(&event.calendar_id) else {
        return Err(not_found());
    };
    let reachable = match via {
        // Through the calendar it is in: that calendar's own or shared with the user.
        Some(c) => c.id == calendar.id,
        None => calendar.owner_id == user.id,
    };
    if !reachable {
        return Err(not_found());
    }
    if !s.may_read(&token.user_id, calendar) {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "ErrorAccessDenied",
            ACCESS_DENIED,
        ));
    }
    // A reader without the right to view private items cannot open one by id, although
    // listing shows it (documented: "Get shared or delegated Outlook calendar and its events";
    // observed: 404 ErrorItemNotFound, microsoft-graph-docs #14494; graph-protocol §9.2).
    if matches!(event.sensitivity.as_str(), "private" | "confidential")
        && !s.may_view_private(&token.user_id, &calendar.owner_id)
    {
        return Err(not_found());
    }
    let Some(owner) = s.user(&calendar.owner_id) else {
        return Err(not_found());
    };
    Ok((event, date, owner))
}

/// `events/{id}/instances` (documented: "List instances"): the occurrences and exceptions of a
/// series master within `startDateTime`/`endDateTime` (required), full event objects, each
/// with its own `iCalUId`; `$select`, `$top` and `$skip` as in a calendar view. The same
/// rights as opening the master by id apply (inferred for private series: stricter).
fn event_instances(
    s: &SimState,
    req: &Request,
    token: &AccessToken,
    user: &User,
    via: Option<&super::model::Calendar>,
    id: &str,
) -> Response {
    let (event, date, owner) = match openable(s, req, token, user, via, id) {
        Ok(found) => found,
        Err(refused) => return req.refuse(refused),
    };
    let window = match required_window(req) {
        Ok(w) => w,
        Err(r) => return req.refuse(r),
    };
    let (top, skip) = match paging(req, 10) {
        Ok(p) => p,
        Err(r) => return req.refuse(r),
    };
    // Only a series master has instances (an occurrence's id names one of them: none here).
    let mut all = if date.is_none() && event.recurrence.is_some() {
        s.instances_of(event, window.0, window.1)
    } else {
        Vec::new()
    };
    if s.instances_cut_short {
        all.truncate(all.len() / 2);
    }
    let zone = req.prefer.get("outlook.timezone").cloned();
    let page: Vec<Value> = all
        .iter()
        .skip(skip)
        .take(top)
        .map(|i| json::event(event, Some(i), owner, zone.as_deref(), false, req.ids))
        .map(|v| select(v, req.param("$select")))
        .collect();
    let mut body =
        json!({ "@odata.context": format!("{GRAPH}/$metadata#Collection(event)"), "value": page });
    if skip + top < all.len()
        && let Some(obj) = body.as_object_mut()
    {
        obj.insert(
            "@odata.nextLink".into(),
            json!(req.link(&[("$skip", (skip + top).to_string())])),
        );
    }
    let mut response = axum::Json(body).into_response();
    preference_applied(&mut response, zone.as_deref(), None);
    response
}

fn event_by_id(
    s: &SimState,
    req: &Request,
    token: &AccessToken,
    user: &User,
    via: Option<&super::model::Calendar>,
    id: &str,
) -> Response {
    let (event, date, owner) = match openable(s, req, token, user, via, id) {
        Ok(found) => found,
        Err(refused) => return req.refuse(refused),
    };
    let zone = req.prefer.get("outlook.timezone").cloned();
    let text = req
        .prefer
        .get("outlook.body-content-type")
        .is_some_and(|v| v == "text");
    let body = match date {
        None => json::event(event, None, owner, zone.as_deref(), text, req.ids),
        Some(d) => {
            let far = DateTime::<Utc>::MAX_UTC;
            let from = DateTime::<Utc>::MIN_UTC;
            match event
                .instances(from, far)
                .into_iter()
                .find(|i| i.original_date == Some(d))
            {
                Some(i) => json::event(event, Some(&i), owner, zone.as_deref(), text, req.ids),
                None => return req.error(StatusCode::NOT_FOUND, "ErrorItemNotFound", NOT_FOUND),
            }
        }
    };
    let mut response = axum::Json(body).into_response();
    preference_applied(&mut response, zone.as_deref(), None);
    response
}

fn preference_applied(response: &mut Response, zone: Option<&str>, page: Option<usize>) {
    let mut applied = Vec::new();
    if let Some(z) = zone.filter(|z| super::tz::resolve(z).is_some()) {
        applied.push(format!("outlook.timezone=\"{z}\""));
    }
    if let Some(n) = page {
        applied.push(format!("odata.maxpagesize={n}"));
    }
    if !applied.is_empty()
        && let Ok(v) = HeaderValue::from_str(&applied.join(", "))
    {
        response.headers_mut().insert("preference-applied", v);
    }
}

/// OData `$select`: only the named properties (case-insensitive), plus `id` and the
/// annotations, which Graph always returns (documented: "Use query parameters", select). A
/// client that reads a property it did not select finds nothing.
fn select(item: Value, selected: Option<&str>) -> Value {
    let (Some(list), Value::Object(map)) = (selected, &item) else {
        return item;
    };
    let wanted: Vec<String> = list
        .split(',')
        .map(|p| p.trim().to_ascii_lowercase())
        .filter(|p| !p.is_empty())
        .collect();
    Value::Object(
        map.iter()
            .filter(|(k, _)| {
                k.starts_with('@') || k.as_str() == "id" || wanted.contains(&k.to_ascii_lowercase())
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

/// The longest range a calendar view may cover.
const MAX_VIEW_DAYS: i64 = 1825;

fn window(req: &Request) -> Result<Option<Window>, Refusal> {
    match (req.param("startDateTime"), req.param("endDateTime")) {
        (None, None) => Ok(None),
        (Some(a), Some(b)) => {
            let parse = |v: &str, name: &str| {
                json::instant_param(v).ok_or_else(|| {
                    Refusal::new(
                        StatusCode::BAD_REQUEST,
                        "ErrorInvalidParameter",
                        format!("The value '{v}' of parameter '{name}' is invalid."),
                    )
                })
            };
            let (start, end) = (parse(a, "StartDateTime")?, parse(b, "EndDateTime")?);
            // Observed (microsoft-graph-docs #6284): calendarView and its delta refuse a range
            // of more than 1825 days with this code and message.
            if end - start > chrono::Duration::days(MAX_VIEW_DAYS) {
                return Err(Refusal::new(
                    StatusCode::BAD_REQUEST,
                    "ErrorInvalidRequest",
                    format!(
                        "Your request can't be completed. The range between the start and end dates is greater than the allowed range. Maximum number of days: {MAX_VIEW_DAYS}"
                    ),
                ));
            }
            Ok(Some((start, end)))
        }
        _ => Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidParameter",
            "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.",
        )),
    }
}

/// A view's required `startDateTime`/`endDateTime`.
fn required_window(req: &Request) -> Result<Window, Refusal> {
    window(req)?.ok_or_else(|| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidParameter",
            "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.",
        )
    })
}

/// `$top` (1..=1000, `default` when absent) and `$skip` of a paged view.
fn paging(req: &Request, default: usize) -> Result<(usize, usize), Refusal> {
    let top = match req.param("$top").map(str::parse::<usize>) {
        None => default,
        Some(Ok(n)) if (1..=1000).contains(&n) => n,
        _ => {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "ErrorInvalidParameter",
                "The value of the parameter '$top' is invalid. It must be between 1 and 1000.",
            ));
        }
    };
    let skip = req
        .param("$skip")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    Ok((top, skip))
}

fn render_instance(
    s: &SimState,
    i: &Instance,
    zone: Option<&str>,
    text: bool,
    minimal_occurrences: bool,
    ids: IdForm,
) -> Option<Value> {
    let e = s.events.get(&i.event_id)?;
    let calendar = s.calendar(&e.calendar_id)?;
    let owner = s.user(&calendar.owner_id)?;
    if minimal_occurrences && i.kind == super::model::InstanceKind::Occurrence {
        return Some(json::occurrence_minimal(e, i, zone, ids));
    }
    let mut v = json::event(e, Some(i), owner, zone, text, ids);
    if minimal_occurrences && let Some(obj) = v.as_object_mut() {
        obj.insert("@odata.type".into(), json!("#microsoft.graph.event"));
    }
    Some(v)
}

fn view(
    s: &mut SimState,
    req: &Request,
    user: &User,
    calendar: &super::model::Calendar,
    reader: &str,
    delta: bool,
) -> Response {
    if !s.may_read(reader, calendar) {
        return req.error(StatusCode::FORBIDDEN, "ErrorAccessDenied", ACCESS_DENIED);
    }
    let zone = req.prefer.get("outlook.timezone").cloned();
    let text = req
        .prefer
        .get("outlook.body-content-type")
        .is_some_and(|v| v == "text");
    let max_page = req
        .prefer
        .get("odata.maxpagesize")
        .and_then(|v| v.parse::<usize>().ok());
    if delta {
        return delta_view(
            s,
            req,
            user,
            calendar,
            reader,
            zone.as_deref(),
            text,
            max_page,
        );
    }
    let window = match required_window(req) {
        Ok(w) => w,
        Err(r) => return req.refuse(r),
    };
    let (top, skip) = match paging(req, max_page.unwrap_or(10).clamp(1, 1000)) {
        Ok(p) => p,
        Err(r) => return req.refuse(r),
    };
    let mut all = s.instances(&calendar.id, window.0, window.1);
    if s.view_cut_short {
        s.view_cut_short = false;
        all.truncate(all.len() / 2);
    }
    let page: Vec<Value> = all
        .iter()
        .skip(skip)
        .take(top)
        .filter_map(|i| render_instance(s, i, zone.as_deref(), text, false, req.ids))
        .map(|v| select(v, req.param("$select")))
        .collect();
    let mut body = json!({ "@odata.context": format!("{GRAPH}/$metadata#users('{}')/calendarView", user.upn) });
    if let Some(obj) = body.as_object_mut() {
        obj.insert("value".into(), Value::Array(page));
        if skip + top < all.len() {
            obj.insert(
                "@odata.nextLink".into(),
                json!(req.link(&[("$skip", (skip + top).to_string())])),
            );
        }
        // `$count=true` is not documented for calendarView (the "count parameter" page names
        // directory objects and some Outlook collections): it is accepted and ignored, the
        // stricter case — a client cannot count on a count. `view_cut_short` ends one listing
        // early without a next link, as a list may.
    }
    let mut response = axum::Json(body).into_response();
    preference_applied(
        &mut response,
        zone.as_deref(),
        max_page
            .filter(|_| req.param("$top").is_none())
            .map(|n| n.clamp(1, 1000)),
    );
    response
}

/// An evicted or unknown delta token, as Outlook answers it (observed, microsoft-graph-docs
/// #2350 and contrib #7790/#7975; graph-protocol §9.3): 410, code `SyncStateNotFound`, the
/// asked generation and the generations still kept.
fn generation_gone(req: &Request, generation: u64, kept: &[u64]) -> Response {
    let highest = kept.iter().max().copied().unwrap_or(generation);
    let listed: String = kept.iter().map(|g| format!("[{g}]")).collect();
    req.error(
        StatusCode::GONE,
        "SyncStateNotFound",
        &format!(
            "The sync state generation is not found; generation={generation};[highest={highest}]{listed}."
        ),
    )
}

#[allow(clippy::too_many_arguments)]
fn delta_view(
    s: &mut SimState,
    req: &Request,
    user: &User,
    calendar: &super::model::Calendar,
    reader: &str,
    zone: Option<&str>,
    text: bool,
    max_page: Option<usize>,
) -> Response {
    let page_size = max_page.unwrap_or(10).clamp(1, 1000);
    let (round_id, offset) = if let Some(skip) = req.param("$skiptoken") {
        let decoded = URL_SAFE_NO_PAD
            .decode(skip)
            .ok()
            .and_then(|b| String::from_utf8(b).ok());
        let Some((round, offset)) = decoded.as_deref().and_then(|d| d.rsplit_once('|')) else {
            return generation_gone(req, 0, &s.delta_generations(&calendar.id));
        };
        let Ok(offset) = offset.parse::<usize>() else {
            return generation_gone(req, 0, &s.delta_generations(&calendar.id));
        };
        if s.delta_round(round).is_none() {
            return generation_gone(req, 0, &s.delta_generations(&calendar.id));
        }
        (round.to_string(), offset)
    } else if let Some(token) = req.param("$deltatoken").filter(|t| !t.is_empty()) {
        match s.delta_from_token(token) {
            Ok(r) => (r, 0),
            Err(_) => {
                let generation = super::delta::generation_of(token).unwrap_or(0);
                return generation_gone(req, generation, &s.delta_generations(&calendar.id));
            }
        }
    } else {
        let window = match window(req) {
            Ok(Some(w)) => w,
            Ok(None) => return req.error(StatusCode::BAD_REQUEST, "ErrorInvalidParameter", "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime."),
            Err(r) => return req.refuse(r),
        };
        (s.delta_initial(&calendar.id, window), 0)
    };
    let Some(round) = s.delta_round(&round_id).cloned() else {
        return generation_gone(req, 0, &s.delta_generations(&calendar.id));
    };
    // Render this page from the current data.
    let mut cache: HashMap<String, Vec<Instance>> = HashMap::new();
    let mut value = Vec::new();
    for item in round.items.iter().skip(offset).take(page_size) {
        match item {
            RoundItem::Removed { id, moves } => {
                value.push(json::removed(&req.ids.render(id, *moves)));
            }
            RoundItem::Master { event_id } => match s.events.get(event_id) {
                // A private series the reader may not open is not sent whole either
                // (inferred, the stricter case: the client must cope without it).
                Some(e)
                    if matches!(e.sensitivity.as_str(), "private" | "confidential")
                        && !s.may_view_private(reader, &calendar.owner_id) => {}
                Some(e) if !e.deleted => {
                    match s.calendar(&e.calendar_id).and_then(|c| s.user(&c.owner_id)) {
                        Some(owner) => value.push(json::event(e, None, owner, zone, text, req.ids)),
                        None => value.push(json::removed(&req.ids.render(event_id, e.moves))),
                    }
                }
                Some(e) => value.push(json::removed(&req.ids.render(event_id, e.moves))),
                None => {}
            },
            // A moved item's old REST id is gone; its immutable id is not.
            RoundItem::MovedAway { id, moves } => {
                if req.ids == IdForm::Rest {
                    value.push(json::removed(&req.ids.render(id, *moves)));
                }
            }
            RoundItem::Instance {
                event_id,
                instance_id,
                ..
            } => {
                let instances = cache.entry(event_id.clone()).or_insert_with(|| {
                    s.events
                        .get(event_id)
                        .map(|e| s.instances_of(e, round.window.0, round.window.1))
                        .unwrap_or_default()
                });
                let moves = s.events.get(event_id).map_or(0, |e| e.moves);
                let gone = || json::removed(&req.ids.render(instance_id, moves));
                match instances.iter().find(|i| &i.id == instance_id) {
                    Some(i) => match render_instance(s, i, zone, text, true, req.ids) {
                        Some(v) => value.push(v),
                        None => value.push(gone()),
                    },
                    None => value.push(gone()),
                }
            }
        }
    }
    let path_only = format!("{}{}", req.base, req.path);
    let mut body =
        json!({ "@odata.context": format!("{GRAPH}/$metadata#Collection(event)"), "value": value });
    let next = offset + page_size;
    if let Some(obj) = body.as_object_mut() {
        if next < round.items.len() {
            let skip = URL_SAFE_NO_PAD.encode(format!("{round_id}|{next}"));
            obj.insert(
                "@odata.nextLink".into(),
                json!(format!("{path_only}?$skiptoken={skip}")),
            );
        } else if let Some(token) = s.delta_finish(&round_id) {
            obj.insert(
                "@odata.deltaLink".into(),
                json!(format!("{path_only}?$deltatoken={token}")),
            );
        }
    }
    let _ = user;
    let mut response = axum::Json(body).into_response();
    preference_applied(&mut response, zone, max_page.map(|_| page_size));
    response
}

// ---------------------------------------------------------------------------------------------
// Organization

/// `GET /organization`: the tenant with its verified domains. Delegated least privilege is
/// `User.Read` (higher: Organization.Read.All, Directory.Read.All), documented in "Get
/// organization"; the `verifiedDomain` resource has `capabilities`, `isDefault`, `isInitial`,
/// `name`, `type` (documented). Personal accounts are "Not supported" (documented; the error
/// body is inferred, see above). The domains are the work accounts' address domains plus the
/// initial `*.onmicrosoft.com` one every tenant has (documented: "the initial domain").
fn organization(s: &SimState, req: &Request, token: &AccessToken) -> Response {
    if !has_any(
        token,
        &["User.Read", "Organization.Read.All", "Directory.Read.All"],
    ) {
        return req.error(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        );
    }
    let mut domains: Vec<String> = s
        .users
        .iter()
        .filter(|u| !u.personal)
        .filter_map(|u| u.address().rsplit_once('@').map(|(_, d)| d.to_lowercase()))
        .collect();
    domains.sort();
    domains.dedup();
    let initial = domains
        .first()
        .and_then(|d| d.split('.').next())
        .map(|label| format!("{label}.onmicrosoft.com"))
        .unwrap_or_else(|| "tenant.onmicrosoft.com".into());
    let mut verified: Vec<Value> = domains
        .iter()
        .enumerate()
        .map(|(i, d)| {
            json!({"capabilities": "Email, OfficeCommunicationsOnline", "isDefault": i == 0,
                             "isInitial": false, "name": d, "type": "Managed"})
        })
        .collect();
    verified.push(
        json!({"capabilities": "Email, OfficeCommunicationsOnline", "isDefault": false,
                         "isInitial": true, "name": initial, "type": "Managed"}),
    );
    axum::Json(json!({
        "@odata.context": format!("{GRAPH}/$metadata#organization"),
        "value": [{ "id": uuid::Uuid::new_v4().to_string(), "displayName": "Contoso", "verifiedDomains": verified }]
    }))
    .into_response()
}

// ---------------------------------------------------------------------------------------------
// Rooms

/// A room list: its name, its address, and its rooms with their index among all rooms.
type RoomListEntry<'a> = (&'a str, &'a str, Vec<(usize, &'a User)>);

/// All room mailboxes, in directory order (their index sets capacity and floor).
fn all_rooms(s: &SimState) -> Vec<&User> {
    s.users
        .iter()
        .filter(|u| u.kind == MailboxKind::Room && !u.personal)
        .collect()
}

/// The tenant's room lists as configured now (Exchange room lists are distribution groups of
/// rooms, addressed by their email address: documented, "List places" with
/// `microsoft.graph.roomlist`); their members change when an admin edits a list.
fn room_lists(s: &SimState) -> Vec<RoomListEntry<'_>> {
    let rooms = all_rooms(s);
    s.room_lists
        .iter()
        .map(|l| {
            let members = rooms
                .iter()
                .enumerate()
                .filter(|(_, r)| l.members.contains(&r.id))
                .map(|(i, r)| (i, *r))
                .collect();
            (l.name.as_str(), l.address.as_str(), members)
        })
        .collect()
}

/// A room resource as "List places" documents it (all properties, nulls where unset).
fn room_json(i: usize, r: &User, building: Option<&str>) -> Value {
    json!({
        "id": r.id,
        "emailAddress": r.address(),
        "displayName": r.display_name,
        "address": { "street": "Musterstraße 1", "city": "Berlin", "state": "BE", "postalCode": "10115", "countryOrRegion": "DE" },
        "geoCoordinates": null,
        "phone": null,
        "nickname": r.display_name,
        "label": null,
        "capacity": 4 + (i % 5) * 4,
        "building": building,
        "floorLabel": null,
        "floorNumber": (i % 4) as i64,
        "isManaged": true,
        "isWheelChairAccessible": i.is_multiple_of(2),
        "bookingType": "standard",
        "tags": [],
        "audioDeviceName": null,
        "videoDeviceName": null,
        "displayDeviceName": null,
    })
}

/// A page of `items` after `$skip`, at most `$top` (default 100), the way `/places` answers:
/// no `@odata.nextLink` however many follow (observed: microsoft-graph-docs #6427, #9923,
/// #9542, #18604, microsoft-graph-docs-contrib #341, msgraph-sdk-dotnet #2190,
/// msgraph-sdk-powershell #2260), `@odata.count` with `$count=true`. `s.places_quirk` makes a
/// read uneven, as a directory that changes while it is read is: a short page once, or the
/// order shifted by one between requests.
fn place_page(s: &mut SimState, req: &Request, context: &str, mut items: Vec<Value>) -> Response {
    let top = req
        .param("$top")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(100)
        .clamp(1, 999);
    let skip = req
        .param("$skip")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let total = items.len();
    let mut take = top;
    match s.places_quirk {
        Some(super::state::PlacesQuirk::ShortPage) => {
            take = top / 2;
            s.places_quirk = None;
        }
        Some(super::state::PlacesQuirk::Reorder) => {
            s.places_shift = (s.places_shift + 1) % total.max(1);
            items.rotate_right(s.places_shift);
        }
        None => {}
    }
    let value: Vec<Value> = items.into_iter().skip(skip).take(take).collect();
    let mut body =
        json!({ "@odata.context": format!("{GRAPH}/$metadata#{context}"), "value": value });
    if req
        .param("$count")
        .is_some_and(|c| c.eq_ignore_ascii_case("true"))
        && let Some(obj) = body.as_object_mut()
    {
        obj.insert("@odata.count".into(), json!(total));
    }
    axum::Json(body).into_response()
}

fn rooms(s: &mut SimState, req: &Request, token: &AccessToken) -> Response {
    if !has_any(token, &["Place.Read.All"]) {
        return req.error(StatusCode::FORBIDDEN, "ErrorAccessDenied", ACCESS_DENIED);
    }
    // Every room, also one in no list; its building is its (first) list's name.
    let items = all_rooms(s)
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let building = s
                .room_lists
                .iter()
                .find(|l| l.members.contains(&r.id))
                .map(|l| l.name.as_str());
            room_json(i, r, building)
        })
        .collect();
    place_page(s, req, "places/microsoft.graph.room", items)
}

/// `GET /places/microsoft.graph.roomlist` (documented; roomList: id, displayName,
/// emailAddress, address, geoCoordinates, phone).
fn roomlists(s: &mut SimState, req: &Request, token: &AccessToken) -> Response {
    if !has_any(token, &["Place.Read.All"]) {
        return req.error(StatusCode::FORBIDDEN, "ErrorAccessDenied", ACCESS_DENIED);
    }
    let items = room_lists(s)
        .into_iter()
        .enumerate()
        .map(|(n, (name, email, _))| {
            json!({
                "id": format!("5b1c6a2e-0d3f-4a8e-9c1b-{:012}", n + 1),
                "displayName": name,
                "emailAddress": email,
                "address": { "street": "Musterstraße 1", "city": "Berlin", "state": "BE", "postalCode": "10115", "countryOrRegion": "DE" },
                "geoCoordinates": null,
                "phone": null,
            })
        })
        .collect();
    place_page(s, req, "places/microsoft.graph.roomList", items)
}

/// `GET /places/{room list email}/microsoft.graph.roomlist/rooms` (documented: the room list is
/// addressed by its email address). An unknown list: 404 `ErrorItemNotFound` (inferred).
fn roomlist_rooms(s: &mut SimState, req: &Request, token: &AccessToken, email: &str) -> Response {
    if !has_any(token, &["Place.Read.All"]) {
        return req.error(StatusCode::FORBIDDEN, "ErrorAccessDenied", ACCESS_DENIED);
    }
    let Some((name, _, rooms)) = room_lists(s)
        .into_iter()
        .find(|(_, e, _)| e.eq_ignore_ascii_case(email))
    else {
        return req.error(
            StatusCode::NOT_FOUND,
            "ErrorItemNotFound",
            "The specified object was not found in the store.",
        );
    };
    let items = rooms
        .into_iter()
        .map(|(i, r)| room_json(i, r, Some(name)))
        .collect();
    place_page(s, req, "places/microsoft.graph.room", items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odata_filter_with_escaped_quotes() {
        let f = parse_filter("startswith(displayName,'O''Neill') or startswith(mail,'o''neill')")
            .expect("parses");
        assert_eq!(
            f[0],
            Clause::StartsWith("displayName".into(), "O'Neill".into())
        );
        assert_eq!(f.len(), 2);
        assert!(parse_filter("startswith(displayName,'x') and 1 eq 1").is_err());
        assert!(parse_filter("startswith(password,'x')").is_err());
        assert!(parse_filter("startswith(displayName,'x").is_err());
        let eq = parse_filter("mail eq 'raum.berlin@contoso.example'").expect("eq");
        assert_eq!(
            eq[0],
            Clause::Eq("mail".into(), "raum.berlin@contoso.example".into())
        );
    }

    #[test]
    fn search_is_word_prefix() {
        let terms = parse_search("\"displayName:ber\" OR \"mail:ber\"").expect("parses");
        assert_eq!(terms.len(), 2);
        let literal = parse_search("\"displayName:x or y\" OR \"mail:a and b\"").expect("parses");
        assert_eq!(literal[0].1, "x or y");
        assert!(parse_search("\"displayName:x").is_err());
        let w: Vec<String> = words("Raum Berlin").collect();
        assert!(w.iter().any(|x| x.starts_with("ber")));
        assert!(!w.iter().any(|x| x.starts_with("erlin")));
    }
}
