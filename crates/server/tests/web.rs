//! The web app is served at `/` with client-side-route fallback to `index.html`, from
//! `HUSH_WEB_DIR` or from files held in memory (the copy built into the binary with the
//! `embed-web` feature), under the same caching and security headers; unknown API routes
//! still answer JSON errors.

mod common;

use common::TestApp;
use hush_server::web::embedded::Embedded;
use hush_server::web::{WebSource, router};
use reqwest::header::{ETAG, IF_NONE_MATCH};

const INDEX: &str = "<!doctype html><title>Hush</title>";
const SCRIPT: &str = "console.log('hush')";

/// What every web source must do, checked over HTTP at `base`.
async fn serves_by_the_rules(http: &reqwest::Client, base: &str) {
    let get = |path: &str| http.get(format!("{base}{path}")).send();
    let index = get("/").await.unwrap();
    assert_eq!(index.status(), 200);
    assert_eq!(index.headers()["cache-control"], "no-cache");
    assert!(index.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let csp = index.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'self' 'wasm-unsafe-eval'") && !csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(index.headers()["x-content-type-options"], "nosniff");
    assert_eq!(index.headers()["x-frame-options"], "DENY");
    let js = get("/assets/app-1234.js").await.unwrap();
    assert_eq!(js.status(), 200);
    assert_eq!(js.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert!(js.headers()["content-type"].to_str().unwrap().contains("javascript"));
    assert_eq!(js.text().await.unwrap(), SCRIPT);
    assert!(get("/").await.unwrap().text().await.unwrap().contains("<title>Hush</title>"));
    let missing = get("/assets/gone-0000.js").await.unwrap();
    assert_eq!((missing.status().as_u16(), missing.headers()["cache-control"].to_str().unwrap()), (404, "no-cache"));
    let route = get("/chats/some-friend").await.unwrap();
    assert_eq!(route.status(), 200);
    assert!(route.text().await.unwrap().contains("<title>Hush</title>"));
}

#[tokio::test]
async fn serves_the_web_app_from_a_directory() {
    let web = tempfile::tempdir().unwrap();
    std::fs::write(web.path().join("index.html"), INDEX).unwrap();
    std::fs::create_dir(web.path().join("assets")).unwrap();
    std::fs::write(web.path().join("assets/app-1234.js"), SCRIPT).unwrap();
    let app = TestApp::spawn_with(&["--web-dir", web.path().to_str().unwrap()]).await;
    serves_by_the_rules(&app.http, &app.base).await;
    let api = app.http.get(format!("{}/api/v1/no-such-endpoint", app.base)).send().await.unwrap();
    assert_eq!(api.status(), 404);
    assert_eq!(api.json::<serde_json::Value>().await.unwrap()["code"], "not_found");
}

#[tokio::test]
async fn serves_the_web_app_from_memory_with_revalidation() {
    let files = [("index.html".to_owned(), INDEX.as_bytes()), ("assets/app-1234.js".to_owned(), SCRIPT.as_bytes())];
    let web: axum::Router = router(WebSource::Embedded(Embedded::from_files(files)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, web).await.unwrap() });
    let http = reqwest::Client::new();
    serves_by_the_rules(&http, &base).await;

    // A browser revalidating index.html with its entity tag gets 304 and no body.
    let first = http.get(format!("{base}/")).send().await.unwrap();
    let tag = first.headers()[ETAG].clone();
    let again = http.get(format!("{base}/")).header(IF_NONE_MATCH, tag.clone()).send().await.unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()[ETAG], tag);
    assert!(again.bytes().await.unwrap().is_empty());
    let other = http.get(format!("{base}/")).header(IF_NONE_MATCH, "\"something-else\"").send().await.unwrap();
    assert_eq!(other.status(), 200);
    let head = http.head(format!("{base}/assets/app-1234.js")).send().await.unwrap();
    assert_eq!((head.status().as_u16(), head.headers()["content-length"].to_str().unwrap()), (200, "19"));
    let post = http.post(format!("{base}/")).send().await.unwrap();
    assert_eq!(post.status(), 405);
}

/// A binary built with `--features embed-web` serves the real web app with no
/// `HUSH_WEB_DIR`: `index.html` names its assets with subresource-integrity hashes, and
/// every asset is served, cached for a year and matches its hash.
#[cfg(feature = "embed-web")]
#[tokio::test]
async fn the_built_in_web_app_is_served_without_a_web_dir() {
    use base64::Engine as _;
    use sha2::{Digest, Sha384};
    let app = TestApp::spawn().await;
    let index = app.http.get(format!("{}/", app.base)).send().await.unwrap();
    assert_eq!(index.status(), 200);
    let html = index.text().await.unwrap();
    let mut checked = 0;
    for tag in html.split('<').filter(|t| t.contains("integrity=")) {
        let attr = |name: &str| {
            let start = tag.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
            tag[start..start + tag[start..].find('"').unwrap()].to_owned()
        };
        let (path, integrity) = (if tag.contains("src=") { attr("src") } else { attr("href") }, attr("integrity"));
        let asset = app.http.get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(asset.headers()["cache-control"], "public, max-age=31536000, immutable", "{path}");
        let body = asset.bytes().await.unwrap();
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha384::digest(&body));
        assert_eq!(integrity, format!("sha384-{hash}"), "{path} matches its integrity hash");
        checked += 1;
    }
    assert!(checked >= 3, "the stylesheet, the JS and the boot script carry integrity hashes: {html}");
}
