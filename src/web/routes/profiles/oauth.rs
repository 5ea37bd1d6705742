//! Authorizing a delegated profile: the authorization-code flow with PKCE, finished at
//! `/callback`, `/callback/{id}`, the root address or from an address the admin pastes.

#[allow(clippy::wildcard_imports)]
use super::*;

/// "Test": starts the authorization-code flow with PKCE and sends the browser to Microsoft.
pub async fn authorize(
    State(state): State<AppState>,
    session: Session,
    actor: Actor,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    let started = state.authorizations.start(id, None, &actor).await?;
    let mut pending: Vec<Pending> = session.get(PENDING_KEY).await?.unwrap_or_default();
    pending.push(Pending {
        hash: started.state_hash,
        profile_id: id,
    });
    let keep = pending.len().saturating_sub(5);
    pending.drain(..keep);
    session.insert(PENDING_KEY, pending).await?;
    Ok(Redirect::to(&started.url).into_response())
}

/// The parameters Microsoft sends back to the redirect URI.
#[derive(Debug, Default, Deserialize)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// RFC 9207's issuer identifier, when the identity provider sends one.
    pub iss: Option<String>,
}

impl CallbackParams {
    pub fn is_callback(&self) -> bool {
        self.state.is_some() || self.code.is_some() || self.error.is_some()
    }

    fn from_map(map: &HashMap<String, String>) -> Self {
        Self {
            code: map.get("code").cloned(),
            state: map.get("state").cloned(),
            error: map.get("error").cloned(),
            error_description: map.get("error_description").cloned(),
            iss: map.get("iss").cloned(),
        }
    }
}

pub async fn callback(
    State(state): State<AppState>,
    session: Session,
    SignedIn(me): SignedIn,
    p: Page,
    actor: Actor,
    axum::extract::Query(params): axum::extract::Query<CallbackParams>,
) -> WebResult<Response> {
    answered(&state, &session, &me, p, actor, params, None).await
}

/// A profile's own redirect path, `/callback/{id}`: only that profile's answers are taken.
pub async fn profile_callback(
    State(state): State<AppState>,
    session: Session,
    SignedIn(me): SignedIn,
    p: Page,
    actor: Actor,
    Path(id): Path<i64>,
    axum::extract::Query(params): axum::extract::Query<CallbackParams>,
) -> WebResult<Response> {
    answered(&state, &session, &me, p, actor, params, Some(id)).await
}

async fn answered(
    state: &AppState,
    session: &Session,
    me: &crate::web::auth::CurrentAdmin,
    p: Page,
    actor: Actor,
    params: CallbackParams,
    path_profile: Option<i64>,
) -> WebResult<Response> {
    let mut response = finish(state, session, me, p, actor, params, path_profile).await?;
    // The address holds the authorization code: the next page must not pass it on.
    response.headers_mut().insert(
        axum::http::header::REFERRER_POLICY,
        axum::http::HeaderValue::from_static("no-referrer"),
    );
    Ok(response)
}

/// Completes an authorization from its callback parameters: the state must belong to this
/// browser session; the authorization service checks the rest and stores the result.
pub async fn finish(
    state: &AppState,
    session: &Session,
    me: &crate::web::auth::CurrentAdmin,
    p: Page,
    actor: Actor,
    params: CallbackParams,
    path_profile: Option<i64>,
) -> WebResult<Response> {
    if me.role != crate::storage::admins::Role::Admin {
        return Err(WebError::Forbidden);
    }
    let Some(raw_state) = params.state.as_deref().filter(|s| !s.is_empty()) else {
        return Err(WebError::BadRequest("oauth-state-missing"));
    };
    let hash = crypto::token_hash(raw_state);
    let mut pending: Vec<Pending> = session.get(PENDING_KEY).await?.unwrap_or_default();
    let Some(position) = pending.iter().position(|x| x.hash == hash) else {
        tracing::warn!("authorization callback with a state this session did not start");
        return Err(WebError::BadRequest("oauth-state-unknown"));
    };
    let reply = match (params.error, params.code) {
        (Some(error), _) => Reply::Error {
            error,
            description: params.error_description,
        },
        (None, code) => Reply::Code(code.unwrap_or_default()),
    };
    let arrival = Arrival {
        path_profile,
        issuer: params.iss,
    };
    let completion = state
        .authorizations
        .complete(&hash, reply, &arrival, &actor)
        .await;
    if !matches!(
        completion,
        Err(AuthorizeError::StateUnknown | AuthorizeError::StateReused)
    ) {
        pending.remove(position);
        session.insert(PENDING_KEY, pending).await?;
    }
    match completion? {
        Completion::Authorized(result) => {
            let target = format!("/profiles/{}", result.profile_id);
            session.insert(RESULT_KEY, *result).await?;
            Ok(p.redirect(&target))
        }
        Completion::Refused {
            profile_id,
            key,
            code,
        } => {
            flash_args(session, FlashKind::Error, key, &[("code", &code)]).await?;
            Ok(p.redirect(&format!("/profiles/{profile_id}")))
        }
        Completion::ExchangeFailed {
            profile_id,
            code,
            help_key,
        } => {
            flash_args(
                session,
                FlashKind::Error,
                "oauth-exchange-failed",
                &[("code", &code)],
            )
            .await?;
            flash(session, FlashKind::Info, help_key).await?;
            Ok(p.redirect(&format!("/profiles/{profile_id}")))
        }
    }
}

#[derive(Deserialize)]
pub struct PasteForm {
    #[serde(default)]
    address: String,
}

/// Finishes an authorization from the address the browser ended up on (when the registered
/// redirect URI is not reachable from the admin's browser, e.g. the guide's localhost).
pub async fn complete_pasted(
    State(state): State<AppState>,
    session: Session,
    SignedIn(me): SignedIn,
    p: Page,
    actor: Actor,
    Path(id): Path<i64>,
    Form(f): Form<PasteForm>,
) -> WebResult<Response> {
    let raw = f.address.trim();
    let query = match url::Url::parse(raw) {
        Ok(u) => u.query().unwrap_or("").to_string(),
        Err(_) => raw.trim_start_matches('?').to_string(),
    };
    let map: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let params = CallbackParams::from_map(&map);
    if params.state.is_none() || (params.code.is_none() && params.error.is_none()) {
        return show_page(
            &state,
            &session,
            p,
            id,
            true,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    finish(&state, &session, &me, p, actor, params, None).await
}
