//! The web directory is served at `/` with client-side-route fallback to `index.html`,
//! while unknown API routes still answer JSON errors.

mod common;

use common::TestApp;

#[tokio::test]
async fn serves_the_web_app_with_fallback() {
    let web = tempfile::tempdir().unwrap();
    std::fs::write(web.path().join("index.html"), "<!doctype html><title>Hush</title>").unwrap();
    std::fs::create_dir(web.path().join("assets")).unwrap();
    std::fs::write(web.path().join("assets/app-1234.js"), "console.log('hush')").unwrap();
    let app = TestApp::spawn_with(&["--web-dir", web.path().to_str().unwrap()]).await;
    let get = |path: &str| app.http.get(format!("{}{}", app.base, path)).send();

    let index = get("/").await.unwrap();
    assert_eq!(index.status(), 200);
    assert_eq!(index.headers()["cache-control"], "no-cache");
    let csp = index.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'self' 'wasm-unsafe-eval'") && !csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(index.headers()["x-content-type-options"], "nosniff");
    let js = get("/assets/app-1234.js").await.unwrap();
    assert_eq!(js.status(), 200);
    assert_eq!(js.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert!(js.headers()["content-type"].to_str().unwrap().contains("javascript"));
    assert!(get("/").await.unwrap().text().await.unwrap().contains("<title>Hush</title>"));
    let missing = get("/assets/gone-0000.js").await.unwrap();
    assert_eq!((missing.status().as_u16(), missing.headers()["cache-control"].to_str().unwrap()), (404, "no-cache"));
    let route = get("/chats/some-friend").await.unwrap();
    assert_eq!(route.status(), 200);
    assert!(route.text().await.unwrap().contains("<title>Hush</title>"));
    let api = get("/api/v1/no-such-endpoint").await.unwrap();
    assert_eq!(api.status(), 404);
    assert_eq!(api.json::<serde_json::Value>().await.unwrap()["code"], "not_found");
}
