//! Typed Graph calls. Shapes follow Microsoft's documented JSON (`user`, `calendar`, collections
//! with `@odata.nextLink`).

use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::Endpoints;
use super::error::GraphError;
use super::oauth::describe;

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
pub struct EmailAddress {
    pub name: Option<String>,
    pub address: Option<String>,
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

/// Seconds from `Retry-After`, which Graph sends as a (possibly fractional) number.
pub fn retry_after(headers: &HeaderMap) -> Option<f64> {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
}

/// Graph calls for one access token.
pub struct Graph<'a> {
    pub http: &'a reqwest::Client,
    pub endpoints: &'a Endpoints,
    pub token: &'a str,
}

impl Graph<'_> {
    fn check_link(&self, url: &str) -> Result<(), GraphError> {
        // Only ever send the token to the configured Graph host.
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

    pub async fn get<T: DeserializeOwned>(
        &self,
        url: &str,
        headers: &[(&str, &str)],
    ) -> Result<T, GraphError> {
        self.check_link(url)?;
        let mut request = self.http.get(url).bearer_auth(self.token);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = request
            .send()
            .await
            .map_err(|e| GraphError::Network(describe(&e)))?;
        let status = response.status();
        let retry = retry_after(response.headers());
        let bytes = response
            .bytes()
            .await
            .map_err(|e| GraphError::Network(describe(&e)))?;
        if !status.is_success() {
            let (code, message) = serde_json::from_slice::<ErrorBody>(&bytes)
                .map(|b| (b.error.code, b.error.message))
                .unwrap_or_else(|_| (format!("HTTP{}", status.as_u16()), String::new()));
            return Err(GraphError::Api {
                status: status.as_u16(),
                code,
                message,
                retry_after: retry,
            });
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
