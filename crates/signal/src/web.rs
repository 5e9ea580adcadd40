//! The web peer: the page a browser opens to take part in a transfer, served at `/` on the
//! same origin as the WebSocket, so that the page's own origin is its signaling server and
//! nothing else has to be deployed.
//!
//! The files are `web/dist`, built by the web peer's bundler and embedded in the binary
//! here, a fixed list of five. This module never reads the disk at run time and never maps
//! a request path to a file name: an unknown path is the router's 404.
//!
//! Every answer carries the same strict headers: no sniffing, no referrer, and a Content
//! Security Policy that lets the page load only its own files and talk only to its own
//! origin (`connect-src 'self'` covers `ws:`/`wss:` of the same host in CSP Level 3, which
//! Chromium 71+, Firefox and Safari 16+ implement). It may be framed by its own origin only:
//! the service worker hands a streamed download to a hidden frame at `/dl/...`.

use std::sync::LazyLock;

use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// One embedded file.
pub(crate) struct Asset {
    /// Where it is served.
    pub(crate) path: &'static str,
    /// Its bytes, from `web/dist` at build time.
    body: &'static [u8],
    /// Its `Content-Type`.
    content_type: &'static str,
}

/// The page itself, served at `/` (a GET without a WebSocket upgrade).
pub(crate) static PAGE: Asset = Asset {
    path: "/",
    body: include_bytes!("../../../web/dist/index.html"),
    content_type: "text/html; charset=utf-8",
};

/// The files the page loads, each at its own path.
pub(crate) static FILES: [Asset; 4] = [
    Asset {
        path: "/toss.js",
        body: include_bytes!("../../../web/dist/toss.js"),
        content_type: "text/javascript; charset=utf-8",
    },
    Asset {
        path: "/style.css",
        body: include_bytes!("../../../web/dist/style.css"),
        content_type: "text/css; charset=utf-8",
    },
    Asset {
        path: SERVICE_WORKER,
        body: include_bytes!("../../../web/dist/sw.js"),
        content_type: "text/javascript; charset=utf-8",
    },
    Asset {
        path: "/icon.svg",
        body: include_bytes!("../../../web/dist/icon.svg"),
        content_type: "image/svg+xml",
    },
];

/// The service worker's script, which may control the whole origin.
const SERVICE_WORKER: &str = "/sw.js";

/// What the page may load and where it may connect: its own origin only. `frame-src 'self'`
/// and `frame-ancestors 'self'` rather than `'none'` because the service worker streams a
/// download through a hidden frame of the page's own origin (without `frame-src` the frame
/// is blocked and the download never starts).
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; worker-src 'self'; \
     frame-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'self'";

/// Each file's entity tag, `"` + 16 hex digits of a 64-bit FNV-1a of its bytes + `"`,
/// computed once: `Cache-Control: no-cache` makes the browser ask every time, and the tag
/// lets the answer be a bodiless `304` when the file has not changed (a new build of the
/// server with a new page changes the tag). Hashed at first use rather than in a `const`,
/// where a bundle of a few hundred KiB would run into the compiler's const-evaluation lint.
static ETAGS: LazyLock<Vec<(&'static str, HeaderValue)>> = LazyLock::new(|| {
    std::iter::once(&PAGE)
        .chain(FILES.iter())
        .map(|asset| (asset.path, etag_of(asset.body)))
        .collect()
});

/// `"…"`: the FNV-1a 64 of `bytes`, which only has to change when the bytes do.
fn etag_of(bytes: &[u8]) -> HeaderValue {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    HeaderValue::from_str(&format!("\"{hash:016x}\""))
        .expect("quotes and hex digits are a valid header value")
}

impl Asset {
    fn etag(&self) -> HeaderValue {
        ETAGS
            .iter()
            .find(|(path, _)| *path == self.path)
            .map(|(_, tag)| tag.clone())
            .unwrap_or_else(|| etag_of(self.body))
    }

    /// This file as the answer to a GET or HEAD with `request`'s headers: `304 Not
    /// Modified` when the browser already holds this version (`If-None-Match`), else
    /// `200` with the bytes. (axum drops the body of an answer to HEAD.)
    pub(crate) fn respond(&self, request: &HeaderMap) -> Response {
        let etag = self.etag();
        let fresh = request
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|tag| tag.trim().trim_start_matches("W/"))
            .any(|tag| tag == "*" || tag.as_bytes() == etag.as_bytes());
        let mut headers = HeaderMap::new();
        headers.insert(header::ETAG, etag);
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        // On every file, not just the page: a worker's policy is the one its script came with.
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
        if self.path == SERVICE_WORKER {
            headers.insert(
                HeaderName::from_static("service-worker-allowed"),
                HeaderValue::from_static("/"),
            );
        }
        if fresh {
            return (StatusCode::NOT_MODIFIED, headers).into_response();
        }
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        (StatusCode::OK, headers, self.body).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_has_its_own_tag_and_a_path_of_its_own() {
        let mut paths: Vec<&str> = ETAGS.iter().map(|(p, _)| *p).collect();
        assert_eq!(paths.len(), 5);
        paths.sort_unstable();
        paths.dedup();
        assert_eq!(paths.len(), 5, "{paths:?}");
        for asset in std::iter::once(&PAGE).chain(FILES.iter()) {
            assert_eq!(asset.etag(), etag_of(asset.body));
            assert_eq!(asset.etag().len(), 18);
        }
        // FNV-1a 64 of the empty input is its offset basis; of "a", the published value.
        assert_eq!(etag_of(b""), "\"cbf29ce484222325\"");
        assert_eq!(etag_of(b"a"), "\"af63dc4c8601ec8c\"");
    }
}
