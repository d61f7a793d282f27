//! The web pages (driver app, partner portal, admin console) served from files embedded at build
//! time, so the binary alone serves them: no build step, nothing fetched at run time. They are
//! plain HTML, ES modules and one stylesheet in `web/`, and call the same documented JSON APIs as
//! anyone else. The one library, Leaflet (the driver app's map), is vendored in `web/vendor/`.
//!
//! `GET /app/settings.json` tells the driver app its map tiles (`web.map_tile_url`,
//! `web.map_tile_attribution`; both `null` when none are configured, and the map then draws the
//! stations on a plain background).

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Redirect, Response};
use axum::routing::get;
use serde_json::json;

use crate::config::WebConfig;

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
const CSS: &str = "text/css; charset=utf-8";

const ASSETS: &[Asset] = &[
    asset!("/welcome", HTML, "index.html"),
    asset!("/assets/style.css", CSS, "assets/style.css"),
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
    asset!("/app", HTML, "app.html"),
    asset!("/assets/app.js", JS, "assets/app.js"),
    asset!("/assets/app-map.js", JS, "assets/app-map.js"),
    asset!("/assets/app-station.js", JS, "assets/app-station.js"),
    asset!("/assets/app-session.js", JS, "assets/app-session.js"),
    asset!("/assets/app-format.js", JS, "assets/app-format.js"),
    asset!("/vendor/leaflet/leaflet.js", JS, "vendor/leaflet/leaflet.js"),
    asset!("/vendor/leaflet/leaflet.css", CSS, "vendor/leaflet/leaflet.css"),
    asset!("/vendor/leaflet/LICENSE", "text/plain; charset=utf-8", "vendor/leaflet/LICENSE"),
];

/// Files under these folders are served at `{folder}{file}`; the other assets are pages.
const FOLDERS: &[&str] = &["/assets/", "/vendor/leaflet/"];

/// Scripts and styles only from us (connections too: the driver app's live status is an
/// EventSource on our own API); documents shown inline come as `blob:` URLs made from
/// authenticated fetches; images also from the configured map tile origin, if any (and `data:`,
/// which Leaflet uses for a cancelled tile).
fn csp(web: &WebConfig) -> HeaderValue {
    // The configuration refused a template without a usable origin at start.
    // Leaflet points a tile it stops loading at an empty `data:` GIF.
    let tiles = web.map_tile_origin().ok().flatten().map(|origin| format!(" data: {origin}")).unwrap_or_default();
    let policy = format!(
        "default-src 'self'; img-src 'self' blob:{tiles}; object-src blob:; frame-src blob:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    );
    HeaderValue::from_str(&policy).unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"))
}

pub fn router(web: &WebConfig) -> Router {
    let policy = csp(web);
    let settings = json!({
        "map_tile_url": web.tile_url(),
        "map_tile_attribution": web.map_tile_attribution.as_deref().map(str::trim).filter(|a| !a.is_empty()),
    });
    let mut router = Router::new().route("/", get(|| async { Redirect::to("/welcome") }));
    for asset in ASSETS.iter().filter(|a| !FOLDERS.iter().any(|f| a.path.starts_with(f))) {
        let policy = policy.clone();
        router = router.route(asset.path, get(move |headers: HeaderMap| async move { serve(asset, &headers, Some(&policy)) }));
        // People type `/portal/` too.
        router = router.route(&format!("{}/", asset.path), get(move || async move { Redirect::permanent(asset.path) }));
    }
    for folder in FOLDERS {
        router = router.route(
            &format!("{folder}{{file}}"),
            get(move |Path(file): Path<String>, headers: HeaderMap| async move {
                let path = format!("{folder}{file}");
                match ASSETS.iter().find(|a| a.path == path) {
                    Some(asset) => serve(asset, &headers, None),
                    None => StatusCode::NOT_FOUND.into_response(),
                }
            }),
        );
    }
    router.route("/app/settings.json", get(move || async move { ([(header::CACHE_CONTROL, "no-cache")], Json(settings.clone())).into_response() }))
}

/// Revalidated on every use (`no-cache` + `ETag`): file names carry no version, so a new binary's
/// pages are picked up at once, and an unchanged file costs a 304.
fn serve(asset: &Asset, headers: &HeaderMap, policy: Option<&HeaderValue>) -> Response {
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
    if let Some(policy) = policy.filter(|_| asset.content_type == HTML) {
        h.insert(header::CONTENT_SECURITY_POLICY, policy.clone());
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
        get_with(&WebConfig::default(), path, headers).await
    }

    async fn get_with(web: &WebConfig, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut request = Request::get(path);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        router(web).oneshot(request.body(Body::empty()).unwrap()).await.unwrap()
    }

    async fn body_json(response: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn the_driver_app_and_its_map_library_are_served_with_their_types() {
        let expected = [
            ("/app", HTML),
            ("/assets/app.js", JS),
            ("/assets/app-map.js", JS),
            ("/assets/app-station.js", JS),
            ("/assets/app-session.js", JS),
            ("/assets/app-format.js", JS),
            ("/vendor/leaflet/leaflet.js", JS),
            ("/vendor/leaflet/leaflet.css", CSS),
            ("/vendor/leaflet/LICENSE", "text/plain; charset=utf-8"),
        ];
        for (path, content_type) in expected {
            let response = get(path, &[]).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(response.headers()[header::CONTENT_TYPE], content_type, "{path}");
            assert_eq!(response.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
        }
        assert_eq!(get("/vendor/leaflet/leaflet-src.js", &[]).await.status(), StatusCode::NOT_FOUND);
        assert_eq!(get("/vendor/leaflet/../assets/app.js", &[]).await.status(), StatusCode::NOT_FOUND);
        let response = get("/app/", &[]).await;
        assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(response.headers()[header::LOCATION], "/app");
        let landing = std::str::from_utf8(ASSETS.iter().find(|a| a.path == "/welcome").unwrap().body).unwrap();
        assert!(landing.contains("href=\"/app\""), "the landing page links the driver app");
    }

    #[tokio::test]
    async fn map_tiles_come_from_the_setting_only() {
        // None configured: no tiles, and images only from us.
        let response = get("/app/settings.json", &[]).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(body_json(response).await, json!({"map_tile_url": null, "map_tile_attribution": null}));
        let policy = get("/app", &[]).await.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned();
        assert!(policy.contains("img-src 'self' blob:;"), "{policy}");
        assert!(policy.contains("default-src 'self'"), "the live status stream is on our own origin: {policy}");

        let web = WebConfig { map_tile_url: Some("https://{s}.tiles.example.com/{z}/{x}/{y}.png".into()), map_tile_attribution: Some("© Example".into()) };
        let settings = body_json(get_with(&web, "/app/settings.json", &[]).await).await;
        assert_eq!(settings["map_tile_url"], "https://{s}.tiles.example.com/{z}/{x}/{y}.png");
        assert_eq!(settings["map_tile_attribution"], "© Example");
        let response = get_with(&web, "/app", &[]).await;
        let policy = response.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(policy.contains("img-src 'self' blob: data: https://*.tiles.example.com;"), "{policy}");
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
            for (i, _) in text.match_indices("/assets/").chain(text.match_indices("/vendor/")) {
                let rest = &text[i..];
                let end = rest.find(['"', '\'']).unwrap();
                let path = &rest[..end];
                assert!(ASSETS.iter().any(|a| a.path == path), "{} refers to {path}, which is not served", asset.path);
            }
        }
    }
}
