//! `datachonk serve`'s page in a real browser: Debian's headless Chromium driven over WebDriver
//! (tests/support/webdriver.rs), against `serve` pointed at a sandbox. A person opens the URL
//! serve printed, connects, picks a job, types a cause, presses Trigger Run and watches the run
//! to its verdict; a failing job shows Error and the failing node; a wrong token is explained.
//!
//! Needs `chromium` and `chromedriver` (scripts/setup-test-deps installs them): without them
//! these tests fail, they do not skip. Waits poll the page with a deadline, never fixed sleeps.

mod sandbox_repo;
mod support;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use datachonk::sandbox::RunningSandbox;
use serde_json::{json, Value};
use support::webdriver::Browser;
use support::{sandbox, workdir, TOKEN};

/// Long enough for a cold Chromium and a run on a busy 2-core CI machine.
const WAIT: Duration = Duration::from_secs(45);

/// WebDriver's Enter and Tab keys.
const ENTER: &str = "\u{E007}";
const TAB: &str = "\u{E004}";

/// `datachonk serve --addr 127.0.0.1:0` in a fresh repository, DBT_CLOUD_ACCESS_URL pointing it
/// at the sandbox. Without a datachonk.yaml and a token it starts unconnected.
struct Serve {
    child: Child,
    /// The first stdout line: `http://127.0.0.1:PORT/?key=…`.
    url: String,
    /// Everything serve wrote (request log on stderr, the rest of stdout), for the token scan.
    output: Arc<Mutex<String>>,
    _dir: Option<tempfile::TempDir>,
}

impl Serve {
    fn start(sandbox: &RunningSandbox) -> Serve {
        Serve::start_configured(sandbox, None)
    }

    /// With `config` as datachonk.yaml and the token in DBT_CLOUD_API_TOKEN: connected from
    /// the start.
    fn start_configured(sandbox: &RunningSandbox, config: Option<&str>) -> Serve {
        let dir = workdir();
        let path = dir.path().to_path_buf();
        Serve::launch(sandbox, &path, Some(dir), config, config.is_some())
    }

    /// serve in `dir` (kept alive by `keep`), with `config` as its datachonk.yaml and, with
    /// `token`, the token in DBT_CLOUD_API_TOKEN.
    fn launch(
        sandbox: &RunningSandbox,
        dir: &Path,
        keep: Option<tempfile::TempDir>,
        config: Option<&str>,
        token: bool,
    ) -> Serve {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_datachonk"));
        for (name, _) in datachonk::config::ENV_VARS {
            cmd.env_remove(name);
        }
        if let Some(config) = config {
            std::fs::write(dir.join("datachonk.yaml"), config).expect("datachonk.yaml");
        }
        if token {
            cmd.env("DBT_CLOUD_API_TOKEN", TOKEN);
        }
        let mut child = cmd
            .args(["--no-input", "serve", "--addr", "127.0.0.1:0"])
            .current_dir(dir)
            .env("DBT_CLOUD_ACCESS_URL", sandbox.base_url())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("datachonk serve starts");
        let output = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr");
        collect(stderr, Arc::clone(&output));
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut first = String::new();
        stdout.read_line(&mut first).expect("serve's first line");
        collect(stdout, Arc::clone(&output));
        let url = first.trim().to_string();
        if !url.starts_with("http://127.0.0.1:") || !url.contains("/?key=") {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "serve's first line is not its URL: {url:?}\nits output:\n{}",
                output.lock().unwrap()
            );
        }
        Serve {
            child,
            url,
            output,
            _dir: keep,
        }
    }

    fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Read a child's stream to its end on a thread (a full pipe would stall the server).
fn collect(stream: impl Read + Send + 'static, into: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
            into.lock().unwrap().push_str(&line);
            line.clear();
        }
    });
}

/// A laptop-sized browser on serve's printed URL, once the page knows whether serve is
/// connected.
fn open(serve: &Serve) -> Browser {
    let browser = Browser::start(1280, 900);
    browser.goto(&serve.url);
    browser.wait_for(WAIT, "the page to load the connection status", |b| {
        b.try_find("body[data-connected]")
    });
    assert!(
        !browser.current_url().contains("key="),
        "the key is exchanged for a cookie and leaves the address bar: {}",
        browser.current_url()
    );
    browser
}

/// Type the token and account id and connect (with Enter: the form is a real form); wait for
/// the job picker.
fn connect(browser: &Browser, token: &str) {
    assert!(
        browser.is_displayed("#connect-form"),
        "not connected: the connect form is shown"
    );
    let field = browser.find("#token");
    browser.clear(&field);
    browser.send_keys(&field, token);
    let account = browser.find("#account-id");
    browser.clear(&account);
    browser.send_keys(&account, "1");
    browser.send_keys(&account, ENTER);
    browser.wait_for(WAIT, "the job picker after connecting", |b| {
        b.is_displayed("#job").then_some(())
    });
    assert!(
        !browser.is_displayed("#connect-form"),
        "connected: no connect form"
    );
    assert_eq!(
        browser.execute("return document.getElementById('token').value", json!([])),
        json!(""),
        "the token does not stay in the page once connected"
    );
}

/// Pick the job with this id in the job picker, as a person does (a click on its option).
fn pick_job(browser: &Browser, job_id: i64) {
    let css = format!("#job option[value='job:{job_id}']");
    let option = browser.wait_for(WAIT, "the job in the picker", |b| b.try_find(&css));
    browser.click(&option);
    assert_eq!(
        browser.execute("return document.getElementById('job').value", json!([])),
        json!(format!("job:{job_id}"))
    );
}

/// Record every text the status badge shows from now on, in the page (a MutationObserver), so
/// a state shorter than one WebDriver round trip is not missed.
fn record_badge(browser: &Browser) {
    browser.execute(
        "window.__badge = [];
         const badge = document.getElementById('run-status');
         const note = () => {
             const t = badge.textContent;
             if (t && window.__badge[window.__badge.length - 1] !== t) window.__badge.push(t);
         };
         new MutationObserver(note)
             .observe(badge, { childList: true, characterData: true, subtree: true });",
        json!([]),
    );
}

fn badge_history(browser: &Browser) -> Vec<String> {
    let seen = browser.execute("return window.__badge", json!([]));
    serde_json::from_value(seen).expect("the badge's history")
}

/// Type a cause, press Trigger Run and wait for the verdict badge (`Success`, `Error`, …);
/// returns the run's id as the page shows it.
fn trigger_and_wait(browser: &Browser, cause: &str, verdict: &str) -> i64 {
    let field = browser.find("#cause");
    browser.clear(&field);
    browser.send_keys(&field, cause);
    record_badge(browser);
    browser.click(&browser.find("#trigger"));
    browser.wait_for(WAIT, &format!("the status badge to show {verdict}"), |b| {
        b.text_of("#run-status").filter(|t| t == verdict)
    });
    let history = badge_history(browser);
    assert_eq!(
        history.last().map(String::as_str),
        Some(verdict),
        "{history:?}"
    );
    assert!(
        history[..history.len() - 1]
            .iter()
            .any(|s| s == "Queued" || s == "Running"),
        "the badge went through Queued or Running before {verdict}: {history:?}"
    );
    let id = browser.text_of("#run-id").expect("the run's id");
    id.trim_start_matches('#')
        .parse()
        .unwrap_or_else(|_| panic!("a run id, not {id:?}"))
}

fn assert_no_token(serve: &Serve, browser: &Browser) {
    assert!(
        !serve.output().contains(TOKEN),
        "the token is in serve's output:\n{}",
        serve.output()
    );
    let html = browser.execute("return document.documentElement.outerHTML", json!([]));
    assert!(
        !html.as_str().unwrap_or_default().contains(TOKEN),
        "the token is in the page"
    );
}

/// Emulate a phone's screen (390 CSS pixels wide, as an iPhone 14) and check nothing on the
/// page is wider than it.
fn assert_fits_a_phone(browser: &Browser) {
    browser.cdp(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 390, "height": 844, "deviceScaleFactor": 3, "mobile": true}),
    );
    browser.wait_for(WAIT, "the phone layout", |b| {
        (b.execute("return window.innerWidth", json!([])) == json!(390)).then_some(())
    });
    let overflow = browser.execute(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
        json!([]),
    );
    assert!(
        overflow.as_i64() <= Some(0),
        "no horizontal scrolling on a phone: {overflow} px too wide"
    );
}

#[test]
fn a_wrong_token_is_explained_then_a_job_is_triggered_and_watched_to_success() {
    let sandbox = sandbox(&[]);
    let serve = Serve::start(&sandbox);
    let browser = open(&serve);

    // The access URL serve was started with is offered; a token dbt Cloud refuses is explained.
    assert_eq!(
        browser.execute(
            "return document.getElementById('access-url').value",
            json!([])
        ),
        json!(sandbox.base_url())
    );
    browser.send_keys(&browser.find("#token"), "not-a-real-token");
    browser.send_keys(&browser.find("#account-id"), "1");
    browser.click(&browser.find("#connect"));
    let explanation = browser.wait_for(WAIT, "the 401 explanation", |b| {
        b.text_of("#connect-error").filter(|t| !t.is_empty())
    });
    assert!(explanation.contains("401"), "{explanation}");
    let hints = browser.execute(
        "return document.querySelectorAll('#connect-error li').length",
        json!([]),
    );
    assert!(
        hints.as_u64() >= Some(1),
        "the explanation says what to do: {explanation}"
    );
    assert!(browser.is_displayed("#connect-form"), "still not connected");
    assert!(
        !explanation.contains("not-a-real-token"),
        "the token is not echoed: {explanation}"
    );

    connect(&browser, TOKEN);
    let header = browser.text_of("#connection").unwrap_or_default();
    assert!(header.contains("Test Analytics"), "{header}");
    assert!(
        !browser.is_displayed("#connect-error"),
        "the old error is gone"
    );

    pick_job(&browser, 1);
    let run_id = trigger_and_wait(&browser, "from the browser test", "Success");

    // The run dbt Cloud (the sandbox) received is the one the page shows, with the cause typed.
    let run = sandbox.run(run_id).expect("the run is in the sandbox");
    assert_eq!(run.job_id, 1);
    assert!(
        run.trigger.cause.contains("from the browser test"),
        "{:?}",
        run.trigger.cause
    );

    // Steps as they ran, each with a duration; the verdict; the link to the run.
    let steps: Vec<Value> = serde_json::from_value(browser.execute(
        "return Array.from(document.querySelectorAll('#steps li')).map(li => ({
             status: li.dataset.status,
             name: li.querySelector('.name').textContent,
             duration: li.querySelector('.dur').textContent }))",
        json!([]),
    ))
    .expect("steps");
    assert!(!steps.is_empty(), "the run's steps are listed");
    for step in &steps {
        assert_eq!(step["status"], "Success", "{steps:?}");
        assert!(
            step["duration"]
                .as_str()
                .unwrap_or_default()
                .ends_with(" s"),
            "each finished step shows its duration: {steps:?}"
        );
    }
    assert!(
        steps
            .iter()
            .any(|s| s["name"].as_str().unwrap_or_default().contains("dbt build")),
        "{steps:?}"
    );
    let verdict = browser.text_of("#verdict").expect("a verdict");
    assert!(verdict.contains("Success"), "{verdict}");
    assert!(
        !browser.is_displayed("#failing-nodes"),
        "no failing nodes on success"
    );
    let href = browser.execute(
        "return document.getElementById('run-link').getAttribute('href')",
        json!([]),
    );
    let href = href.as_str().unwrap_or_default();
    assert!(
        href.contains(&format!("/runs/{run_id}")),
        "the link goes to the run in dbt Cloud: {href:?}"
    );
    assert!(browser.is_displayed("#run-link"));

    // The job's recent runs, refreshed after the verdict, list this run.
    browser.wait_for(WAIT, "the run in the job's recent runs", |b| {
        b.text_of("#recent-runs")
            .filter(|t| t.contains(&format!("#{run_id}")) && t.contains("from the browser test"))
    });

    assert_no_token(&serve, &browser);
}

#[test]
fn a_failing_job_shows_error_and_its_failing_node() {
    let sandbox = sandbox(&[]);
    let serve = Serve::start(&sandbox);
    let browser = open(&serve);
    connect(&browser, TOKEN);

    pick_job(&browser, 2);
    let run_id = trigger_and_wait(&browser, "a broken model", "Error");
    assert_eq!(sandbox.run(run_id).expect("the run").job_id, 2);

    let verdict = browser.wait_for(WAIT, "the verdict", |b| {
        b.text_of("#verdict").filter(|t| !t.is_empty())
    });
    assert!(verdict.contains("Error"), "{verdict}");
    let failing = browser.wait_for(WAIT, "the failing nodes", |b| {
        b.text_of("#failing-nodes").filter(|t| !t.is_empty())
    });
    assert!(failing.contains("stg_orders"), "{failing}");
    assert!(
        failing.contains("column \"amount\" does not exist"),
        "the node's message is shown: {failing}"
    );
    let failed_steps = browser.execute(
        "return document.querySelectorAll('#steps li[data-status=\"Error\"]').length",
        json!([]),
    );
    assert_eq!(failed_steps, json!(1), "the failing step is marked");

    // The run is in the address: a reload shows it again, verdict and failing node included.
    let address = browser.current_url();
    assert!(address.ends_with(&format!("#run={run_id}")), "{address}");
    browser.execute("window.__before_reload = true", json!([]));
    browser.refresh();
    assert_eq!(
        browser.execute("return window.__before_reload === undefined", json!([])),
        json!(true),
        "the page was reloaded"
    );
    browser.wait_for(WAIT, "the run after a reload", |b| {
        b.text_of("#failing-nodes")
            .filter(|t| t.contains("stg_orders"))
    });
    assert_eq!(browser.text_of("#run-id"), Some(format!("#{run_id}")));
    assert_eq!(browser.text_of("#run-status").as_deref(), Some("Error"));

    // The node's long message wraps: the page still fits a phone.
    assert_fits_a_phone(&browser);

    assert_no_token(&serve, &browser);
}

#[test]
fn a_run_is_triggered_with_the_keyboard_alone_and_the_page_follows_the_colour_scheme() {
    let sandbox = sandbox(&[]);
    let serve = Serve::start(&sandbox);
    let browser = open(&serve);

    // Tab from the top of the page to the token field; type; Tab to the account id; Enter.
    browser.execute(
        "document.activeElement && document.activeElement.blur()",
        json!([]),
    );
    tab_to(&browser, "token");
    let outlined = browser.execute(
        "const s = getComputedStyle(document.activeElement);
         return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0",
        json!([]),
    );
    assert_eq!(
        outlined,
        json!(true),
        "the focused field is visibly outlined"
    );
    browser.press(TOKEN);
    tab_to(&browser, "account-id");
    browser.press("1");
    browser.press(ENTER);
    browser.wait_for(WAIT, "the jobs, loaded", |b| {
        b.try_find("#job:enabled option[value='job:1']")
    });

    // Connected, the focus is on the project; Tab to the job (the first, job 1, is chosen),
    // to the cause, type it, Tab to Trigger Run, Enter.
    assert_eq!(browser.focused_id(), "project");
    tab_to(&browser, "job");
    assert_eq!(
        browser.execute("return document.getElementById('job').value", json!([])),
        json!("job:1")
    );
    tab_to(&browser, "cause");
    browser.press("typed with the keyboard");
    tab_to(&browser, "trigger");
    record_badge(&browser);
    browser.press(ENTER);
    browser.wait_for(WAIT, "Success after a keyboard trigger", |b| {
        b.text_of("#run-status").filter(|t| t == "Success")
    });
    let run_id: i64 = browser
        .text_of("#run-id")
        .and_then(|t| t.trim_start_matches('#').parse().ok())
        .expect("the run's id");
    let run = sandbox.run(run_id).expect("the run is in the sandbox");
    assert!(
        run.trigger.cause.contains("typed with the keyboard"),
        "{:?}",
        run.trigger.cause
    );

    // Light and dark follow prefers-color-scheme.
    let background = |b: &Browser| {
        b.execute(
            "return getComputedStyle(document.body).backgroundColor",
            json!([]),
        )
    };
    browser.prefer_color_scheme("light");
    let light = background(&browser);
    browser.prefer_color_scheme("dark");
    let dark = background(&browser);
    assert_ne!(light, dark, "prefers-color-scheme changes the page");

    assert_no_token(&serve, &browser);
}

/// Press Tab until the element with this id has the focus (at most 12 times).
fn tab_to(browser: &Browser, id: &str) {
    for _ in 0..12 {
        if browser.focused_id() == id {
            return;
        }
        browser.press(TAB);
    }
    panic!(
        "Tab never reached #{id} (the focus is on #{})",
        browser.focused_id()
    );
}

#[test]
fn a_target_marked_confirm_asks_first_and_runs_only_when_confirmed() {
    let sandbox = sandbox(&[]);
    let serve = Serve::start_configured(
        &sandbox,
        Some(
            "deploy:\n  dbt_cloud:\n    account_id: 1\n    project_id: 1\n    default_target: ci\n    \
             targets:\n      ci: { job_id: 1 }\n      prod: { job_id: 2, confirm: true }\n",
        ),
    );
    let browser = open(&serve);

    // Connected from the start (datachonk.yaml and the token in the environment); targets
    // come first in the job picker, the default one chosen.
    assert!(!browser.is_displayed("#connect-form"));
    browser.wait_for(WAIT, "the job picker", |b| {
        b.try_find("#job:enabled option[value='job:1']")
    });
    let options = browser.execute(
        "return Array.from(document.querySelectorAll('#job option')).map(o => o.value)",
        json!([]),
    );
    let options: Vec<String> = serde_json::from_value(options).expect("options");
    assert_eq!(
        options[..3],
        ["target:ci", "target:prod", "job:1"],
        "{options:?}"
    );
    assert_eq!(
        browser.execute("return document.getElementById('job').value", json!([])),
        json!("target:ci")
    );

    // prod asks first; Cancel triggers nothing.
    browser.click(&browser.find("#job option[value='target:prod']"));
    browser.click(&browser.find("#trigger"));
    let question = browser.wait_for(WAIT, "the confirmation", |b| b.dialog_text());
    assert!(question.contains("prod"), "{question}");
    browser.answer_dialog(false);
    assert!(
        sandbox.runs().is_empty(),
        "a cancelled confirmation triggers no run"
    );
    assert!(!browser.is_displayed("#run-section"));

    // OK triggers it (confirmed: true), and the run is watched to its verdict; the runs the
    // sandbox received prove the Cancel above sent nothing.
    browser.click(&browser.find("#trigger"));
    browser.wait_for(WAIT, "the confirmation", |b| b.dialog_text());
    browser.answer_dialog(true);
    browser.wait_for(WAIT, "the prod run's verdict", |b| {
        b.text_of("#run-status").filter(|t| t == "Error")
    });
    let runs = sandbox.runs();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].job_id, 2);

    assert_no_token(&serve, &browser);
}

/// The value of the form field with this id.
fn field_value(browser: &Browser, id: &str) -> String {
    let v = browser.execute(
        "return document.getElementById(arguments[0]).value",
        json!([id]),
    );
    v.as_str().unwrap_or_default().to_string()
}

/// Replace what the field with this id holds by `text`, typed as a person would.
fn type_into(browser: &Browser, id: &str, text: &str) {
    let field = browser.find(&format!("#{id}"));
    browser.clear(&field);
    browser.send_keys(&field, text);
}

/// Press Trigger Run and wait for the error box to show an HTTP `status`; its text.
fn trigger_refused(browser: &Browser, status: &str) -> String {
    browser.click(&browser.find("#trigger"));
    browser.wait_for(WAIT, &format!("a {status} under the form"), |b| {
        let shown = b.execute(
            "const box = document.getElementById('trigger-error');
             return box.hidden ? '' : box.dataset.status",
            json!([]),
        );
        (shown == json!(status)).then(|| b.text_of("#trigger-error").unwrap_or_default())
    })
}

/// A whole number of seconds a live timer shows (`data-seconds`), if it shows one.
fn timer_seconds(browser: &Browser, css: &str) -> Option<i64> {
    browser
        .execute(
            "const e = document.querySelector(arguments[0]);
             return e && e.dataset.seconds !== undefined ? Number(e.dataset.seconds) : null",
            json!([css]),
        )
        .as_i64()
}

/// A sandbox whose job 1 checks out `repository` (the commit a trigger names, as dbt Cloud
/// does: a commit the remote does not have fails the run).
fn sandbox_with_repository(repository: &str) -> RunningSandbox {
    use datachonk::sandbox::{Fixture, Sandbox, SandboxOptions};
    let mut fixture =
        Fixture::from_yaml_str(support::FIXTURE, "tests/support FIXTURE").expect("fixture");
    assert!(fixture.set_repository(1, repository));
    Sandbox::start(SandboxOptions::default().with_fixture(fixture)).expect("sandbox starts")
}

#[test]
fn the_page_offers_the_pushed_commit_refuses_a_malformed_one_and_runs_exactly_that_commit() {
    use sandbox_repo::{Repo, PROJECT};
    let repo = Repo::new();
    let pushed = repo.commit("feature/orders", "the models", PROJECT);
    // A later commit, not pushed: dbt Cloud could not check it out, so it is not offered.
    std::fs::write(repo.work.join("notes.md"), "work in progress\n").unwrap();
    repo.git(&repo.work, &["add", "notes.md"]);
    repo.git(&repo.work, &["commit", "--quiet", "-m", "wip"]);
    let head = repo.git(&repo.work, &["rev-parse", "HEAD"]);
    assert_ne!(head, pushed);
    let sandbox = sandbox_with_repository(&repo.url());
    let serve = Serve::launch(&sandbox, &repo.work, None, None, false);
    let browser = open(&serve);
    connect(&browser, TOKEN);

    // Prefilled from the repository serve runs in: its branch and the pushed head.
    browser.wait_for(WAIT, "the branch field, prefilled", |b| {
        (field_value(b, "git-branch") == "feature/orders").then_some(())
    });
    assert_eq!(
        field_value(&browser, "git-sha"),
        pushed,
        "the pushed head, not HEAD"
    );
    let note = browser.text_of("#commit-note").unwrap_or_default();
    assert!(
        note.contains("feature/orders") && note.contains(&pushed[..10]),
        "{note}"
    );
    pick_job(&browser, 1);

    // What is not a commit or a branch is refused by serve with a clear 400, and dbt Cloud
    // (the sandbox) receives nothing.
    type_into(&browser, "git-sha", "not-a-sha");
    let refused = trigger_refused(&browser, "400");
    assert!(refused.contains("7 to 40 hexadecimal digits"), "{refused}");
    assert!(
        refused.contains("git rev-parse HEAD"),
        "with a hint: {refused}"
    );
    type_into(&browser, "git-sha", &pushed);
    type_into(&browser, "git-branch", "feature..orders");
    let refused = trigger_refused(&browser, "400");
    assert!(refused.contains("not a valid branch name"), "{refused}");
    assert!(sandbox.runs().is_empty(), "{:?}", sandbox.runs());
    type_into(&browser, "git-branch", "feature/orders");

    // The run checks out exactly the pushed commit, and the page says which.
    let run_id = trigger_and_wait(&browser, "validate the pushed commit", "Success");
    let run = sandbox.run(run_id).expect("the run");
    assert_eq!(run.trigger.git_sha.as_deref(), Some(pushed.as_str()));
    let meta = browser.text_of("#run-meta").unwrap_or_default();
    assert!(meta.contains(&pushed[..10]), "{meta}");
    assert!(
        !browser.is_displayed("#trigger-error"),
        "the earlier 400 is gone"
    );
    assert_fits_a_phone(&browser);
    assert_no_token(&serve, &browser);
}

#[test]
fn a_run_in_progress_is_timed_listed_asked_about_and_followed_after_a_reload() {
    let sandbox = sandbox(&[]);
    let serve = Serve::start_configured(
        &sandbox,
        Some(
            "deploy:\n  dbt_cloud:\n    account_id: 1\n    project_id: 1\n    default_target: ci\n    \
             targets:\n      ci: { job_id: 1 }\n",
        ),
    );
    let browser = open(&serve);
    browser.wait_for(WAIT, "the job picker", |b| {
        b.try_find("#job:enabled option[value='job:3']")
    });
    // Job 3's steps take 20 s each: the run is still going throughout this test.
    pick_job(&browser, 3);
    type_into(&browser, "cause", "a slow one");
    browser.click(&browser.find("#trigger"));
    browser.wait_for(WAIT, "a step running", |b| {
        b.try_find("#steps li[data-status='Running']")
    });
    let run_id: i64 = browser
        .text_of("#run-id")
        .and_then(|t| t.trim_start_matches('#').parse().ok())
        .expect("the run's id");

    // A live timer on the run and on its running step: each counts up by itself.
    for css in ["#run-timer", "#steps li[data-status='Running'] .dur"] {
        let first = browser.wait_for(WAIT, &format!("{css} counting"), |b| timer_seconds(b, css));
        browser.wait_for(WAIT, &format!("{css} to count up"), |b| {
            timer_seconds(b, css).filter(|s| *s >= first + 2)
        });
        let text = browser.text_of(css).unwrap_or_default();
        assert!(text.ends_with(" s"), "{css}: {text:?}");
    }
    assert_eq!(sandbox.runs().len(), 1, "one run so far");

    // Recent runs lists the run in progress, marked as the one shown.
    let row = format!("#recent-runs tr[data-run-id='{run_id}'][aria-current]");
    let listed = browser.wait_for(WAIT, "the run in Recent runs", |b| b.text_of(&row));
    assert!(
        listed.contains("Running") && listed.contains("a slow one"),
        "{listed}"
    );

    // Trigger Run says and asks; Cancel starts nothing.
    let busy = browser.text_of("#job-busy").unwrap_or_default();
    assert!(busy.contains(&format!("#{run_id}")), "{busy}");
    browser.click(&browser.find("#trigger"));
    let question = browser.wait_for(WAIT, "the question", |b| b.dialog_text());
    assert!(
        question.contains(&format!("#{run_id}")) && question.contains("still"),
        "{question}"
    );
    browser.answer_dialog(false);
    assert_eq!(sandbox.runs().len(), 1, "Cancel triggers nothing");

    // After a reload: the run, its job in the picker (not the default target), and the run
    // in progress in Recent runs, timer counting.
    browser.refresh();
    browser.wait_for(WAIT, "the run's job picked after a reload", |b| {
        (field_value(b, "job") == "job:3").then_some(())
    });
    assert_eq!(browser.text_of("#run-id"), Some(format!("#{run_id}")));
    browser.wait_for(WAIT, "the run in Recent runs after a reload", |b| {
        b.text_of(&row).filter(|t| t.contains("Running"))
    });
    assert!(browser.is_displayed("#job-busy"));
    let first = browser.wait_for(WAIT, "the timer after a reload", |b| {
        timer_seconds(b, "#run-timer")
    });
    browser.wait_for(WAIT, "the timer to count up after a reload", |b| {
        timer_seconds(b, "#run-timer").filter(|s| *s > first)
    });

    // On a phone, light and dark, the run panel comes first once a run started.
    assert_fits_a_phone(&browser);
    for scheme in ["light", "dark"] {
        browser.prefer_color_scheme(scheme);
        let order = browser.execute(
            "const top = (id) => document.getElementById(id).getBoundingClientRect().top;
             return top('run-section') < top('trigger-section')",
            json!([]),
        );
        assert_eq!(order, json!(true), "{scheme}: the run panel comes first");
        assert!(browser.is_displayed("#run-timer"), "{scheme}");
    }

    // OK starts another run all the same; on the phone, the new run is brought into view.
    browser.click(&browser.find("#trigger"));
    browser.wait_for(WAIT, "the question", |b| b.dialog_text());
    browser.answer_dialog(true);
    browser.wait_for(WAIT, "a second run", |_| {
        (sandbox.runs().len() == 2).then_some(())
    });
    browser.wait_for(WAIT, "the second run shown", |b| {
        b.text_of("#run-id").filter(|t| *t != format!("#{run_id}"))
    });
    let in_view = browser.execute(
        "const r = document.getElementById('run-section').getBoundingClientRect();
         return r.top > -1 && r.top < window.innerHeight",
        json!([]),
    );
    assert_eq!(in_view, json!(true), "the new run is in view on a phone");
    assert_no_token(&serve, &browser);
}

#[test]
fn after_an_error_the_page_shows_the_skipped_nodes_and_log_tail_and_retries_from_the_failure() {
    let sandbox = sandbox(&[]);
    let serve = Serve::start(&sandbox);
    let browser = open(&serve);
    connect(&browser, TOKEN);
    pick_job(&browser, 2);
    let failed = trigger_and_wait(&browser, "a broken model", "Error");

    // Job 2's stg_customers reads stg_orders, which failed: it was skipped.
    let skipped = browser.wait_for(WAIT, "the skipped nodes", |b| {
        b.text_of("#skipped-nodes").filter(|t| !t.is_empty())
    });
    assert!(skipped.contains("stg_customers"), "{skipped}");
    assert!(
        !skipped.contains("stg_orders"),
        "the failing node is not skipped: {skipped}"
    );

    // The log tail, collapsed until asked for.
    assert!(browser.is_displayed("#log-section"));
    assert_eq!(
        browser.execute(
            "return document.getElementById('log-section').open",
            json!([])
        ),
        json!(false),
        "collapsed"
    );
    let tail_visible = "return document.getElementById('log-tail').checkVisibility()";
    assert_eq!(browser.execute(tail_visible, json!([])), json!(false));
    browser.click(&browser.find("#log-title"));
    let tail = browser.wait_for(WAIT, "the log tail", |b| {
        b.text_of("#log-tail").filter(|t| !t.is_empty())
    });
    assert!(tail.contains("ERROR"), "{tail}");
    assert_eq!(browser.execute(tail_visible, json!([])), json!(true));

    // Step names show commands as code, without dbt Cloud's backticks.
    let names = browser.text_of("#steps").unwrap_or_default();
    assert!(!names.contains('`'), "{names}");
    let verdict = browser.text_of("#verdict").unwrap_or_default();
    assert!(
        verdict.contains("failed at step 4: Invoke dbt with dbt build") && !verdict.contains('`'),
        "{verdict}"
    );
    let code = browser.execute(
        "return Array.from(document.querySelectorAll('#steps .name code')).map(c => c.textContent)",
        json!([]),
    );
    assert!(
        code.as_array()
            .is_some_and(|c| c.iter().any(|t| t == "dbt build")),
        "{code}"
    );
    // Not dbt Cloud: the link says where it goes.
    assert_eq!(
        browser.text_of("#run-link").as_deref(),
        Some("Open in the sandbox ↗")
    );

    // Light and dark: the new parts take the scheme's colours.
    let colours = |b: &Browser| {
        b.execute(
            "return ['log-section', 'skipped-nodes'].map(id =>
                 getComputedStyle(document.getElementById(id)).color
                 + ' ' + getComputedStyle(document.getElementById(id)).borderTopColor)",
            json!([]),
        )
    };
    browser.prefer_color_scheme("light");
    let light = colours(&browser);
    browser.prefer_color_scheme("dark");
    let dark = colours(&browser);
    assert_ne!(light, dark, "prefers-color-scheme changes them");

    // Retry: the crate's retry (dbt Cloud's, the run allows it), watched to its verdict.
    record_badge(&browser);
    browser.click(&browser.find("#retry"));
    browser.wait_for(WAIT, "the retry's run", |b| {
        b.text_of("#run-id").filter(|t| *t != format!("#{failed}"))
    });
    browser.wait_for(WAIT, "the retry to succeed", |b| {
        b.text_of("#run-status").filter(|t| t == "Success")
    });
    let retried: i64 = browser
        .text_of("#run-id")
        .and_then(|t| t.trim_start_matches('#').parse().ok())
        .expect("the retry's id");
    let run = sandbox.run(retried).expect("the retry in the sandbox");
    assert_eq!(
        run.retry_of,
        Some(failed),
        "dbt Cloud's retry of the failed run"
    );
    let message = browser.text_of("#run-message").unwrap_or_default();
    assert!(
        message.contains(&format!("Retry of run #{failed}")) && message.contains("dbt Cloud retry"),
        "{message}"
    );
    assert!(!browser.is_displayed("#retry"), "no Retry after a success");
    assert!(!browser.is_displayed("#skipped-section"));
    assert_eq!(sandbox.runs().len(), 2, "one retry");
    assert_fits_a_phone(&browser);
    assert_no_token(&serve, &browser);
}

#[test]
fn the_account_id_comes_from_datachonk_yaml() {
    let sandbox = sandbox(&[]);
    let dir = workdir();
    let path = dir.path().to_path_buf();
    let serve = Serve::launch(
        &sandbox,
        &path,
        Some(dir),
        Some("deploy:\n  dbt_cloud:\n    account_id: 1\n"),
        false,
    );
    let browser = open(&serve);
    assert_eq!(field_value(&browser, "account-id"), "1");
    // Only the token to type.
    let token = browser.find("#token");
    browser.send_keys(&token, TOKEN);
    browser.send_keys(&token, ENTER);
    browser.wait_for(WAIT, "connected", |b| b.is_displayed("#job").then_some(()));
    // Not in a pushed branch: no commit is offered.
    assert_eq!(field_value(&browser, "git-sha"), "");
    assert_no_token(&serve, &browser);
}

/// dbt Cloud's own API on the sandbox, as another person or tool uses it: POST `path` with
/// `body`; the answer's `data`.
fn dbt_cloud_post(sandbox: &RunningSandbox, path: &str, body: Value) -> Value {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let url = format!("{}/api/v2/accounts/1{path}", sandbox.base_url());
    let answer: Value = reqwest::blocking::Client::new()
        .post(&url)
        .header("Authorization", format!("Token {TOKEN}"))
        .json(&body)
        .send()
        .and_then(|r| r.error_for_status())
        .and_then(|r| r.json())
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    answer["data"].clone()
}

#[test]
fn a_run_started_elsewhere_is_asked_about_until_it_ends() {
    let sandbox = sandbox(&[]);
    // Someone starts job 3 (20 s steps) from dbt Cloud itself.
    let other = dbt_cloud_post(
        &sandbox,
        "/jobs/3/run/",
        json!({ "cause": "from dbt Cloud's own page" }),
    );
    let other_id = other["id"].as_i64().expect("the run's id");
    let serve = Serve::start(&sandbox);
    let browser = open(&serve);
    connect(&browser, TOKEN);
    pick_job(&browser, 3);
    let busy = browser.wait_for(WAIT, "the note about the run in progress", |b| {
        b.text_of("#job-busy").filter(|t| !t.is_empty())
    });
    assert!(busy.contains(&format!("#{other_id}")), "{busy}");

    // It is cancelled in dbt Cloud: the page notices by itself (it looks again every 10 s).
    dbt_cloud_post(&sandbox, &format!("/runs/{other_id}/cancel/"), json!({}));
    browser.wait_for(WAIT, "the note to go once the run ended", |b| {
        (!b.is_displayed("#job-busy")).then_some(())
    });
    let row = format!("#recent-runs tr[data-run-id='{other_id}']");
    browser.wait_for(WAIT, "the run's end in Recent runs", |b| {
        b.text_of(&row).filter(|t| t.contains("Cancelled"))
    });

    // Nothing in progress: Trigger Run runs at once, without asking.
    browser.click(&browser.find("#trigger"));
    browser.wait_for(WAIT, "the new run shown", |b| {
        b.text_of("#run-id").filter(|t| t.starts_with('#'))
    });
    assert_eq!(browser.dialog_text(), None, "no question");
    assert_eq!(sandbox.runs().len(), 2, "{:?}", sandbox.runs());
    assert_no_token(&serve, &browser);
}

#[test]
fn a_run_on_dbt_cloud_is_linked_as_dbt_cloud() {
    // The sandbox answers as a dbt Cloud on emea.dbt.com would: its runs link there.
    let fixture = datachonk::sandbox::Fixture::from_yaml_str(support::FIXTURE, "FIXTURE")
        .expect("fixture parses");
    let sandbox = datachonk::sandbox::Sandbox::start(
        datachonk::sandbox::SandboxOptions::default()
            .with_fixture(fixture)
            .with_links_url("https://emea.dbt.com"),
    )
    .expect("sandbox starts");
    let serve = Serve::start(&sandbox);
    let browser = open(&serve);
    connect(&browser, TOKEN);
    pick_job(&browser, 1);
    let run_id = trigger_and_wait(&browser, "linked to dbt Cloud", "Success");

    browser.wait_for(WAIT, "the run's link", |b| {
        b.text_of("#run-link").filter(|t| !t.is_empty())
    });
    assert_eq!(
        browser.text_of("#run-link").as_deref(),
        Some("Open in dbt Cloud ↗")
    );
    let href = browser.execute(
        "return document.getElementById('run-link').getAttribute('href')",
        json!([]),
    );
    assert_eq!(
        href.as_str(),
        Some(format!("https://emea.dbt.com/deploy/1/projects/1/runs/{run_id}/").as_str())
    );
    // It opens in a new tab without handing the page to dbt Cloud.
    let rel = browser.execute(
        "return document.getElementById('run-link').getAttribute('rel')",
        json!([]),
    );
    assert!(
        rel.as_str().is_some_and(|r| r.contains("noopener")),
        "{rel}"
    );
    assert_no_token(&serve, &browser);
}
