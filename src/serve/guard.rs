//! Who may talk to `serve`: it holds a token that can run production jobs.
//!
//! - A per-start secret (the `key`): the printed URL carries it once; opening it trades it for
//!   an `HttpOnly`, `SameSite=Strict` cookie, and API clients send `Authorization: Bearer`.
//!   Nothing is served without it (401).
//! - `Host` must name the server itself (a DNS-rebinding page in the browser cannot pass).
//! - Requests that change something must come from the page's own origin when a browser
//!   sends them: an `Origin` that is not ours is refused (403), and with the cookie the
//!   `Origin` is required (cookies ride along with cross-site requests; a bearer header does
//!   not, so scripts need no `Origin`).
//! - No CORS unless `--allow-origin`; bodies capped and read under a deadline.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

use super::errors::ServeError;

/// The prefix of the page's session cookie, `datachonk_session_<port>`: cookies are not
/// scoped by port, so two servers on one host (or another local app) must not share one.
pub const COOKIE: &str = "datachonk_session";
/// The largest request body read (JSON requests are a few hundred bytes).
pub const MAX_BODY: usize = 64 * 1024;
/// How long a client may take to send its body.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Guard {
    key: String,
    /// The page's cookie value: random for each start, never the key (a cookie stored by a
    /// browser, or read by another local app, does not give the key away, and dies with
    /// the server).
    session: String,
    /// `datachonk_session_<port>`.
    cookie: String,
    /// `Host` values that name this server; empty: any (bound to an unspecified address).
    hosts: Vec<String>,
    scheme: &'static str,
    allow_origins: Vec<String>,
}

impl Guard {
    pub fn new(key: String, bound: SocketAddr, tls: bool, allow_origins: Vec<String>) -> Self {
        let port = bound.port();
        let hosts = if bound.ip().is_unspecified() {
            Vec::new()
        } else {
            let mut hosts = vec![
                format!("localhost:{port}"),
                match bound {
                    SocketAddr::V4(a) => format!("{}:{port}", a.ip()),
                    SocketAddr::V6(a) => format!("[{}]:{port}", a.ip()),
                },
            ];
            if bound.ip().is_loopback() {
                hosts.push(format!("127.0.0.1:{port}"));
                hosts.push(format!("[::1]:{port}"));
            }
            hosts
        };
        Guard {
            key,
            session: new_key().unwrap_or_else(|_| {
                // No OS randomness: a session no cookie can match (the key still works).
                String::new()
            }),
            cookie: format!("{COOKIE}_{port}"),
            hosts,
            scheme: if tls { "https" } else { "http" },
            allow_origins: allow_origins
                .into_iter()
                .map(|o| o.trim_end_matches('/').to_string())
                .collect(),
        }
    }

    fn host_ok(&self, headers: &HeaderMap) -> Option<String> {
        let host = headers
            .get(header::HOST)?
            .to_str()
            .ok()?
            .to_ascii_lowercase();
        (self.hosts.is_empty() || self.hosts.contains(&host)).then_some(host)
    }

    fn key_matches(&self, presented: &str) -> bool {
        constant_time_eq(presented.as_bytes(), self.key.as_bytes())
    }

    fn session_matches(&self, presented: &str) -> bool {
        !self.session.is_empty() && constant_time_eq(presented.as_bytes(), self.session.as_bytes())
    }

    /// How the request proves it knows the key.
    fn credential(&self, headers: &HeaderMap) -> Option<Credential> {
        if let Some(auth) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        {
            let presented = auth.strip_prefix("Bearer ").unwrap_or("").trim();
            return self.key_matches(presented).then_some(Credential::Bearer);
        }
        let cookies = headers.get_all(header::COOKIE);
        let found = cookies
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .any(|(k, v)| k == self.cookie && self.session_matches(v));
        found.then_some(Credential::Cookie)
    }

    fn origin_allowed(&self, origin: &str, host: &str) -> bool {
        origin == format!("{}://{host}", self.scheme) || self.cross_origin_allowed(origin)
    }

    fn cross_origin_allowed(&self, origin: &str) -> bool {
        self.allow_origins.iter().any(|o| o == origin)
    }

    fn cookie_header(&self) -> HeaderValue {
        let secure = if self.scheme == "https" {
            "; Secure"
        } else {
            ""
        };
        HeaderValue::from_str(&format!(
            "{}={}; HttpOnly; SameSite=Strict; Path=/{secure}",
            self.cookie, self.session
        ))
        .expect("the session is hex")
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Credential {
    Bearer,
    Cookie,
}

/// Every request passes here first.
pub async fn check(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    let Some(host) = guard.host_ok(request.headers()) else {
        return ServeError::new(
            StatusCode::FORBIDDEN,
            "foreign_host",
            "the Host header does not name this server",
        )
        .hint("open the URL `datachonk serve` printed (127.0.0.1 or localhost)")
        .into_response();
    };
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let cors_origin = origin.clone().filter(|o| guard.cross_origin_allowed(o));
    if request.method() == Method::OPTIONS {
        return preflight(cors_origin);
    }
    if request.uri().path() == "/" {
        if let Some(presented) = key_in_query(request.uri().query()) {
            return exchange_key(&guard, &presented);
        }
    }
    let Some(credential) = guard.credential(request.headers()) else {
        return unauthorized(request.uri().path());
    };
    let changes_state = !matches!(*request.method(), Method::GET | Method::HEAD);
    if changes_state {
        let refused = match (&origin, credential) {
            (Some(o), _) => !guard.origin_allowed(o, &host),
            (None, Credential::Cookie) => true,
            (None, Credential::Bearer) => false,
        };
        if refused {
            return ServeError::new(
                StatusCode::FORBIDDEN,
                "foreign_origin",
                format!(
                    "requests that change something must come from this page ({}://{host}){}",
                    guard.scheme,
                    origin.map_or(String::new(), |o| format!(", not {o}"))
                ),
            )
            .hint("scripts: send the key as `Authorization: Bearer KEY`; other web origins: start serve with --allow-origin URL")
            .into_response();
        }
    }
    let request = match read_body(request).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let mut response = next.run(request).await;
    if let Some(o) = cors_origin {
        add_cors(response.headers_mut(), &o);
    }
    response
}

fn key_in_query(query: Option<&str>) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "key")
        .map(|(_, v)| v.into_owned())
}

/// `/?key=…` → the cookie, and a redirect that takes the key out of the address bar (and of
/// the browser's history).
fn exchange_key(guard: &Guard, presented: &str) -> Response {
    if !guard.key_matches(presented) {
        return unauthorized("/");
    }
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, HeaderValue::from_static("/"));
    headers.insert(header::SET_COOKIE, guard.cookie_header());
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn unauthorized(path: &str) -> Response {
    let err = ServeError::new(
        StatusCode::UNAUTHORIZED,
        "missing_key",
        "this server needs the key it printed when it started",
    )
    .hint("open the exact URL `datachonk serve` printed (…/?key=…), or send `Authorization: Bearer KEY`");
    if path.starts_with("/api/") {
        return err.into_response();
    }
    let page = format!(
        "<!doctype html><meta charset=utf-8><title>datachonk serve</title>\
         <p>{}.</p><p>{}</p>",
        err.message,
        err.hints[0].replace('<', "&lt;")
    );
    let mut response = (StatusCode::UNAUTHORIZED, page).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

fn preflight(cors_origin: Option<String>) -> Response {
    let Some(origin) = cors_origin else {
        return ServeError::new(
            StatusCode::FORBIDDEN,
            "foreign_origin",
            "cross-origin requests are not allowed",
        )
        .hint("start serve with --allow-origin URL to allow a web origin")
        .into_response();
    };
    let mut response = StatusCode::NO_CONTENT.into_response();
    let h = response.headers_mut();
    add_cors(h, &origin);
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization, content-type"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    response
}

fn add_cors(headers: &mut HeaderMap, origin: &str) {
    if let Ok(v) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
}

/// The whole body, at most [`MAX_BODY`] bytes, within [`BODY_TIMEOUT`].
async fn read_body(request: Request) -> Result<Request, ServeError> {
    let too_large = || {
        ServeError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("request bodies are limited to {} KiB", MAX_BODY / 1024),
        )
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY) {
        return Err(too_large());
    }
    let (parts, body) = request.into_parts();
    let bytes = tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, MAX_BODY))
        .await
        .map_err(|_| {
            ServeError::new(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                "the request body did not arrive in time",
            )
        })?
        .map_err(|_| too_large())?;
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A fresh key: 32 bytes from the OS's CSPRNG, hex.
pub fn new_key() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn only_the_servers_own_names_pass_the_host_check() {
        let g = Guard::new(
            "k".repeat(8),
            "127.0.0.1:8765".parse().unwrap(),
            false,
            vec![],
        );
        assert!(g
            .host_ok(&headers(&[(header::HOST, "127.0.0.1:8765")]))
            .is_some());
        assert!(g
            .host_ok(&headers(&[(header::HOST, "LOCALHOST:8765")]))
            .is_some());
        assert!(g
            .host_ok(&headers(&[(header::HOST, "evil.example:8765")]))
            .is_none());
        assert!(g
            .host_ok(&headers(&[(header::HOST, "127.0.0.1:9999")]))
            .is_none());
        assert!(g.host_ok(&HeaderMap::new()).is_none());
    }

    #[test]
    fn the_key_is_accepted_from_bearer_or_cookie_only_when_exact() {
        let key = "ab".repeat(32);
        let g = Guard::new(key.clone(), "127.0.0.1:1".parse().unwrap(), false, vec![]);
        let bearer = format!("Bearer {key}");
        assert_eq!(
            g.credential(&headers(&[(header::AUTHORIZATION, &bearer)])),
            Some(Credential::Bearer)
        );
        let cookie = format!("other=1; {COOKIE}_1={}", g.session);
        assert_eq!(
            g.credential(&headers(&[(header::COOKIE, &cookie)])),
            Some(Credential::Cookie)
        );
        // The cookie carries the session, not the key; and another port's cookie is not ours.
        assert_ne!(g.session, key);
        for other in [
            format!("{COOKIE}_1={key}"),
            format!("{COOKIE}_2={}", g.session),
            format!("{COOKIE}={}", g.session),
        ] {
            assert_eq!(
                g.credential(&headers(&[(header::COOKIE, &other)])),
                None,
                "{other}"
            );
        }
        let again = Guard::new(key.clone(), "127.0.0.1:1".parse().unwrap(), false, vec![]);
        assert_ne!(again.session, g.session, "a new session for each start");
        let wrong = format!("Bearer {}", "ab".repeat(31));
        assert_eq!(
            g.credential(&headers(&[(header::AUTHORIZATION, &wrong)])),
            None
        );
        // A wrong bearer is not rescued by a right cookie.
        assert_eq!(
            g.credential(&headers(&[
                (header::AUTHORIZATION, "Bearer nope"),
                (header::COOKIE, &cookie)
            ])),
            None
        );
    }

    #[test]
    fn keys_are_long_and_fresh() {
        let (a, b) = (new_key().unwrap(), new_key().unwrap());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
    }
}
