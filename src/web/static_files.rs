//! Static assets, compiled into the binary (an intranet install must not depend on a CDN or on
//! the working directory). URLs carry a content hash, so they can be cached for a year.

use std::sync::LazyLock;

use axum::extract::{Path, Query};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../static/app.css"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../static/app.js"),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("../../static/favicon.svg"),
    },
];

static VERSIONS: LazyLock<Vec<(&'static str, String)>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| (a.name, hex::encode(&Sha256::digest(a.body)[..6])))
        .collect()
});

/// The content hash of an asset, used as `?v=` in its URL.
pub fn version(name: &str) -> &'static str {
    VERSIONS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("0", |(_, v)| v.as_str())
}

#[derive(serde::Deserialize)]
pub struct VersionQuery {
    v: Option<String>,
}

pub async fn serve(Path(name): Path<String>, Query(q): Query<VersionQuery>) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let cache = if q.v.as_deref() == Some(version(asset.name)) {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=300"
    };
    let mut response = asset.body.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}
