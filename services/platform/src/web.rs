//! The web app (`web/`, built into `web/dist`), served by the `web` and `all` targets on
//! the API's origin, so the session cookie and the CSRF token need no CORS.
//!
//! Files under `/assets/` carry a content hash in their names and are cached for a
//! year (a missing one is a 404); anything else that is not a file (a client-side route
//! such as `/trainer/clients/…`) gets `index.html`, never cached. A gzip copy beside a
//! file (`x.js.gz`) is served to browsers that accept it. `/api/…` paths are never
//! answered with the app: an unknown API path stays a problem-JSON 404. Every file and
//! page carries a strict Content-Security-Policy (scripts only from this origin).

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use axum::{
    body::Body,
    extract::{Request, State},
    http::{header, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
    Router,
};
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};

use crate::problem::ApiError;

/// Scripts and connections to this origin only; styles may be inline (the component
/// library sets style attributes); no framing.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; \
base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

struct Site {
    root: PathBuf,
}

/// The app in `root` as a fallback router; `None` when `root` has no `index.html` (the
/// app was not built).
pub fn router(root: &Path) -> Option<Router> {
    if !root.join("index.html").is_file() {
        return None;
    }
    let site = Arc::new(Site {
        root: root.to_owned(),
    });
    Some(Router::new().fallback(serve).with_state(site))
}

fn is_api(path: &str) -> bool {
    ["/api/", "/.well-known/", "/metrics"]
        .iter()
        .any(|p| path.starts_with(p))
        || path == "/api"
}

async fn serve(State(site): State<Arc<Site>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    if is_api(&path) {
        return ApiError::NotFound.into_response();
    }
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        return ApiError::NotFound.into_response();
    }
    let file = ServeDir::new(&site.root)
        .precompressed_gzip()
        .oneshot(clone_head(&request))
        .await;
    let (mut response, cache) = match file {
        Ok(r) if r.status() == StatusCode::OK || r.status() == StatusCode::NOT_MODIFIED => {
            let cache = if path.starts_with("/assets/") {
                "public, max-age=31536000, immutable"
            } else {
                "no-cache"
            };
            (r.map(Body::new), cache)
        }
        // A file the page asked for and that is not there (say, a script of the build
        // before a deployment) is a 404: the page's error boundary shows it.
        _ if path.starts_with("/assets/") => return ApiError::NotFound.into_response(),
        _ => {
            let index = ServeFile::new(site.root.join("index.html"))
                .oneshot(request)
                .await;
            match index {
                Ok(r) => (r.map(Body::new), "no-cache"),
                Err(e) => {
                    return ApiError::Unexpected(anyhow::anyhow!("serving index.html: {e}"))
                        .into_response()
                }
            }
        }
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // The gzip copy and the plain file share a URL.
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
}

/// The request's method, URI and headers (a GET or HEAD has no body worth keeping).
fn clone_head(request: &Request) -> Request {
    let mut copy = Request::new(Body::empty());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.headers_mut() = request.headers().clone();
    copy
}
