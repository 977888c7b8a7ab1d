//! A minimal blocking W3C WebDriver client: Debian's chromedriver driving a headless Chromium,
//! for the tests that prove `datachonk serve`'s page in a real browser.
//!
//! Why not a crate: the tests need a handful of endpoints (new session, navigate, find,
//! click, send keys, text, execute script, screenshot); the Rust clients (fantoccini,
//! thirtyfour) are async, bring their own HTTP stack and a dozen crates to build on a 2-core
//! machine, while `reqwest::blocking` is already a dev-dependency and the protocol is JSON.
//!
//! Chromium and chromedriver are found at `$DATACHONK_TEST_CHROMIUM` /
//! `$DATACHONK_TEST_CHROMEDRIVER`, else on PATH (`chromium`, `chromedriver`);
//! `scripts/setup-test-deps` installs them. A missing one fails the test with that advice.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The W3C key under which an element reference travels.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Flags for Chromium in this closed network: without the background-networking ones its
/// connections to Google's services are refused and slow every start.
const CHROMIUM_ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--disable-extensions",
];

/// An error answered by the driver (`{"value": {"error", "message"}}`) or by the transport.
#[derive(Debug)]
pub struct WebDriverError {
    pub error: String,
    pub message: String,
}

impl std::fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.message)
    }
}

/// Find an executable: the environment variable, else the first of `names` on PATH.
fn find_program(var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(var) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// chromedriver on a free loopback port and one headless Chromium session; both end on drop.
pub struct Browser {
    http: reqwest::blocking::Client,
    driver: Child,
    base: String,
    _profile: tempfile::TempDir,
}

/// A reference to an element of the current page.
#[derive(Clone, Debug)]
pub struct Element(String);

impl Browser {
    /// Start chromedriver and a headless Chromium with a fresh profile and a window of
    /// `width`×`height` CSS pixels.
    pub fn start(width: u32, height: u32) -> Browser {
        const ADVICE: &str = "the browser tests need Debian's chromium and chromium-driver: \
                              run scripts/setup-test-deps (or apt-get install chromium chromium-driver)";
        let driver_path = find_program("DATACHONK_TEST_CHROMEDRIVER", &["chromedriver"])
            .unwrap_or_else(|| panic!("chromedriver not found on PATH: {ADVICE}"));
        let chromium = find_program(
            "DATACHONK_TEST_CHROMIUM",
            &["chromium", "chromium-browser", "google-chrome"],
        )
        .unwrap_or_else(|| panic!("chromium not found on PATH: {ADVICE}"));
        let profile = tempfile::tempdir().expect("a profile directory");
        // reqwest is built without a default TLS provider; chromedriver is plain HTTP, but the
        // client will not build without one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::blocking::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("an HTTP client");

        // A port picked then freed can be taken by someone else before chromedriver binds it:
        // try a few.
        let mut last_error = String::new();
        for _ in 0..3 {
            let port = free_port();
            let mut driver = Command::new(&driver_path)
                .arg(format!("--port={port}"))
                .arg("--allowed-ips=127.0.0.1")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("cannot start {}: {e}; {ADVICE}", driver_path.display())
                });
            let base = format!("http://127.0.0.1:{port}");
            if !wait_ready(&http, &base, &mut driver, Duration::from_secs(20)) {
                let _ = driver.kill();
                let _ = driver.wait();
                last_error = format!("chromedriver did not answer on {base}");
                continue;
            }
            let capabilities = json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "pageLoadStrategy": "normal",
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": CHROMIUM_ARGS.iter().map(|a| a.to_string())
                        .chain([
                            format!("--window-size={width},{height}"),
                            format!("--user-data-dir={}", profile.path().display()),
                        ])
                        .collect::<Vec<_>>(),
                },
            }}});
            match send(
                &http,
                reqwest::Method::POST,
                &format!("{base}/session"),
                Some(&capabilities),
            ) {
                Ok(value) => {
                    let session = value["sessionId"]
                        .as_str()
                        .expect("a session id")
                        .to_string();
                    return Browser {
                        http,
                        driver,
                        base: format!("{base}/session/{session}"),
                        _profile: profile,
                    };
                }
                Err(e) => {
                    let _ = driver.kill();
                    let _ = driver.wait();
                    last_error =
                        format!("chromedriver could not start {}: {e}", chromium.display());
                }
            }
        }
        panic!("{last_error}; {ADVICE}");
    }

    fn cmd(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, WebDriverError> {
        send(&self.http, method, &format!("{}{path}", self.base), body)
    }

    fn post(&self, path: &str, body: Value) -> Result<Value, WebDriverError> {
        self.cmd(reqwest::Method::POST, path, Some(&body))
    }

    fn get(&self, path: &str) -> Result<Value, WebDriverError> {
        self.cmd(reqwest::Method::GET, path, None)
    }

    /// Navigate and wait for the page to load.
    pub fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url }))
            .unwrap_or_else(|e| panic!("navigating to {url}: {e}"));
    }

    /// Reload the page, as the browser's reload button.
    pub fn refresh(&self) {
        self.post("/refresh", json!({}))
            .unwrap_or_else(|e| panic!("reloading: {e}"));
    }

    pub fn current_url(&self) -> String {
        self.get("/url")
            .expect("current URL")
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The first element matching the CSS selector, if any.
    pub fn try_find(&self, css: &str) -> Option<Element> {
        match self.post("/element", json!({"using": "css selector", "value": css})) {
            Ok(v) => Some(Element(v[ELEMENT_KEY].as_str()?.to_string())),
            Err(e) if e.error == "no such element" => None,
            Err(e) => panic!("finding {css}: {e}"),
        }
    }

    pub fn find(&self, css: &str) -> Element {
        self.try_find(css)
            .unwrap_or_else(|| panic!("no element matches {css}; page text:\n{}", self.page_text()))
    }

    pub fn click(&self, element: &Element) {
        self.post(&format!("/element/{}/click", element.0), json!({}))
            .unwrap_or_else(|e| panic!("clicking {element:?}: {e}"));
    }

    pub fn clear(&self, element: &Element) {
        self.post(&format!("/element/{}/clear", element.0), json!({}))
            .unwrap_or_else(|e| panic!("clearing {element:?}: {e}"));
    }

    /// Type `text` into the element, as keystrokes.
    pub fn send_keys(&self, element: &Element, text: &str) {
        self.post(
            &format!("/element/{}/value", element.0),
            json!({ "text": text }),
        )
        .unwrap_or_else(|e| panic!("typing into {element:?}: {e}"));
    }

    /// Press keys on whatever has the focus (WebDriver actions: a key down and up per
    /// character; `\u{E004}` is Tab, `\u{E007}` Enter).
    pub fn press(&self, keys: &str) {
        let actions: Vec<Value> = keys
            .chars()
            .flat_map(|c| {
                [
                    json!({"type": "keyDown", "value": c.to_string()}),
                    json!({"type": "keyUp", "value": c.to_string()}),
                ]
            })
            .collect();
        self.post(
            "/actions",
            json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]}),
        )
        .unwrap_or_else(|e| panic!("pressing {keys:?}: {e}"));
    }

    /// The id of the element that has the focus ("" for none).
    pub fn focused_id(&self) -> String {
        self.execute(
            "return document.activeElement ? document.activeElement.id : ''",
            json!([]),
        )
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// The element's rendered text (empty when it is hidden).
    pub fn text(&self, element: &Element) -> Result<String, WebDriverError> {
        self.get(&format!("/element/{}/text", element.0))
            .map(|v| v.as_str().unwrap_or_default().to_string())
    }

    /// The rendered text of the first element matching `css`; None when there is none (or it
    /// was replaced between finding and reading it).
    pub fn text_of(&self, css: &str) -> Option<String> {
        self.text(&self.try_find(css)?).ok()
    }

    /// Whether an element matching `css` is on the page and rendered (not `hidden`, not
    /// `display: none`, not `visibility: hidden`).
    pub fn is_displayed(&self, css: &str) -> bool {
        self.execute(
            "const e = document.querySelector(arguments[0]);
             return !!e && e.getClientRects().length > 0
                 && getComputedStyle(e).visibility !== 'hidden';",
            json!([css]),
        )
        .as_bool()
            == Some(true)
    }

    /// Run `script` (a function body; `arguments` holds `args`) in the page; its return value.
    pub fn execute(&self, script: &str, args: Value) -> Value {
        self.post("/execute/sync", json!({ "script": script, "args": args }))
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// A Chrome DevTools Protocol command through chromedriver (`goog/cdp/execute`).
    pub fn cdp(&self, command: &str, params: Value) -> Value {
        self.post(
            "/goog/cdp/execute",
            json!({ "cmd": command, "params": params }),
        )
        .unwrap_or_else(|e| panic!("CDP {command}: {e}"))
    }

    /// Emulate `prefers-color-scheme: dark` (or `light`).
    pub fn prefer_color_scheme(&self, scheme: &str) {
        self.cdp(
            "Emulation.setEmulatedMedia",
            json!({"features": [{"name": "prefers-color-scheme", "value": scheme}]}),
        );
    }

    /// Everything the page shows, for failure messages.
    pub fn page_text(&self) -> String {
        self.post(
            "/execute/sync",
            json!({"script": "return document.body ? document.body.innerText : ''", "args": []}),
        )
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .unwrap_or_else(|e| format!("(page text unavailable: {e})"))
    }

    /// The text of the open `window.confirm`/`alert` dialog, if one is open.
    pub fn dialog_text(&self) -> Option<String> {
        match self.get("/alert/text") {
            Ok(text) => Some(text.as_str().unwrap_or_default().to_string()),
            Err(e) if e.error == "no such alert" => None,
            Err(e) => panic!("reading the dialog: {e}"),
        }
    }

    /// Answer the open dialog: OK (`accept`) or Cancel.
    pub fn answer_dialog(&self, accept: bool) {
        let path = if accept {
            "/alert/accept"
        } else {
            "/alert/dismiss"
        };
        self.post(path, json!({}))
            .unwrap_or_else(|e| panic!("answering the dialog: {e}"));
    }

    /// A PNG of the viewport.
    pub fn screenshot(&self) -> Vec<u8> {
        let encoded = self.get("/screenshot").expect("a screenshot");
        base64_decode(encoded.as_str().expect("base64 text")).expect("valid base64")
    }

    /// Save a screenshot where a failing test's artefacts go; its path.
    pub fn save_screenshot(&self, name: &str) -> PathBuf {
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.png"));
        std::fs::write(&path, self.screenshot()).expect("screenshot written");
        path
    }

    /// Poll `probe` until it returns Some, for at most `limit`; on timeout, fail with `what`,
    /// the page's text and a screenshot's path. No fixed sleeps: a short pause between polls.
    pub fn wait_for<T>(
        &self,
        limit: Duration,
        what: &str,
        mut probe: impl FnMut(&Browser) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(found) = probe(self) {
                return found;
            }
            if Instant::now() >= deadline {
                let shot = self.save_screenshot(&format!("timeout-{}", sanitize(what)));
                panic!(
                    "timed out after {limit:?} waiting for {what}\nscreenshot: {}\npage text:\n{}",
                    shot.display(),
                    self.page_text()
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.cmd(reqwest::Method::DELETE, "", None);
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn sanitize(what: &str) -> String {
    what.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(60)
        .collect()
}

fn wait_ready(
    http: &reqwest::blocking::Client,
    base: &str,
    driver: &mut Child,
    limit: Duration,
) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = driver.try_wait() {
            return false; // exited: the port was taken, or it cannot run
        }
        if let Ok(v) = send(http, reqwest::Method::GET, &format!("{base}/status"), None) {
            if v["ready"].as_bool() == Some(true) {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// One WebDriver command: its `value`, or the driver's error.
fn send(
    http: &reqwest::blocking::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<&Value>,
) -> Result<Value, WebDriverError> {
    let mut request = http.request(method, url);
    if let Some(body) = body {
        request = request.json(body);
    }
    let transport = |e: reqwest::Error| WebDriverError {
        error: "transport".into(),
        message: e.to_string(),
    };
    let response = request.send().map_err(transport)?;
    let ok = response.status().is_success();
    let mut doc: Value = response.json().map_err(transport)?;
    let value = doc["value"].take();
    if ok {
        Ok(value)
    } else {
        Err(WebDriverError {
            error: value["error"]
                .as_str()
                .unwrap_or("unknown error")
                .to_string(),
            message: value["message"].as_str().unwrap_or_default().to_string(),
        })
    }
}

/// Standard base64 (screenshots are the only use), without a crate for it.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    fn sextet(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let bytes: Vec<u8> = text
        .bytes()
        .filter(|b| !b.is_ascii_whitespace() && *b != b'=')
        .collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= sextet(c)? << (18 - 6 * i);
        }
        let n = chunk.len();
        if n < 2 {
            return None;
        }
        out.push((acc >> 16) as u8);
        if n > 2 {
            out.push((acc >> 8) as u8);
        }
        if n > 3 {
            out.push(acc as u8);
        }
    }
    Some(out)
}
