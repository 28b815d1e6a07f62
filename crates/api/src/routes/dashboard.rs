//! The dashboard: the pages built from `dashboard/` (npm, Vite) into `dashboard/dist`, served at
//! `/`. Every build embeds them in the binary (debug builds too: the container image of the tests
//! packages a debug binary, which runs far from the folder), so build the dashboard first
//! (`scripts/build-dashboard`; `scripts/up` and `scripts/test` do). A dashboard rebuilt with new
//! asset names makes cargo rebuild this crate; for live reload use `npm run dev` in `dashboard/`.
//! Nothing is fetched from elsewhere at run time.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// The built dashboard (`npm run build` in `dashboard/`; `scripts/up` and `scripts/test` run it).
#[derive(rust_embed::Embed)]
#[folder = "../../dashboard/dist/"]
#[allow_missing = true]
struct Assets;

/// `/`: the dashboard's page, or a note on how to build it.
pub async fn index() -> Response {
    match Assets::get("index.html") {
        Some(file) => {
            let mut response = Html(file.data.into_owned()).into_response();
            // The page names the current assets: never kept stale.
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            response
        }
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            Html(
                "<!doctype html><title>Tributary</title><h1>The dashboard is not built</h1>\
                 <p>Build it with <code>scripts/up</code> (or <code>npm ci &amp;&amp; npm run build</code> \
                 in <code>dashboard/</code>) and rebuild the binary. The API is at \
                 <a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a>.</p>",
            ),
        )
            .into_response(),
    }
}

/// `/assets/…`: the dashboard's scripts, styles and map data. Their names carry a hash of their
/// content, so browsers may keep them for good.
pub async fn asset(Path(path): Path<String>) -> Response {
    let Some(file) = Assets::get(&format!("assets/{path}")) else {
        return crate::error::ApiError::not_found(format!("no asset {path:?}")).into_response();
    };
    let mut response = file.data.into_owned().into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(&path)));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// The content type of an asset, by its extension.
fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("woff2") => "font/woff2",
        Some("html") => "text/html; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_have_their_content_types() {
        assert_eq!(content_type("index-abc.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("countries-50m-x.json"), "application/json");
        assert_eq!(content_type("no-extension"), "application/octet-stream");
    }
}
