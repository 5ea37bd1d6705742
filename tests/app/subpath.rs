use datapump::storage::admins::Role;
use reqwest::StatusCode;

use crate::common::{Backend, Client, Options, TestApp};

fn attribute_values<'a>(html: &'a str, attr: &str) -> Vec<&'a str> {
    let marker = format!("{attr}=\"");
    html.match_indices(&marker)
        .filter_map(|(i, _)| {
            let rest = &html[i + marker.len()..];
            rest.split('"').next()
        })
        .collect()
}

#[tokio::test]
async fn sub_path_prefixes_links_redirects_and_cookies() {
    let options = Options {
        prefix: "/datapump",
        ..Options::default()
    };
    let app = TestApp::spawn_with(Backend::Sqlite, options).await;
    app.create_admin("anna", Role::Admin).await;
    let client = app.client(); // base includes /datapump

    let root = client.get("/").await;
    assert_eq!(root.status, StatusCode::SEE_OTHER);
    assert_eq!(root.location(), Some("/datapump/login?next=%2F"));

    // The first page view sets the visitor's CSRF cookie, on the sub-path.
    let cookie = root
        .headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(
        cookie.contains("datapump_csrf=") && cookie.contains("Path=/datapump"),
        "{cookie}"
    );
    let login = client.get("/login").await;
    assert_eq!(login.status, StatusCode::OK);
    for value in attribute_values(&login.body, "href")
        .into_iter()
        .chain(attribute_values(&login.body, "action"))
        .chain(attribute_values(&login.body, "src"))
    {
        assert!(value.starts_with("/datapump/"), "unprefixed link {value}");
    }

    let signed_in = client.login("anna", crate::common::PASSWORD).await;
    assert_eq!(signed_in.location(), Some("/datapump/"));
    let cookie = signed_in
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("datapump_session="))
        .unwrap_or("");
    assert!(cookie.contains("Path=/datapump"), "{cookie}");
    let dashboard = client.get("/").await;
    assert_eq!(dashboard.status, StatusCode::OK);
    for value in attribute_values(&dashboard.body, "href")
        .into_iter()
        .chain(attribute_values(&dashboard.body, "action"))
    {
        assert!(value.starts_with("/datapump/"), "unprefixed link {value}");
    }
    let css = client.get("/static/app.css").await;
    assert_eq!(css.status, StatusCode::OK);

    // A proxy that strips the prefix reaches the same app.
    let stripped = Client::new(&app.origin);
    assert_eq!(stripped.get("/login").await.status, StatusCode::OK);
    assert_eq!(stripped.get("/healthz").await.status, StatusCode::OK);
    app.stop().await;
}
