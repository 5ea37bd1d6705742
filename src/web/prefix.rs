//! Sub-path deployment: with a public URL such as `https://intranet.example/datapump`, requests
//! arrive either with the prefix (proxy passes it through) or without it (proxy strips it). Both
//! work: the prefix is removed before routing, so routes are always declared at the root.

use axum::extract::Request;
use axum::http::Uri;

/// Removes `prefix` from the request path when present. Runs before routing.
pub fn strip(prefix: &str, mut request: Request) -> Request {
    if prefix.is_empty() {
        return request;
    }
    let path = request.uri().path();
    let rest = if path == prefix {
        Some("/")
    } else {
        path.strip_prefix(prefix).filter(|r| r.starts_with('/'))
    };
    if let Some(rest) = rest {
        let pq = match request.uri().query() {
            Some(q) => format!("{rest}?{q}"),
            None => rest.to_string(),
        };
        let mut parts = request.uri().clone().into_parts();
        if let Ok(p) = pq.parse() {
            parts.path_and_query = Some(p);
            if let Ok(uri) = Uri::from_parts(parts) {
                *request.uri_mut() = uri;
            }
        }
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn path_after(prefix: &str, uri: &str) -> String {
        let req = Request::builder()
            .uri(uri)
            .body(Body::empty())
            .expect("req");
        strip(prefix, req).uri().to_string()
    }

    #[test]
    fn strips_only_a_whole_segment() {
        assert_eq!(path_after("/datapump", "/datapump/login?x=1"), "/login?x=1");
        assert_eq!(path_after("/datapump", "/datapump"), "/");
        assert_eq!(path_after("/datapump", "/login"), "/login");
        assert_eq!(
            path_after("/datapump", "/datapumpx/login"),
            "/datapumpx/login"
        );
        assert_eq!(path_after("", "/login"), "/login");
    }
}
