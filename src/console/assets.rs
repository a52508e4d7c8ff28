//! The console app's files, built into the binary: `console/` of the source tree, written as
//! plain ES modules and CSS that browsers run as they are (no bundler, no CDN, nothing fetched
//! at build time), so `berth serve` always serves the console of its own version.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

macro_rules! files {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/console/assets/", $path)))),*]
    };
}

/// Every file under `console/assets`, by its path there.
static FILES: &[(&str, &[u8])] = files![
    "app.css",
    "i18n/en.js",
    "i18n/ro.js",
    "js/api.js",
    "js/dom.js",
    "js/i18n.js",
    "js/live.js",
    "js/main.js",
    "js/palette.js",
    "js/pages/audit.js",
    "js/pages/auth.js",
    "js/pages/billing.js",
    "js/pages/dns.js",
    "js/pages/ops.js",
    "js/pages/ops_business.js",
    "js/pages/roles.js",
    "js/pages/site.js",
    "js/pages/sites.js",
    "js/pages/team.js",
];

static INDEX: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/console/index.html"));

/// `GET /assets/{file}`.
pub async fn file(Path(path): Path<String>) -> Response {
    match FILES.iter().find(|(name, _)| *name == path) {
        Some((name, bytes)) => {
            let kind = match name.rsplit('.').next() {
                Some("css") => "text/css; charset=utf-8",
                Some("js") => "text/javascript; charset=utf-8",
                _ => "application/octet-stream",
            };
            let mut response = bytes.into_response();
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            response
        }
        None => berth_http::ApiError::NotFound.into_response(),
    }
}

/// The app's page, for `/` and every path of the app.
pub async fn app() -> Response {
    let mut response = (StatusCode::OK, INDEX).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::FILES;

    fn on_disk(dir: &std::path::Path, base: &std::path::Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                on_disk(&path, base, found);
            } else {
                found.push(path.strip_prefix(base).unwrap().to_string_lossy().into_owned());
            }
        }
    }

    #[test]
    fn every_file_of_the_app_is_built_in() {
        let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("console/assets");
        let mut found = Vec::new();
        on_disk(&base, &base, &mut found);
        found.sort();
        let mut listed: Vec<String> = FILES.iter().map(|(name, _)| (*name).to_owned()).collect();
        listed.sort();
        assert_eq!(found, listed, "console/assets and the list in src/console/assets.rs differ");
    }
}
