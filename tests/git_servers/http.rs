//! Smart HTTP: the real `git http-backend` (from git's exec path) behind a small CGI bridge on
//! 127.0.0.1, with HTTP basic auth required for pushes (receive-pack), as a forge would.
//!
//! The bridge is written here on the axum/tokio already in the tree rather than installing a
//! Debian web server: nothing more to install on CI, no config file dialect, a free port taken
//! from the OS, and the test can count the authentication attempts it saw (the proof that a
//! wrong password does not make datachonk loop).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;

use super::World;

/// What the server saw.
#[derive(Default)]
pub struct Seen {
    /// receive-pack requests refused for missing or wrong credentials.
    pub refused: AtomicUsize,
    /// receive-pack requests with the right credentials.
    pub accepted: AtomicUsize,
    /// The user names offered (the passwords are not kept).
    pub users: Mutex<Vec<String>>,
}

struct Backend {
    program: PathBuf,
    project_root: PathBuf,
    /// Hermetic environment of the world, as a map (the CGI gets exactly this plus CGI vars).
    env: Vec<(String, String)>,
    /// `Basic base64(user:password)` that receive-pack requires.
    expected: String,
    seen: Arc<Seen>,
}

/// The running server; stopped when dropped.
pub struct HttpServer {
    runtime: Option<tokio::runtime::Runtime>,
    pub port: u16,
    pub seen: Arc<Seen>,
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl HttpServer {
    /// `http://127.0.0.1:PORT/remote.git`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/remote.git", self.port)
    }
}

/// Serve `world`'s directory; pushes need `user`:`password`.
pub fn start(world: &World, user: &str, password: &str) -> HttpServer {
    let exec_path = world.git_ok(world.dir.path(), &["--exec-path"]);
    let program = PathBuf::from(exec_path).join("git-http-backend");
    assert!(
        program.is_file(),
        "{} is missing: git's smart HTTP backend is needed (scripts/setup-test-deps)",
        program.display()
    );
    let mut probe = Command::new("true");
    world.env(&mut probe);
    let env = hermetic_env(&probe);
    let seen = Arc::new(Seen::default());
    let backend = Arc::new(Backend {
        program,
        project_root: world.dir.path().to_path_buf(),
        env,
        expected: format!("Basic {}", base64(format!("{user}:{password}").as_bytes())),
        seen: seen.clone(),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    runtime.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
        let app = axum::Router::new().fallback(cgi).with_state(backend);
        axum::serve(listener, app).await.expect("http server");
    });
    HttpServer {
        runtime: Some(runtime),
        port,
        seen,
    }
}

/// The environment `world.env` gives a command, as a list (inherited variables minus the
/// removed ones, plus the set ones).
fn hermetic_env(cmd: &Command) -> Vec<(String, String)> {
    let mut env: HashMap<String, String> = std::env::vars().collect();
    for (k, v) in cmd.get_envs() {
        let k = k.to_string_lossy().into_owned();
        match v {
            Some(v) => {
                env.insert(k, v.to_string_lossy().into_owned());
            }
            None => {
                env.remove(&k);
            }
        }
    }
    env.into_iter().collect()
}

/// One request: authenticate pushes, then run git-http-backend as a CGI script.
async fn cgi(State(backend): State<Arc<Backend>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or("").to_string();
    let is_push = path.ends_with("/git-receive-pack") || query.contains("service=git-receive-pack");
    let mut remote_user = None;
    if is_push {
        let auth = parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if let Some(user) = basic_user(auth) {
            backend.seen.users.lock().unwrap().push(user.clone());
            if auth == backend.expected {
                remote_user = Some(user);
            }
        }
        match remote_user {
            Some(_) => backend.seen.accepted.fetch_add(1, Ordering::SeqCst),
            None => {
                backend.seen.refused.fetch_add(1, Ordering::SeqCst);
                return Response::builder()
                    .status(StatusCode::UNAUTHORIZED)
                    .header("WWW-Authenticate", "Basic realm=\"datachonk test\"")
                    .body(Body::from("authentication required\n"))
                    .unwrap();
            }
        };
    }
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let content_type = header("content-type");
    let encoding = header("content-encoding");
    let method = parts.method.to_string();
    // The body is collected (libgit2 sends it chunked), then fed to the CGI's stdin.
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => return error(format!("reading the request body: {e}")),
    };
    let backend2 = backend.clone();
    let result = tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new(&backend2.program);
        cmd.env_clear()
            .envs(backend2.env.iter().map(|(k, v)| (k, v)))
            .env("GIT_PROJECT_ROOT", &backend2.project_root)
            .env("GIT_HTTP_EXPORT_ALL", "1")
            .env("GATEWAY_INTERFACE", "CGI/1.1")
            .env("SERVER_PROTOCOL", "HTTP/1.1")
            .env("REQUEST_METHOD", &method)
            .env("PATH_INFO", &path)
            .env("QUERY_STRING", &query)
            .env("REMOTE_ADDR", "127.0.0.1")
            .env("CONTENT_LENGTH", body.len().to_string());
        if let Some(t) = &content_type {
            cmd.env("CONTENT_TYPE", t);
        }
        if let Some(e) = &encoding {
            cmd.env("HTTP_CONTENT_ENCODING", e);
        }
        // git-http-backend enables receive-pack only for an authenticated REMOTE_USER.
        if let Some(u) = &remote_user {
            cmd.env("REMOTE_USER", u);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let mut stdin = child.stdin.take().unwrap();
        // Write on another thread: the CGI may answer before it has read everything.
        let writer = std::thread::spawn(move || stdin.write_all(&body));
        let mut out = Vec::new();
        child.stdout.take().unwrap().read_to_end(&mut out)?;
        let _ = writer.join();
        child.wait()?;
        Ok::<_, std::io::Error>(out)
    })
    .await;
    match result {
        Ok(Ok(out)) => cgi_response(&out),
        Ok(Err(e)) => error(format!("git-http-backend: {e}")),
        Err(e) => error(format!("git-http-backend task: {e}")),
    }
}

/// CGI output: header lines (with `Status:`), a blank line, the body.
fn cgi_response(out: &[u8]) -> Response {
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, i + 4))
        .or_else(|| {
            out.windows(2)
                .position(|w| w == b"\n\n")
                .map(|i| (i, i + 2))
        });
    let Some((end, body_start)) = split else {
        return error("git-http-backend wrote no headers".into());
    };
    let mut builder = Response::builder().status(StatusCode::OK);
    for line in String::from_utf8_lossy(&out[..end]).lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value.split_whitespace().next().unwrap_or("500");
            builder = builder.status(code.parse::<u16>().unwrap_or(500));
        } else if let Ok(v) = HeaderValue::from_str(value) {
            builder = builder.header(name.trim(), v);
        }
    }
    builder
        .body(Body::from(out[body_start..].to_vec()))
        .unwrap()
}

fn error(message: String) -> Response {
    Response::builder()
        .status(StatusCode::INTERNAL_SERVER_ERROR)
        .body(Body::from(message))
        .unwrap()
}

/// The user name in `Basic base64(user:password)`.
fn basic_user(header: &str) -> Option<String> {
    let encoded = header.strip_prefix("Basic ")?;
    let decoded = unbase64(encoded.trim())?;
    let text = String::from_utf8(decoded).ok()?;
    Some(text.split_once(':')?.0.to_string())
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn unbase64(text: &str) -> Option<Vec<u8>> {
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.bytes().filter(|&c| c != b'=') {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        bits = (bits << 6) | v;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    Some(out)
}
