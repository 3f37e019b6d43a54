//! The web app held in memory — in a binary built with the `embed-web` feature, the files
//! `scripts/build-web.sh` made, so one file is a whole Hush. Served like a directory:
//! `index.html` for `/` and for any path that names no file (client-side routes), the
//! content type from the file name, and an `ETag` (a hash of the content) so a browser
//! revalidating `index.html` gets `304 Not Modified`.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// One file: its bytes, content type and entity tag.
struct File {
    bytes: &'static [u8],
    content_type: HeaderValue,
    etag: HeaderValue,
}

/// The web app's files by path (relative, `/`-separated: `index.html`, `assets/…`).
#[derive(Clone)]
pub struct Embedded {
    files: Arc<HashMap<String, File>>,
}

impl Embedded {
    /// Holds `files` (path, content) for serving.
    pub fn from_files(files: impl IntoIterator<Item = (String, &'static [u8])>) -> Self {
        let files = files
            .into_iter()
            .map(|(path, bytes)| {
                let mime = mime_guess::from_path(&path).first_or_octet_stream();
                let content_type = HeaderValue::from_str(mime.as_ref()).expect("a MIME type is a header value");
                let digest = Sha256::digest(bytes);
                let etag = format!("\"{}\"", digest[..12].iter().map(|b| format!("{b:02x}")).collect::<String>());
                let etag = HeaderValue::from_str(&etag).expect("hex is a header value");
                (path, File { bytes, content_type, etag })
            })
            .collect();
        Self { files: Arc::new(files) }
    }

    /// The web app built into this binary, if it was built with the `embed-web` feature
    /// (indexed once).
    pub fn built_in() -> Option<Self> {
        static BUILT_IN: OnceLock<Option<Embedded>> = OnceLock::new();
        BUILT_IN.get_or_init(Self::index_built_in).clone()
    }

    fn index_built_in() -> Option<Self> {
        #[cfg(feature = "embed-web")]
        {
            static APP: include_dir::Dir<'static> = include_dir::include_dir!("$HUSH_EMBED_WEB_DIR");
            let mut files = Vec::new();
            let mut dirs = vec![&APP];
            while let Some(dir) = dirs.pop() {
                for entry in dir.entries() {
                    match entry {
                        include_dir::DirEntry::Dir(d) => dirs.push(d),
                        include_dir::DirEntry::File(f) => {
                            let path = f.path().to_string_lossy().replace('\\', "/");
                            files.push((path, f.contents()));
                        }
                    }
                }
            }
            Some(Self::from_files(files))
        }
        #[cfg(not(feature = "embed-web"))]
        None
    }

    /// How many files there are.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// A router answering every path from `files`.
pub fn router<S: Clone + Send + Sync + 'static>(files: Embedded) -> Router<S> {
    Router::new().fallback(serve).with_state(files)
}

async fn serve(State(app): State<Embedded>, method: Method, uri: Uri, request_headers: HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        let mut refused = StatusCode::METHOD_NOT_ALLOWED.into_response();
        refused.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return refused;
    }
    let path = uri.path().trim_start_matches('/');
    let named = if path.is_empty() || path.ends_with('/') { format!("{path}index.html") } else { path.to_owned() };
    let Some(file) = app.files.get(&named).or_else(|| app.files.get("index.html")) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let unchanged = request_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == file.etag || tag.trim() == "*"));
    let (status, body) = if unchanged {
        (StatusCode::NOT_MODIFIED, Body::empty())
    } else if method == Method::HEAD {
        (StatusCode::OK, Body::empty())
    } else {
        (StatusCode::OK, Body::from(file.bytes))
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(header::ETAG, file.etag.clone());
    if !unchanged {
        h.insert(header::CONTENT_TYPE, file.content_type.clone());
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(file.bytes.len()));
    }
    response
}
