//! Route table. Each feature module exposes its handlers; access is declared here, in one list.

pub mod account;
pub mod admins;
pub mod api_tokens;
pub mod audit;
pub mod connect;
pub mod dashboard;
pub mod domains;
pub mod health;
pub mod metrics;
pub mod profiles;
pub mod room_lists;
pub mod rooms;
pub mod session;
pub mod subscription_list;
pub mod subscriptions;
pub mod webhooks;

use askama::Template;
use axum::http::Method;
use axum::routing::{get, post};

use super::Routes;
use axum::extract::{Query, State};
use axum::response::Response;
use tower_sessions::Session;

use super::auth::{Access, Actor, SignedIn};
use super::error::WebResult;
use super::page::Page;
use super::state::AppState;

pub(crate) fn register(r: Routes) -> Routes {
    use Access::*;
    use Method as M;
    r.add(M::GET, "/login", Public, get(session::login_form))
        .add(M::POST, "/login", Public, post(session::login))
        .add(M::GET, "/setup", Public, get(session::setup_form))
        .add(M::POST, "/setup", Public, post(session::setup))
        .add(M::POST, "/language", Public, post(session::set_language))
        .add(M::POST, "/logout", SignedIn, post(session::logout))
        .add(M::GET, "/", Viewer, get(root))
        .add(M::GET, "/account", SignedIn, get(account::show))
        .add(M::GET, "/reauth", SignedIn, get(account::reauth_form))
        .add(M::POST, "/reauth", SignedIn, post(account::reauth))
        .add(
            M::POST,
            "/account/password",
            SignedIn,
            post(account::change_password),
        )
        .add(
            M::POST,
            "/account/time-zone",
            SignedIn,
            post(account::set_time_zone),
        )
        .add(M::GET, "/admins", Viewer, get(admins::list))
        .add(M::GET, "/admins/new", Recent, get(admins::new_form))
        .add(M::POST, "/admins", Recent, post(admins::create))
        .add(M::GET, "/admins/{id}", Viewer, get(admins::show))
        .add(M::POST, "/admins/{id}", Recent, post(admins::update))
        .add(
            M::POST,
            "/admins/{id}/password",
            Recent,
            post(admins::reset_password),
        )
        .add(
            M::POST,
            "/admins/{id}/sessions/end",
            Admin,
            post(admins::end_sessions),
        )
        .add(M::GET, "/audit", Viewer, get(audit::list))
        .add(M::GET, "/api-tokens", Viewer, get(api_tokens::list))
        .add(M::POST, "/api-tokens", Recent, post(api_tokens::create))
        .add(
            M::POST,
            "/api-tokens/{id}/revoke",
            Admin,
            post(api_tokens::revoke),
        )
        .add(
            M::GET,
            "/api-tokens/{id}/webhook",
            Viewer,
            get(webhooks::show),
        )
        .add(
            M::POST,
            "/api-tokens/{id}/webhook",
            Recent,
            post(webhooks::save),
        )
        .add(
            M::POST,
            "/api-tokens/{id}/webhook/secret",
            Recent,
            post(webhooks::replace_secret),
        )
        .add(
            M::POST,
            "/api-tokens/{id}/webhook/retry",
            Admin,
            post(webhooks::retry),
        )
        .add(
            M::POST,
            "/api-tokens/{id}/webhook/delete",
            Admin,
            post(webhooks::delete),
        )
        .add(M::GET, "/internal-domains", Viewer, get(domains::show))
        .add(M::POST, "/internal-domains", Admin, post(domains::save))
        .add(
            M::POST,
            "/internal-domains/refresh",
            Admin,
            post(domains::refresh),
        )
        .add(M::GET, "/room-lists", Viewer, get(room_lists::list))
        .add(
            M::POST,
            "/room-lists/{id}/check",
            Admin,
            post(room_lists::check),
        )
        .add(
            M::POST,
            "/room-lists/{id}/delete",
            Admin,
            post(room_lists::delete),
        )
        .add(
            M::POST,
            "/profiles/{id}/room-lists",
            Admin,
            post(room_lists::subscribe),
        )
        .add(M::GET, "/rooms", Viewer, get(rooms::list))
        .add(M::POST, "/rooms/refresh", Admin, post(rooms::refresh))
        .add(M::GET, "/rooms/{id}", Viewer, get(rooms::edit_form))
        .add(M::POST, "/rooms/{id}", Admin, post(rooms::save))
        .add(M::POST, "/rooms/{id}/reset", Admin, post(rooms::reset))
        .add(M::GET, "/profiles", Viewer, get(profiles::list))
        .add(M::GET, "/profiles/new", Recent, get(profiles::new_form))
        .add(M::POST, "/profiles", Recent, post(profiles::create))
        .add(M::GET, "/status.json", Viewer, get(health::status))
        .add(M::GET, "/profiles/{id}", Viewer, get(profiles::show))
        .add(M::POST, "/profiles/{id}", Recent, post(profiles::update))
        .add(
            M::GET,
            "/profiles/{id}/edit",
            Recent,
            get(profiles::edit_form),
        )
        .add(
            M::GET,
            "/profiles/{id}/secret",
            Recent,
            get(profiles::secret_form),
        )
        .add(
            M::POST,
            "/profiles/{id}/secret",
            Recent,
            post(profiles::replace_secret),
        )
        .add(
            M::GET,
            "/profiles/{id}/certificate.pem",
            Viewer,
            get(profiles::download),
        )
        .add(
            M::POST,
            "/profiles/{id}/certificate",
            Recent,
            post(profiles::upload),
        )
        .add(
            M::POST,
            "/profiles/{id}/certificate/generate",
            Recent,
            post(profiles::regenerate),
        )
        .add(
            M::GET,
            "/profiles/{id}/delete",
            Recent,
            get(profiles::delete_form),
        )
        .add(
            M::POST,
            "/profiles/{id}/delete",
            Recent,
            post(profiles::delete),
        )
        .add(
            M::POST,
            "/profiles/{id}/authorize",
            Recent,
            post(profiles::authorize),
        )
        .add(
            M::POST,
            "/profiles/{id}/complete",
            Recent,
            post(profiles::complete_pasted),
        )
        .add(
            M::POST,
            "/profiles/{id}/retry",
            Admin,
            post(profiles::retry),
        )
        .add(
            M::POST,
            "/profiles/{id}/scope-check",
            Admin,
            post(profiles::scope_check),
        )
        .add(
            M::POST,
            "/profiles/{id}/disconnect",
            Recent,
            post(profiles::disconnect),
        )
        .add(M::GET, "/callback", Admin, get(profiles::callback))
        .add(
            M::GET,
            "/callback/{id}",
            Admin,
            get(profiles::profile_callback),
        )
        // Searching the directory and previewing any mailbox act with the profile's rights:
        // admins only (issue 30, item 12); viewers see what is stored.
        .add(M::GET, "/profiles/{id}/connect", Admin, get(connect::show))
        .add(
            M::POST,
            "/profiles/{id}/subscriptions",
            Admin,
            post(connect::subscribe),
        )
        .add(
            M::POST,
            "/profiles/{id}/subscriptions/bulk",
            Admin,
            post(connect::bulk::subscribe),
        )
        .add(
            M::GET,
            "/subscriptions",
            Viewer,
            get(subscription_list::list),
        )
        .add(
            M::POST,
            "/subscriptions/bulk",
            Admin,
            post(subscription_list::bulk),
        )
        .add(
            M::GET,
            "/subscriptions/{id}",
            Viewer,
            get(subscriptions::show),
        )
        .add(
            M::POST,
            "/subscriptions/{id}",
            Admin,
            post(subscriptions::update),
        )
        .add(
            M::POST,
            "/subscriptions/{id}/toggle",
            Admin,
            post(subscriptions::toggle),
        )
        .add(
            M::POST,
            "/subscriptions/{id}/sync",
            Admin,
            post(subscriptions::sync_now),
        )
        .add(
            M::POST,
            "/subscriptions/{id}/feed",
            Admin,
            post(subscriptions::feeds::change),
        )
        .add(
            M::GET,
            "/subscriptions/{id}/delete",
            Admin,
            get(subscriptions::delete_form),
        )
        .add(
            M::POST,
            "/subscriptions/{id}/delete",
            Admin,
            post(subscriptions::delete),
        )
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorTemplate {
    pub p: Page,
    pub status: u16,
    pub title_key: &'static str,
    pub message_key: &'static str,
}

/// `/`: the dashboard; also the redirect target when an app registration uses the root address
/// (`http://localhost:8000`, as the setup guide registers it): then it completes the
/// authorization exactly like `/callback`.
async fn root(
    State(state): State<AppState>,
    session: Session,
    SignedIn(me): SignedIn,
    p: Page,
    actor: Actor,
    Query(callback): Query<profiles::CallbackParams>,
) -> WebResult<Response> {
    if callback.is_callback() {
        return profiles::finish(&state, &session, &me, p, actor, callback, None).await;
    }
    dashboard::show(&state, p).await
}
