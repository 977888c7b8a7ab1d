//! The sandbox over real HTTP on 127.0.0.1: every endpoint, auth, errors, run lifecycle,
//! cancel, retry, artifacts, faults and the request log. Runs take tens of milliseconds;
//! tests poll with a bounded loop instead of sleeping.

mod sandbox_support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use datachonk::sandbox::fixture::RateLimitFixture;
use datachonk::sandbox::{Fixture, RunStatus, SandboxOptions};
use sandbox_support::*;
use serde_json::{json, Value};

const NOT_FOUND: &str =
    "The requested resource was not found. Please check that you have the proper permissions.";

#[test]
fn binary_prints_the_url_first_serves_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_datachonk"))
        .args(["sandbox", "--addr", "127.0.0.1:0", "--token", TOKEN])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    stdout.read_line(&mut first).expect("first line");
    let url = first.trim().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url:?}");

    let api = Api::new(&url);
    let account = api.get("/api/v2/accounts/1/");
    assert_eq!(account.status, 200);
    assert_eq!(account.data()["name"], "Sandbox Analytics");
    let job = api.get("/api/v2/accounts/1/jobs/1/").data();
    assert_eq!(
        job["execute_steps"],
        json!(["dbt build --select state:modified+ --defer --state ./prod-manifest"])
    );
    let run = api.trigger(1, "from the binary test");
    let log: Vec<Value> = api
        .http
        .get(format!("{url}/_sandbox/requests"))
        .send()
        .and_then(|r| r.json())
        .expect("request log");
    assert_eq!(log.len(), 3, "admin requests are not logged: {log:?}");
    assert_eq!(log[2]["method"], "POST");
    assert_eq!(log[2]["auth_scheme"], "Token");
    let runs: Vec<Value> = api
        .http
        .get(format!("{url}/_sandbox/runs"))
        .send()
        .and_then(|r| r.json())
        .expect("runs");
    assert_eq!(runs[0]["id"], run);
    assert_eq!(runs[0]["trigger"]["cause"], "from the binary test");

    #[cfg(unix)]
    {
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let exit = child.wait().expect("sandbox exits");
        assert!(exit.success(), "graceful exit on SIGTERM: {exit:?}");
    }
    #[cfg(not(unix))]
    {
        let _ = child.kill();
        let _ = child.wait();
    }
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
        .expect("stderr");
    assert!(
        stderr.contains("POST /api/v2/accounts/1/jobs/1/run/ -> 200"),
        "{stderr}"
    );
    assert!(!stderr.contains(TOKEN), "token leaked to the log: {stderr}");
}

#[test]
fn binary_rejects_a_bad_fixture_with_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        "accounts:\n  - id: 1\n    name: A\n    colour: blue\n",
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_datachonk"))
        .args(["sandbox", "--fixture"])
        .arg(&path)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.yaml:4:"), "{err}");
    assert!(err.contains("colour"), "{err}");
}

#[test]
fn example_fixture_loads() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sandbox.example.yaml");
    let f = Fixture::from_path(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(!f.jobs.is_empty() && !f.tokens.is_empty() && !f.faults.is_empty());
}

#[test]
fn auth_schemes_and_error_bodies() {
    let sb = start();
    let api = Api::new(&sb.base_url());
    for header in [
        format!("Bearer {TOKEN}"),
        format!("Token {TOKEN}"),
        format!("token {TOKEN}"),
    ] {
        assert_eq!(
            api.with_auth(Some(&header))
                .get("/api/v2/accounts/1/")
                .status,
            200
        );
    }
    let expected_401 = json!({"status":{"code":401,"is_success":false,"user_message":"Invalid token.","developer_message":null},"data":null});
    for header in [None, Some("Bearer wrong"), Some("Basic abc"), Some(TOKEN)] {
        let r = api.with_auth(header).get("/api/v2/accounts/1/");
        assert_eq!(r.status, 401, "{header:?}");
        assert_eq!(r.json(), expected_401);
    }
    // Unknown objects: the real 404 envelope.
    for path in [
        "/api/v2/accounts/99/",
        "/api/v2/accounts/1/jobs/99/",
        "/api/v2/accounts/1/runs/12345/",
        "/api/v2/accounts/1/steps/12345/",
        "/api/v2/accounts/1/nonsense/",
        "/api/v2/accounts/1/jobs/abc/",
    ] {
        let r = api.get(path);
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.json()["status"]["user_message"], NOT_FOUND);
        assert_eq!(r.json()["status"]["code"], 404);
        assert_eq!(r.json()["data"], Value::Null);
    }
    // Read-only tokens read but cannot trigger; other accounts' tokens are refused.
    let ro = api.with_auth(Some(&format!("Bearer {READ_ONLY}")));
    assert_eq!(ro.get("/api/v2/accounts/1/jobs/").status, 200);
    let r = ro.post("/api/v2/accounts/1/jobs/1/run/", json!({"cause": "x"}));
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["status"]["is_success"], false);
    let other = api.with_auth(Some(&format!("Token {OTHER_ACCOUNT}")));
    let r = other.get("/api/v2/accounts/1/runs/");
    assert_eq!(r.status, 403);
    assert_eq!(r.data()["account_access_denied"], true);
    assert_eq!(other.get("/api/v2/accounts/2/").status, 200);
    let accounts = other.get("/api/v3/accounts/").data();
    assert_eq!(
        accounts.as_array().map(Vec::len),
        Some(1),
        "only its own account"
    );
    let meta = api.with_auth(Some(&format!("Token {METADATA}")));
    assert_eq!(meta.get("/api/v2/accounts/1/jobs/").status, 403);
    assert!(sb.runs().is_empty(), "nothing was triggered");
    // A wrong method gets DRF's answer.
    let r = api.get("/api/v2/accounts/1/jobs/1/run/");
    assert_eq!(r.status, 405);
    assert_eq!(r.json(), json!({"detail": "Method \"GET\" not allowed."}));
}

#[test]
fn whoami_names_the_tokens_user_and_its_accounts() {
    let sb = start();
    let api = Api::new(&sb.base_url());
    for path in ["/api/v2/whoami/", "/api/v2/whoami"] {
        let r = api.get(path);
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert_eq!(r.json()["status"]["is_success"], true);
        let d = r.data();
        assert_eq!(d["user"]["id"], 1, "the first fixture token's user");
        assert_eq!(d["accounts"].as_array().map(Vec::len), Some(2));
    }
    let other = api
        .with_auth(Some(&format!("Bearer {OTHER_ACCOUNT}")))
        .get("/api/v2/whoami/")
        .data();
    assert_ne!(other["user"]["id"], 1, "another token, another user");
    assert_eq!(other["accounts"][0]["id"], 2);
    assert_eq!(other["accounts"].as_array().map(Vec::len), Some(1));
    assert_eq!(api.with_auth(None).get("/api/v2/whoami/").status, 401);
}

#[test]
fn every_endpoint_answers_with_and_without_the_trailing_slash() {
    let sb = start();
    let api = Api::new(&sb.base_url());
    let run = api.trigger(JOB_OK, "slashes");
    api.wait_terminal(run);
    let step = api
        .get(&format!(
            "/api/v2/accounts/1/runs/{run}/?include_related=run_steps"
        ))
        .data()["run_steps"][0]["id"]
        .as_i64()
        .expect("step id");
    let gets = [
        "/api/v2/accounts/".to_string(),
        "/api/v3/accounts/".into(),
        "/api/v2/accounts/1/".into(),
        "/api/v2/accounts/1/projects/".into(),
        "/api/v3/accounts/1/projects/".into(),
        "/api/v2/accounts/1/projects/1/".into(),
        "/api/v3/accounts/1/projects/1/".into(),
        "/api/v2/accounts/1/environments/".into(),
        "/api/v2/accounts/1/environments/1/".into(),
        "/api/v3/accounts/1/projects/1/environments/".into(),
        "/api/v2/accounts/1/jobs/".into(),
        "/api/v2/accounts/1/jobs/1/".into(),
        "/api/v2/accounts/1/runs/".into(),
        format!("/api/v2/accounts/1/runs/{run}/"),
        format!("/api/v2/accounts/1/runs/{run}/artifacts/"),
        format!("/api/v2/accounts/1/steps/{step}/"),
    ];
    for path in &gets {
        for p in [path.clone(), path.trim_end_matches('/').to_string()] {
            let r = api.get(&p);
            assert_eq!(r.status, 200, "GET {p}: {}", r.text);
            assert_eq!(r.json()["status"]["user_message"], "Success!");
        }
    }
    let bare = api.post(
        "/api/v2/accounts/1/jobs/1/run",
        json!({"cause": "no slash"}),
    );
    assert_eq!(bare.status, 200);
    let id = bare.data()["id"].as_i64().expect("id");
    assert_eq!(
        api.post_empty(&format!("/api/v2/accounts/1/runs/{id}/cancel"))
            .status,
        200
    );
}

#[test]
fn trigger_validation_matches_dbt_cloud() {
    let sb = start();
    let api = Api::new(&sb.base_url());
    let path = "/api/v2/accounts/1/jobs/1/run/";
    let r = api.post(
        path,
        json!({"cause": "x", "github_pull_request_id": "3209"}),
    );
    assert_eq!(r.status, 400);
    let expected: Value = serde_json::from_str(include_str!(
        "fixtures/dbt-cloud-api/examples/error-400.json"
    ))
    .expect("example parses");
    assert_eq!(r.json(), expected, "byte-for-byte the documented 400");
    for body in [
        json!({}),
        json!({"cause": null}),
        json!({"cause": "a".repeat(256)}),
    ] {
        let r = api.post(path, body.clone());
        assert_eq!(r.status, 400, "{body}");
        assert!(r.data()["cause"].is_string(), "{}", r.text);
    }
    assert_eq!(api.post_empty(path).status, 400, "no body at all");
    assert!(sb.runs().is_empty());

    // Every field, nulls and unknown keys (dbt-cloud-cli sends account_id and job_id).
    let r = api.post(
        path,
        json!({
            "cause": "a".repeat(255), "git_sha": "0123abcd", "git_branch": null,
            "azure_pull_request_id": null, "github_pull_request_id": 42,
            "gitlab_merge_request_id": null, "non_native_pull_request_id": null,
            "schema_override": "dbt_cloud_pr_1_42", "dbt_version_override": "1.10.0-latest",
            "threads_override": 8, "target_name_override": "ci", "generate_docs_override": false,
            "timeout_seconds_override": 600, "steps_override": ["dbt build -s stg_orders"],
            "account_id": 1, "job_id": 1
        }),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let d = r.data();
    assert_eq!(d["status"], 1);
    assert_eq!(d["git_sha"], "0123abcd");
    assert_eq!(d["git_branch"], Value::Null);
    assert_eq!(d["dbt_version"], "1.10.0-latest");
    assert_eq!(d["trigger"]["github_pull_request_id"], 42);
    assert_eq!(d["trigger"]["cause_category"], "api");
    assert_eq!(
        d["trigger"]["steps_override"],
        json!(["dbt build -s stg_orders"])
    );
    assert_eq!(d["job"]["schedule"]["date"], "every_day");
    assert_eq!(d["job_definition_id"], 1);
    assert_eq!(d["job_id"], 1);
    let done = api.wait_terminal(d["id"].as_i64().expect("id"));
    assert_eq!(
        done["run_steps"][3]["name"],
        "Invoke dbt with `dbt build -s stg_orders`"
    );

    // Form-encoded bodies work too (integers arrive as strings there).
    let form = api
        .http
        .post(format!("{}{path}", sb.base_url()))
        .header("Authorization", format!("Token {TOKEN}"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("cause=from+a+form&git_branch=feature%2Fx&threads_override=2")
        .send()
        .expect("form post");
    assert_eq!(form.status(), 200);
    let v: Value = form.json().expect("json");
    assert_eq!(v["data"]["git_branch"], "feature/x");
    assert_eq!(v["data"]["trigger"]["threads_override"], 2);
}

#[test]
fn include_related_in_every_spelling() {
    let sb = start();
    let api = Api::new(&sb.base_url());
    let run = api.trigger(JOB_OK, "spellings");
    api.wait_terminal(run);
    let base = format!("/api/v2/accounts/1/runs/{run}/");
    let plain = api.get(&base).data();
    assert_eq!(plain["run_steps"], json!([]));
    assert_eq!(plain["job"], Value::Null);
    assert_eq!(plain["trigger"], Value::Null);
    for q in [
        "include_related=%5B%22run_steps%22%2C%22job%22%2C%22trigger%22%5D",
        "include_related=run_steps,job,trigger",
        "include_related=%5B%27run_steps%27%2C%20%27job%27%2C%20%27trigger%27%5D",
        "include_related=run_steps&include_related=job&include_related=trigger",
    ] {
        let d = api.get(&format!("{base}?{q}")).data();
        assert_eq!(d["run_steps"].as_array().map(Vec::len), Some(4), "{q}");
        assert_eq!(d["job"]["name"], "CI validate", "{q}");
        assert_eq!(d["trigger"]["cause"], "spellings", "{q}");
    }
    let d = api
        .get(&format!("{base}?include_related=environment"))
        .data();
    assert_eq!(d["environment"]["deployment_type"], "production");
}

#[test]
fn run_lists_paginate_filter_and_order() {
    let sb = start();
    let api = Api::new(&sb.base_url());
    let ids: Vec<i64> = (0..5)
        .map(|i| api.trigger(if i < 3 { JOB_OK } else { JOB_ERROR }, "list"))
        .collect();
    for id in &ids {
        api.wait_terminal(*id);
    }
    let page = |q: &str| api.get(&format!("/api/v2/accounts/1/runs/?{q}")).json();
    let all = page("");
    assert_eq!(
        all["extra"]["pagination"],
        json!({"count": 5, "total_count": 5})
    );
    assert_eq!(all["extra"]["order_by"], "id");
    assert_eq!(all["extra"]["filters"]["limit"], 100);
    assert_eq!(all["extra"]["filters"]["offset"], 0);
    assert_eq!(all["extra"]["filters"]["account_id"], 1);
    let got: Vec<i64> = all["data"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|r| r["id"].as_i64())
        .collect();
    assert_eq!(got, ids, "oldest first by default");
    let mut seen = Vec::new();
    for offset in [0, 2, 4] {
        let p = page(&format!("limit=2&offset={offset}"));
        assert_eq!(p["extra"]["pagination"]["total_count"], 5);
        assert_eq!(p["extra"]["filters"]["limit"], 2);
        seen.extend(
            p["data"]
                .as_array()
                .expect("array")
                .iter()
                .filter_map(|r| r["id"].as_i64()),
        );
    }
    assert_eq!(seen, ids);
    let latest = page("order_by=-id&limit=1");
    assert_eq!(latest["data"][0]["id"], ids[4]);
    assert_eq!(latest["extra"]["order_by"], "-id");
    assert_eq!(
        page("order_by=-finished_at&limit=1")["data"][0]["id"],
        ids[4]
    );
    assert_eq!(page("order_by=created_at")["data"][0]["id"], ids[0]);

    let over = api.get("/api/v2/accounts/1/runs/?limit=101");
    assert_eq!(over.status, 400);
    assert!(over.data()["limit"].is_string());
    assert_eq!(
        api.get("/api/v2/accounts/1/runs/?order_by=cause").status,
        400
    );

    assert_eq!(
        page(&format!("job_definition_id={JOB_ERROR}"))["extra"]["pagination"]["total_count"],
        2
    );
    assert_eq!(page("status=20")["extra"]["pagination"]["total_count"], 2);
    for q in [
        "status__in=%5B10%2C20%5D",
        "status__in=10,20",
        "status__in=10&status__in=20",
        "status__in=%5B%2710%27%5D",
    ] {
        let expected = if q.contains("20") { 5 } else { 3 };
        assert_eq!(
            page(q)["extra"]["pagination"]["total_count"],
            expected,
            "{q}"
        );
    }
    assert_eq!(
        page("status__in=%5B1%2C2%2C3%5D")["extra"]["pagination"]["total_count"],
        0
    );
    let filtered = page("environment_id=1&project_id=1&include_related=%5B%22trigger%22%5D");
    assert_eq!(filtered["extra"]["filters"]["environment_id"], 1);
    assert_eq!(filtered["data"][0]["trigger"]["cause"], "list");

    // Jobs, projects, environments lists paginate the same way.
    let jobs = api
        .get("/api/v2/accounts/1/jobs/?project_id=1&limit=2&offset=1")
        .json();
    assert_eq!(
        jobs["extra"]["pagination"],
        json!({"count": 2, "total_count": 4})
    );
    assert_eq!(jobs["extra"]["filters"]["project_id"], 1);
    assert_eq!(jobs["data"][0]["id"], 2);
    assert_eq!(
        api.get("/api/v2/accounts/1/jobs/?order_by=-id").data()[0]["id"],
        4
    );
    assert_eq!(
        api.get("/api/v2/accounts/1/jobs/?environment_id=7").json()["extra"]["pagination"]
            ["total_count"],
        0
    );
    assert_eq!(api.get("/api/v2/accounts/1/jobs/?limit=500").status, 400);
    let envs = api
        .get("/api/v3/accounts/1/projects/1/environments/?deployment_type=production")
        .json();
    assert_eq!(envs["extra"]["pagination"]["total_count"], 1);
    let envs = api
        .get("/api/v3/accounts/1/projects/1/environments/?name__icontains=prod")
        .json();
    assert_eq!(envs["extra"]["pagination"]["total_count"], 1);
    let job = api.get(&format!("/api/v2/accounts/1/jobs/{JOB_ERROR}/?include_related=%5B%27most_recent_run%27%2C%27most_recent_completed_run%27%2C%27environment%27%5D")).data();
    assert_eq!(job["most_recent_run"]["id"], ids[4]);
    assert_eq!(job["most_recent_completed_run"]["status"], 20);
    assert_eq!(job["environment"]["id"], 1);
    assert!(api
        .get("/api/v2/accounts/1/jobs/1/")
        .data()
        .get("most_recent_run")
        .is_none());
}

#[test]
fn runs_reach_success_error_and_cancelled() {
    let sb = start();
    let api = Api::new(&sb.base_url());

    let ok = api.trigger(JOB_OK, "ok");
    let done = api.wait_terminal(ok);
    assert_eq!(done["status"], 10);
    assert_eq!(done["status_humanized"], "Success");
    assert_eq!(done["is_success"], true);
    assert_eq!(done["in_progress"], false);
    assert_eq!(done["status_message"], Value::Null);
    assert_eq!(done["artifacts_saved"], true);
    assert!(done["finished_at"]
        .as_str()
        .is_some_and(|t| t.contains(' ') && t.ends_with("+00:00")));
    assert!(done["duration"].as_str().is_some_and(|t| t.len() == 8));
    assert_eq!(
        done["href"],
        format!("{}/deploy/1/projects/1/runs/{ok}/", sb.base_url())
    );
    let names: Vec<&str> = done["run_steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "Clone Git Repository",
            "Create Profile from Connection Postgres",
            "Invoke dbt with `dbt deps`",
            "Invoke dbt with `dbt build --select state:modified+ --defer --state ./prod-manifest`"
        ]
    );
    for (i, s) in done["run_steps"]
        .as_array()
        .expect("steps")
        .iter()
        .enumerate()
    {
        assert_eq!(s["index"], i + 1);
        assert_eq!(s["status"], 10);
        assert_eq!(s["run_id"], ok);
        assert!(s["finished_at"].is_string() && s["duration"].is_string());
    }

    let bad = api.trigger(JOB_ERROR, "bad");
    let done = api.wait_terminal(bad);
    assert_eq!(done["status"], 20);
    assert_eq!(done["is_error"], true);
    assert_eq!(done["can_retry"], true);
    let steps = done["run_steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 4, "no step after the failing one");
    assert_eq!(steps[3]["status"], 20);
    assert_eq!(steps[3]["status_humanized"], "Error");
    assert!(steps[3]["logs"]
        .as_str()
        .is_some_and(|l| l.contains("column \"amount\" does not exist")));

    let cancelled = api.trigger(JOB_CANCELLED, "cancelled");
    let done = api.wait_terminal(cancelled);
    assert_eq!(done["status"], 30);
    assert_eq!(done["is_cancelled"], true);

    assert_eq!(sb.run(ok).map(|r| r.status), Some(RunStatus::Success));
    assert_eq!(sb.run(bad).map(|r| r.status), Some(RunStatus::Error));
    assert_eq!(sb.runs().len(), 3);
}

#[test]
fn a_run_passes_through_queued_starting_and_running() {
    let sb = start();
    let api = Api::new(&sb.base_url());
    let run = api.trigger(JOB_SLOW, "phases");
    let mut seen = Vec::new();
    api.wait_until(run, |d| {
        let s = d["status"].as_i64().unwrap_or_default();
        if seen.last() != Some(&s) {
            seen.push(s);
        }
        d["is_complete"] == true
    });
    assert_eq!(seen.first(), Some(&1), "{seen:?}");
    assert!(seen.contains(&3), "{seen:?}");
    assert_eq!(seen.last(), Some(&10), "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "monotonic: {seen:?}");
}

#[test]
fn cancel_mid_run_and_after_the_end() {
    let sb = start();
    let api = Api::new(&sb.base_url());
    let run = api.trigger(JOB_SLOW, "to cancel");
    let running = api.wait_until(run, |d| {
        d["status"] == 3 && d["run_steps"].as_array().is_some_and(|s| !s.is_empty())
    });
    assert_eq!(running["is_running"], true);
    assert_eq!(running["finished_at"], Value::Null);
    let path = format!("/api/v2/accounts/1/runs/{run}/cancel/");
    let ro = api.with_auth(Some(&format!("Token {READ_ONLY}")));
    assert_eq!(ro.post_empty(&path).status, 403);
    let r = api.post_empty(&path);
    assert_eq!(r.status, 200);
    assert_eq!(r.data()["status"], 30);
    assert_eq!(r.data()["status_message"], "Cancelled by user.");
    let after = api.wait_terminal(run);
    assert_eq!(after["status"], 30);
    let last = after["run_steps"]
        .as_array()
        .and_then(|s| s.last())
        .cloned()
        .expect("a step");
    assert_eq!(last["status"], 30, "the step in progress is cancelled");
    assert_eq!(
        api.get(&format!(
            "/api/v2/accounts/1/runs/{run}/artifacts/run_results.json"
        ))
        .status,
        404
    );

    // Cancelling a queued run: never started.
    let queued = api.trigger(JOB_SLOW, "cancel while queued");
    let r = api
        .post_empty(&format!("/api/v2/accounts/1/runs/{queued}/cancel/"))
        .data();
    assert_eq!(r["status"], 30);
    assert_eq!(r["started_at"], Value::Null);

    // Cancelling a finished run leaves it as it is.
    let ok = api.trigger(JOB_OK, "finished");
    api.wait_terminal(ok);
    let r = api
        .post_empty(&format!("/api/v2/accounts/1/runs/{ok}/cancel/"))
        .data();
    assert_eq!(r["status"], 10);
    assert_eq!(r["status_message"], Value::Null);
}

#[test]
fn a_newer_run_of_the_same_pull_request_cancels_the_older_one() {
    let sb = start();
    let api = Api::new(&sb.base_url());
    let trigger = |pr: Value, sha: &str| -> i64 {
        let mut body = json!({"cause": "CI", "git_sha": sha});
        body.as_object_mut()
            .unwrap()
            .extend(pr.as_object().unwrap().clone());
        let r = api.post(&format!("/api/v2/accounts/1/jobs/{JOB_SLOW}/run/"), body);
        assert_eq!(r.status, 200, "{}", r.text);
        r.data()["id"].as_i64().unwrap()
    };
    let first = trigger(json!({"github_pull_request_id": 7}), "aaaaaaa");
    let other_pr = trigger(json!({"github_pull_request_id": 8}), "bbbbbbb");
    let plain = api.trigger(JOB_SLOW, "not a pull request");
    let second = trigger(json!({"github_pull_request_id": 7}), "ccccccc");

    let cancelled = api.wait_terminal(first);
    assert_eq!(cancelled["status"], 30);
    assert_eq!(
        cancelled["status_message"],
        format!("Cancelled: run {second} of the same pull request replaced it.")
    );
    let with_trigger = api
        .get(&format!(
            "/api/v2/accounts/1/runs/{first}/?include_related=trigger"
        ))
        .data();
    assert_eq!(with_trigger["trigger"]["github_pull_request_id"], 7);
    // Another pull request, a run that is not for one, and the newer run go on.
    for run in [other_pr, plain, second] {
        let d = api.get(&format!("/api/v2/accounts/1/runs/{run}/")).data();
        assert_ne!(d["status"], 30, "run {run} was cancelled: {d}");
    }
    // The same number on another provider is another pull request.
    let gitlab = trigger(json!({"gitlab_merge_request_id": 7}), "ddddddd");
    let d = api
        .get(&format!("/api/v2/accounts/1/runs/{second}/"))
        .data();
    assert_ne!(d["status"], 30, "{d}");
    for run in [other_pr, plain, second, gitlab] {
        api.post_empty(&format!("/api/v2/accounts/1/runs/{run}/cancel/"));
    }
}

#[test]
fn retry_a_failed_run_from_the_failing_step() {
    let sb = start();
    let api = Api::new(&sb.base_url());
    let failed = api.trigger(JOB_ERROR, "will fail");
    api.wait_terminal(failed);
    let details = api
        .get(&format!("/api/v2/accounts/1/runs/{failed}/retry/"))
        .data();
    assert_eq!(details["failed_step"], "Invoke dbt with `dbt build`");
    assert_eq!(
        details["skipped_steps"],
        json!(["Invoke dbt with `dbt test --select tag:nightly`"])
    );

    let r = api.post_empty(&format!("/api/v2/accounts/1/runs/{failed}/retry/"));
    assert_eq!(r.status, 200, "{}", r.text);
    let retry = r.data()["id"].as_i64().expect("id");
    assert_ne!(retry, failed);
    assert_eq!(r.data()["trigger"]["cause_category"], "rerun");
    let done = api.wait_terminal(retry);
    assert_eq!(done["status"], 10, "the job's retry_outcome is success");
    let names: Vec<&str> = done["run_steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(
        &names[3..],
        [
            "Invoke dbt with `dbt build`",
            "Invoke dbt with `dbt test --select tag:nightly`"
        ]
    );
    let old = api
        .get(&format!("/api/v2/accounts/1/runs/{failed}/"))
        .data();
    assert_eq!(old["retrying_run_id"], retry);
    assert_eq!(old["can_retry"], false);
    assert_eq!(sb.run(retry).and_then(|r| r.retry_of), Some(failed));

    // A second retry, or a retry of a successful run, is a 400.
    assert_eq!(
        api.post_empty(&format!("/api/v2/accounts/1/runs/{failed}/retry/"))
            .status,
        400
    );
    let r = api.post_empty(&format!("/api/v2/accounts/1/runs/{retry}/retry/"));
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["status"]["code"], 400);
    assert_eq!(
        api.get(&format!("/api/v2/accounts/1/runs/{retry}/retry/"))
            .status,
        400
    );

    // The job-level rerun retries the latest run if it failed, else triggers a new one.
    let failed2 = api.trigger(JOB_ERROR, "fails again");
    api.wait_terminal(failed2);
    let rerun = api
        .post_empty(&format!("/api/v2/accounts/1/jobs/{JOB_ERROR}/rerun/"))
        .data();
    assert_eq!(rerun["trigger"]["cause_category"], "rerun");
    let fresh = api
        .post_empty(&format!("/api/v2/accounts/1/jobs/{JOB_OK}/rerun/"))
        .data();
    assert_eq!(fresh["trigger"]["cause_category"], "api");
    assert_eq!(fresh["status"], 1);
}

#[test]
fn artifacts_appear_when_written() {
    let sb = start();
    let api = Api::new(&sb.base_url());
    let run = api.trigger(JOB_SLOW, "artifacts");
    let rr = format!("/api/v2/accounts/1/runs/{run}/artifacts/run_results.json");
    let r = api.get(&rr);
    assert_eq!(r.status, 404, "not written while queued");
    assert_eq!(
        api.get(&format!("/api/v2/accounts/1/runs/{run}/artifacts/"))
            .data(),
        json!([])
    );
    assert_eq!(
        api.get(&format!(
            "/api/v2/accounts/1/jobs/{JOB_SLOW}/artifacts/manifest.json"
        ))
        .status,
        404
    );
    let done = api.wait_terminal(run);
    assert_eq!(done["has_docs_generated"], true);

    let r = api.get(&rr);
    assert_eq!(r.status, 200);
    assert!(r.headers["content-type"]
        .to_str()
        .is_ok_and(|c| c.starts_with("application/json")));
    let results: Value = serde_json::from_str(&r.text).expect("run_results.json is JSON");
    assert!(results.get("status").is_none(), "raw file, no envelope");
    assert_eq!(
        results["metadata"]["dbt_schema_version"],
        "https://schemas.getdbt.com/dbt/run-results/v6.json"
    );
    let step4 = api.get(&format!("{rr}?step=4")).json();
    assert_eq!(step4["results"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        step4["results"][0]["unique_id"],
        "model.analytics.stg_customers"
    );
    assert_eq!(step4["results"][0]["status"], "success");
    for key in [
        "timing",
        "thread_id",
        "execution_time",
        "adapter_response",
        "message",
        "failures",
        "compiled",
        "compiled_code",
        "relation_name",
    ] {
        assert!(step4["results"][0].get(key).is_some(), "{key}");
    }
    assert_eq!(
        api.get(&format!("{rr}?step=2")).status,
        404,
        "the profile step writes nothing"
    );

    let manifest = api
        .get(&format!(
            "/api/v2/accounts/1/runs/{run}/artifacts/manifest.json"
        ))
        .json();
    assert_eq!(
        manifest["metadata"]["dbt_schema_version"],
        "https://schemas.getdbt.com/dbt/manifest/v12.json"
    );
    let node = &manifest["nodes"]["model.analytics.stg_orders"];
    assert_eq!(node["resource_type"], "model");
    assert_eq!(node["fqn"], json!(["analytics", "staging", "stg_orders"]));
    assert_eq!(
        manifest["sources"]["source.analytics.raw.orders"]["source_name"], "raw",
        "the sources the models read are declared"
    );
    let catalog = api.get(&format!(
        "/api/v2/accounts/1/runs/{run}/artifacts/catalog.json"
    ));
    assert_eq!(catalog.status, 200, "the docs step is the last step");

    let list = api
        .get(&format!("/api/v2/accounts/1/runs/{run}/artifacts/"))
        .data();
    let list: Vec<&str> = list
        .as_array()
        .expect("list")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        list.contains(&"manifest.json")
            && list.contains(&"run_results.json")
            && list.contains(&"catalog.json")
    );
    let sql = api.get(&format!("/api/v2/accounts/1/runs/{run}/artifacts/compiled/analytics/models/staging/stg_orders.sql?step=4"));
    assert_eq!(sql.status, 200);
    assert!(sql.text.contains("select"));

    let job_manifest = api.get(&format!(
        "/api/v2/accounts/1/jobs/{JOB_SLOW}/artifacts/manifest.json"
    ));
    assert_eq!(job_manifest.status, 200);

    // A failed run keeps run_results.json, with the failing nodes and their messages.
    let failed = api.trigger(JOB_ERROR, "fails");
    api.wait_terminal(failed);
    let results = api
        .get(&format!(
            "/api/v2/accounts/1/runs/{failed}/artifacts/run_results.json"
        ))
        .json();
    let by_id = |id: &str| {
        results["results"]
            .as_array()
            .and_then(|r| r.iter().find(|n| n["unique_id"] == id))
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(by_id("model.analytics.stg_orders")["status"], "error");
    assert!(by_id("model.analytics.stg_orders")["message"]
        .as_str()
        .is_some_and(|m| m.contains("amount")));
    assert_eq!(by_id("model.analytics.stg_payments")["status"], "skipped");
    assert_eq!(
        by_id("test.analytics.not_null_stg_customers_id")["status"],
        "fail"
    );
    assert_eq!(by_id("model.analytics.stg_customers")["status"], "success");
}

#[test]
fn steps_endpoint() {
    let sb = start();
    let api = Api::new(&sb.base_url());
    let run = api.trigger(JOB_ERROR, "steps");
    let done = api.wait_terminal(run);
    let failing = done["run_steps"][3]["id"].as_i64().expect("step id");
    let step = api
        .get(&format!("/api/v2/accounts/1/steps/{failing}/"))
        .data();
    assert_eq!(step["status"], 20);
    assert_eq!(step["run_id"], run);
    assert_eq!(step["index"], 4);
    assert_eq!(step["debug_logs"], Value::Null);
    let step = api
        .get(&format!(
            "/api/v2/accounts/1/steps/{failing}/?include_related=debug_logs"
        ))
        .data();
    assert!(step["debug_logs"].is_string());
    let other = api.with_auth(Some(&format!("Token {OTHER_ACCOUNT}")));
    assert_eq!(
        other
            .get(&format!("/api/v2/accounts/2/steps/{failing}/"))
            .status,
        404
    );
    assert_eq!(
        other.get(&format!("/api/v2/accounts/2/runs/{run}/")).status,
        404
    );
}

#[test]
fn faults_every_nth_503_and_429_with_retry_after() {
    let sb = start_with(
        SandboxOptions::default()
            .with_fixture(fixture())
            .with_fault("503:every=2:method=GET")
            .and_then(|o| o.with_fault("429:every=3:method=POST:retry-after=7"))
            .expect("specs parse"),
    );
    let api = Api::new(&sb.base_url());
    let codes: Vec<u16> = (0..6)
        .map(|_| api.get("/api/v2/accounts/1/").status)
        .collect();
    assert_eq!(codes, [200, 503, 200, 503, 200, 503]);
    let r = api.get("/api/v2/accounts/1/jobs/");
    assert_eq!(r.status, 200);
    let r = api.get("/api/v2/accounts/1/jobs/");
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["status"]["code"], 503);

    let posts: Vec<u16> = (0..3)
        .map(|_| {
            api.post("/api/v2/accounts/1/jobs/1/run/", json!({"cause": "x"}))
                .status
        })
        .collect();
    assert_eq!(posts, [200, 200, 429]);
    let r = api.post("/api/v2/accounts/1/jobs/1/run/", json!({"cause": "x"}));
    assert_eq!(r.status, 200);
    let r = api.post("/api/v2/accounts/1/jobs/1/run/", json!({"cause": "x"}));
    assert_eq!(r.status, 200);
    let r = api.post("/api/v2/accounts/1/jobs/1/run/", json!({"cause": "x"}));
    assert_eq!(r.status, 429);
    assert_eq!(r.headers["retry-after"], "7");
    assert_eq!(sb.runs().len(), 4, "429s create nothing");

    let log = sb.requests();
    let faulted: Vec<_> = log.iter().filter(|r| r.was_faulted()).collect();
    assert_eq!(faulted.len(), 6);
    assert!(faulted.iter().all(|r| r.status == 503 || r.status == 429));
    assert_eq!(faulted[0].fault.as_deref(), Some("503:every=2:method=GET"));
}

#[test]
fn faults_drop_the_connection_and_lose_a_trigger_response() {
    let sb = start_with(
        SandboxOptions::default()
            .with_fixture(fixture())
            .with_fault("drop:every=2:path=/runs/")
            .and_then(|o| o.with_fault("502:method=POST:path=/run/:after:times=1"))
            .and_then(|o| o.with_fault("drop:method=POST:path=/run/:after:every=3:times=1"))
            .expect("specs parse"),
    );
    let api = Api::new(&sb.base_url());
    assert_eq!(api.get("/api/v2/accounts/1/runs/").status, 200);
    let dropped = api.try_send(reqwest::Method::GET, "/api/v2/accounts/1/runs/", None);
    assert!(dropped.is_err(), "the client sees a connection error");
    assert_eq!(
        api.get("/api/v2/accounts/1/runs/").status,
        200,
        "the next request is fine"
    );

    // The run IS created although the response is a 502 ...
    let r = api.post(
        "/api/v2/accounts/1/jobs/1/run/",
        json!({"cause": "lost answer"}),
    );
    assert_eq!(r.status, 502);
    assert_eq!(sb.runs().len(), 1);
    assert_eq!(sb.runs()[0].trigger.cause, "lost answer");
    assert_eq!(
        api.post("/api/v2/accounts/1/jobs/1/run/", json!({"cause": "fine"}))
            .status,
        200
    );
    // ... or although the connection dropped.
    let r = api.try_send(
        reqwest::Method::POST,
        "/api/v2/accounts/1/jobs/1/run/",
        Some(json!({"cause": "dropped answer"})),
    );
    assert!(r.is_err());
    assert_eq!(sb.runs().len(), 3);
    let log = sb.requests();
    let dropped: Vec<_> = log.iter().filter(|r| r.status == 0).collect();
    assert_eq!(dropped.len(), 2);
    assert!(dropped
        .iter()
        .all(|r| r.fault.as_deref().is_some_and(|f| f.starts_with("drop"))));
}

#[test]
fn latency_fault_and_rate_limit() {
    let mut f = fixture();
    f.rate_limit = Some(RateLimitFixture {
        requests_per_minute: 3,
        retry_after_seconds: None,
    });
    let sb = start_with(
        SandboxOptions::default()
            .with_fixture(f)
            .with_fault("latency:ms=120:path=/jobs/")
            .expect("spec parses"),
    );
    let api = Api::new(&sb.base_url());
    let started = std::time::Instant::now();
    assert_eq!(api.get("/api/v2/accounts/1/jobs/").status, 200);
    assert!(started.elapsed().as_millis() >= 120);
    assert_eq!(api.get("/api/v2/accounts/1/").status, 200);
    assert_eq!(api.get("/api/v2/accounts/1/").status, 200);
    let limited = api.get("/api/v2/accounts/1/");
    assert_eq!(limited.status, 429);
    let retry_after: u64 = limited.headers["retry-after"]
        .to_str()
        .ok()
        .and_then(|s| s.parse().ok())
        .expect("Retry-After seconds");
    assert!((1..=60).contains(&retry_after));
    let log = sb.requests();
    assert!(log[0].latency_ms >= 120.0);
    assert_eq!(log[0].fault.as_deref(), Some("latency:ms=120:path=/jobs/"));
    assert_eq!(log[3].fault.as_deref(), Some("rate-limit"));
}

#[test]
fn request_log_records_requests_but_never_the_token() {
    let sb = start();
    let api = Api::new(&sb.base_url());
    let bearer = api.with_auth(Some(&format!("Bearer {TOKEN}")));
    api.trigger(JOB_OK, "log");
    bearer.get("/api/v2/accounts/1/runs/?limit=5&token=also-secret");
    api.with_auth(None).get("/api/v2/accounts/1/");
    let log = sb.requests();
    assert_eq!(log.len(), 3);
    assert_eq!(log[0].method, "POST");
    assert_eq!(log[0].auth_scheme.as_deref(), Some("Token"));
    assert_eq!(log[1].auth_scheme.as_deref(), Some("Bearer"));
    assert_eq!(log[1].query.as_deref(), Some("limit=5&token=REDACTED"));
    assert_eq!(log[2].auth_scheme, None);
    assert_eq!(log[2].status, 401);
    assert!(log
        .windows(2)
        .all(|w| w[0].seq < w[1].seq && w[0].offset_ms <= w[1].offset_ms));
    let text = serde_json::to_string(&log).expect("serialises");
    assert!(
        !text.contains(TOKEN) && !text.contains("also-secret"),
        "{text}"
    );
    let over_http = api
        .http
        .get(format!("{}/_sandbox/requests", sb.base_url()))
        .send()
        .and_then(|r| r.text())
        .expect("admin");
    assert!(!over_http.contains(TOKEN));
    sb.reset_log();
    assert!(sb.requests().is_empty());
    let cleared = api
        .http
        .post(format!("{}/_sandbox/reset", sb.base_url()))
        .send()
        .expect("reset");
    assert_eq!(cleared.status(), 200);
    assert!(sb.runs().is_empty());
}

#[test]
fn large_run_ids_stay_exact() {
    let sb = start_with(
        SandboxOptions::default()
            .with_fixture(fixture())
            .with_first_run_id(70_403_110_023_118),
    );
    let api = Api::new(&sb.base_url());
    let id = api.trigger(JOB_OK, "big ids");
    assert_eq!(id, 70_403_110_023_118);
    assert_eq!(
        api.get(&format!("/api/v2/accounts/1/runs/{id}")).data()["id"],
        id
    );
}

#[test]
fn the_web_pages_the_api_links_to_exist() {
    let sb = start();
    let api = Api::new(&sb.base_url());
    let page = |url: &str| {
        let r = client().get(url).send().expect("page");
        let ctype = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        (r.status().as_u16(), ctype, r.text().unwrap_or_default())
    };
    let (status, ctype, root) = page(&format!("{}/", sb.base_url()));
    assert_eq!(status, 200);
    assert!(ctype.starts_with("text/html"), "{ctype}");
    assert!(root.contains("No runs yet"), "{root}");

    let id = api.trigger(1, "web <page> & \"links\"");
    let run = api.wait_terminal(id);
    let href = run["href"].as_str().expect("href").to_string();
    // The run's page: status, cause (escaped), every step; no token needed, as in a browser.
    let (status, _, html) = page(&href);
    assert_eq!(status, 200, "{href}");
    assert!(html.contains(&format!("Run #{id} — Success")), "{html}");
    assert!(
        html.contains("web &lt;page&gt; &amp; &quot;links&quot;"),
        "{html}"
    );
    let steps = api.get(&format!(
        "/api/v2/accounts/1/runs/{id}/?include_related=run_steps"
    ));
    for step in steps.data()["run_steps"].as_array().expect("steps") {
        let name = step["name"].as_str().unwrap();
        assert!(html.contains(name), "step {name} missing:\n{html}");
    }
    // The index lists it, linked.
    let (_, _, root) = page(&format!("{}/", sb.base_url()));
    assert!(root.contains(&format!("href=\"{href}\"")), "{root}");
    // Another account's path, or a run that does not exist: 404.
    let wrong = href.replace("/deploy/1/", "/deploy/2/");
    assert_eq!(page(&wrong).0, 404);
    assert_eq!(
        page(&format!(
            "{}/deploy/1/projects/1/runs/99999/",
            sb.base_url()
        ))
        .0,
        404
    );
}

#[test]
fn a_raw_token_sent_without_a_scheme_is_never_logged_as_one() {
    let sb = start();
    let api = Api::new(&sb.base_url());
    for header in [
        TOKEN.to_string(),
        format!("Bearer{TOKEN}"),
        format!("Basic {TOKEN}"),
    ] {
        let reply = api.with_auth(Some(&header)).get("/api/v2/accounts/1/");
        assert_eq!(reply.status, 401, "{header} is not a valid credential");
    }
    api.get("/api/v2/accounts/1/");
    let log = sb.requests();
    let schemes: Vec<Option<&str>> = log.iter().map(|r| r.auth_scheme.as_deref()).collect();
    assert_eq!(
        schemes,
        [
            Some("<unknown>"),
            Some("<unknown>"),
            Some("<unknown>"),
            Some("Token")
        ]
    );
    let over_http = api
        .http
        .get(format!("{}/_sandbox/requests", sb.base_url()))
        .send()
        .and_then(|r| r.text())
        .expect("admin");
    assert!(!over_http.contains(TOKEN), "{over_http}");
}

#[test]
fn the_request_log_keeps_the_newest_requests_and_says_how_many_were_dropped() {
    let sb = start_with(
        SandboxOptions::default()
            .with_fixture(fixture())
            .with_request_log_capacity(5),
    );
    let api = Api::new(&sb.base_url());
    for _ in 0..8 {
        assert_eq!(api.get("/api/v2/accounts/1/").status, 200);
    }
    let seqs: Vec<u64> = sb.requests().iter().map(|r| r.seq).collect();
    assert_eq!(seqs, [4, 5, 6, 7, 8], "the newest five, oldest first");
    assert_eq!(sb.requests_dropped(), 3);
    let reply = api
        .http
        .get(format!("{}/_sandbox/requests", sb.base_url()))
        .send()
        .expect("admin");
    assert_eq!(reply.headers()["x-sandbox-requests-dropped"], "3");
    let log: Vec<Value> = reply.json().expect("a JSON array, as before");
    assert_eq!(log.len(), 5);
    sb.reset_log();
    assert_eq!(sb.requests_dropped(), 0);
}
