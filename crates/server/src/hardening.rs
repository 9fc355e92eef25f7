//! Browser hardening and log hygiene for every answer: security headers (CSP without inline
//! script, no framing, no MIME sniffing, no cross-site referrer) and request paths as logged,
//! with resident IDs and credit codes masked.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// The console serves its own stylesheet and no script at all; SVG charts are inline markup
/// (no `style` attributes), so nothing inline needs allowing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// Adds the security headers to every answer (an answer that set its own keeps it).
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let set = [
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        // `same-origin`, not `no-referrer`: browsers send `Origin: null` on a POST under
        // `no-referrer`, and the console's same-origin check needs the real origin.
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ),
    ];
    for (name, value) in set {
        headers.entry(name).or_insert(value);
    }
    response
}

/// A request path as it may be logged: every segment that could be a resident ID (15 or 18
/// characters, digits with an optional final X) or a unified social credit code (18 digits
/// and capitals) keeps its first six and last four characters only.
pub fn loggable_path(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if looks_like_identifier(segment) {
                let chars: Vec<char> = segment.chars().collect();
                let head: String = chars[..6].iter().collect();
                let tail: String = chars[chars.len() - 4..].iter().collect();
                format!("{head}{}{tail}", "*".repeat(chars.len() - 10))
            } else {
                segment.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn looks_like_identifier(segment: &str) -> bool {
    let n = segment.len();
    (n == 15 || n == 18)
        && segment.bytes().all(|b| b.is_ascii_alphanumeric())
        && segment.bytes().filter(u8::is_ascii_digit).count() >= 8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_in_paths_are_masked_and_the_rest_kept() {
        assert_eq!(
            loggable_path("/api/v1/persons/44030419531028123X/graph"),
            "/api/v1/persons/440304********123X/graph"
        );
        assert_eq!(
            loggable_path("/api/v1/enterprises/91440300MA5DXXXX1Q"),
            "/api/v1/enterprises/914403********XX1Q"
        );
        assert_eq!(
            loggable_path("/api/v1/persons/440304530101123"),
            "/api/v1/persons/440304*****1123"
        );
        // Names of routes, receipts (64 hex) and short numbers are not identifiers.
        let receipt = format!("/api/v1/decisions/{}", "ab12".repeat(16));
        assert_eq!(loggable_path(&receipt), receipt);
        assert_eq!(loggable_path("/console/batches"), "/console/batches");
        assert_eq!(
            loggable_path("/api/v1/records/hukou_residents"),
            "/api/v1/records/hukou_residents"
        );
    }
}
