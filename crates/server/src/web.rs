//! Serves the built web app from `HUSH_WEB_DIR` at `/`: hashed assets are cached for a
//! year, `index.html` (the fallback for client-side routes) is always revalidated.

use std::path::Path;

use axum::Router;
use axum::http::{HeaderValue, header};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::state::AppState;

/// A router serving `dir`, falling back to `dir/index.html`.
pub fn router(dir: &Path) -> Router<AppState> {
    let index = ServeFile::new(dir.join("index.html"));
    let assets = ServeDir::new(dir).append_index_html_on_directories(true).fallback(index);
    Router::new()
        .fallback_service(assets)
        .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-cache")))
}
