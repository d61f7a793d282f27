//! The web pages (partner portal, admin console) served from files embedded at build time, so the
//! binary alone serves them: no build step, nothing fetched at run time. They are plain HTML, ES
//! modules and one stylesheet in `web/`, and call the same documented JSON APIs as anyone else.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

/// A page or asset: where it is served, its content type and its bytes.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $type:expr, $file:literal) => {
        Asset { path: $path, content_type: $type, body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/", $file)) }
    };
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

const ASSETS: &[Asset] = &[
    asset!("/welcome", HTML, "index.html"),
    asset!("/assets/style.css", "text/css; charset=utf-8", "assets/style.css"),
    asset!("/assets/icon.svg", "image/svg+xml", "assets/icon.svg"),
    asset!("/assets/i18n.js", JS, "assets/i18n.js"),
    asset!("/assets/dom.js", JS, "assets/dom.js"),
    asset!("/assets/landing.js", JS, "assets/landing.js"),
    asset!("/portal", HTML, "portal.html"),
    asset!("/assets/api.js", JS, "assets/api.js"),
    asset!("/assets/forms.js", JS, "assets/forms.js"),
    asset!("/assets/credit-code.js", JS, "assets/credit-code.js"),
    asset!("/assets/application-form.js", JS, "assets/application-form.js"),
    asset!("/assets/credentials.js", JS, "assets/credentials.js"),
    asset!("/assets/portal.js", JS, "assets/portal.js"),
    asset!("/admin", HTML, "admin.html"),
    asset!("/assets/admin.js", JS, "assets/admin.js"),
    asset!("/assets/admin-partner.js", JS, "assets/admin-partner.js"),
];

/// Scripts and styles only from us; documents shown inline come as `blob:` URLs made from
/// authenticated fetches.
const CSP: &str = "default-src 'self'; img-src 'self' blob:; object-src blob:; frame-src blob:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub fn router() -> Router {
    let mut router = Router::new().route("/", get(|| async { Redirect::to("/welcome") }));
    for asset in ASSETS.iter().filter(|a| !a.path.starts_with("/assets/")) {
        router = router.route(asset.path, get(move |headers: HeaderMap| async move { serve(asset, &headers) }));
        // People type `/portal/` too.
        router = router.route(&format!("{}/", asset.path), get(move || async move { Redirect::permanent(asset.path) }));
    }
    router.route("/assets/{file}", get(asset_file))
}

async fn asset_file(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let path = format!("/assets/{file}");
    match ASSETS.iter().find(|a| a.path == path) {
        Some(asset) => serve(asset, &headers),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Revalidated on every use (`no-cache` + `ETag`): file names carry no version, so a new binary's
/// pages are picked up at once, and an unchanged file costs a 304.
fn serve(asset: &Asset, headers: &HeaderMap) -> Response {
    let etag = format!("\"{:016x}\"", fnv1a(asset.body));
    if headers.get(header::IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == etag.as_bytes()) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    let mut response = asset.body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if asset.content_type == HTML {
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    response
}

/// 64-bit FNV-1a: a stable content hash for the ETag (not a security property).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn get(path: &str, headers: &[(&str, &str)]) -> Response {
        let mut request = Request::get(path);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        router().oneshot(request.body(Body::empty()).unwrap()).await.unwrap()
    }

    #[tokio::test]
    async fn pages_and_assets_have_their_types_and_revalidate() {
        for asset in ASSETS {
            let response = get(asset.path, &[]).await;
            assert_eq!(response.status(), StatusCode::OK, "{}", asset.path);
            assert_eq!(response.headers()[header::CONTENT_TYPE], asset.content_type);
            assert_eq!(response.headers()[header::CACHE_CONTROL], "no-cache");
            let etag = response.headers()[header::ETAG].to_str().unwrap().to_owned();
            assert_eq!(get(asset.path, &[("if-none-match", &etag)]).await.status(), StatusCode::NOT_MODIFIED);
        }
        assert!(ASSETS.iter().any(|a| a.content_type == JS));
        assert!(get("/welcome", &[]).await.headers().contains_key(header::CONTENT_SECURITY_POLICY));
    }

    #[tokio::test]
    async fn root_points_to_the_landing_page_and_unknown_assets_are_404() {
        let response = get("/", &[]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(response.headers()[header::LOCATION], "/welcome");
        assert_eq!(get("/assets/nope.js", &[]).await.status(), StatusCode::NOT_FOUND);
        let response = get("/portal/", &[]).await;
        assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(response.headers()[header::LOCATION], "/portal");
    }

    #[test]
    fn every_script_a_page_imports_is_served() {
        for asset in ASSETS.iter().filter(|a| a.content_type == HTML || a.content_type == JS) {
            let text = std::str::from_utf8(asset.body).unwrap();
            for (i, _) in text.match_indices("/assets/") {
                let rest = &text[i..];
                let end = rest.find(['"', '\'']).unwrap();
                let path = &rest[..end];
                assert!(ASSETS.iter().any(|a| a.path == path), "{} refers to {path}, which is not served", asset.path);
            }
        }
    }
}
