//! Serves the built web app at `/`, from `HUSH_WEB_DIR` or, in a binary built with the
//! `embed-web` feature, from the copy inside the binary ([`embedded`]). Either way the
//! same rules apply: content-hashed files under `/assets/` are cached for a year,
//! everything else (`index.html`, also the fallback for client-side routes) is revalidated
//! on every load, and every page carries a strict Content-Security-Policy that still lets
//! the WASM app run.

pub mod embedded;

use std::path::PathBuf;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::services::{ServeDir, ServeFile};

use crate::config::Config;
use embedded::Embedded;

/// The app's Content-Security-Policy: only its own scripts, styles and connections;
/// `wasm-unsafe-eval` compiles the WASM module, nothing allows inline or foreign code.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
form-action 'self'; frame-ancestors 'none'";

/// Where the web app's files come from.
pub enum WebSource {
    /// A directory on disk (`HUSH_WEB_DIR`), read on every request: for development.
    Dir(PathBuf),
    /// Files held in memory: the copy built into the binary.
    Embedded(Embedded),
}

impl WebSource {
    /// `HUSH_WEB_DIR` when set, else the web app built into the binary, if it has one.
    pub fn from_config(config: &Config) -> Option<Self> {
        match &config.web_dir {
            Some(dir) => Some(Self::Dir(dir.clone())),
            None => Embedded::built_in().map(Self::Embedded),
        }
    }

    /// Where the files come from, for the start-up log.
    pub fn describe(&self) -> String {
        match self {
            Self::Dir(dir) => format!("from {}", dir.display()),
            Self::Embedded(files) => format!("built into the binary ({} files)", files.len()),
        }
    }
}

/// A router serving `source`, falling back to its `index.html`.
pub fn router<S: Clone + Send + Sync + 'static>(source: WebSource) -> Router<S> {
    let router = match source {
        WebSource::Dir(dir) => {
            let index = ServeFile::new(dir.join("index.html"));
            Router::new().fallback_service(ServeDir::new(dir).append_index_html_on_directories(true).fallback(index))
        }
        WebSource::Embedded(files) => embedded::router(files),
    };
    router.layer(middleware::from_fn(headers))
}

async fn headers(request: Request, next: Next) -> Response {
    let immutable = request.uri().path().starts_with("/assets/");
    let mut response = next.run(request).await;
    let is_html = response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if immutable && is_html {
        // The client-side-route fallback must not answer for a missing asset.
        response = crate::error::AppError::new(hush_shared::ErrorCode::NotFound, "no such asset").into_response();
    }
    let found = response.status().is_success() || response.status() == axum::http::StatusCode::NOT_MODIFIED;
    let h = response.headers_mut();
    // A missing asset must not be cached for a year under its name.
    let cache = if immutable && found { "public, max-age=31536000, immutable" } else { "no-cache" };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}
