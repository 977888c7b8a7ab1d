//! Outputs people read (issue 23 §3) and the node summary's memory cap (issue 21 §7), against
//! a real sandbox: `cloud runs list` as a table with job names, durations and causes without
//! the look-up marker; the default cause naming the branch and sha; and a run whose
//! `run_results.json` never ends, served through a loopback relay in front of the sandbox, cut
//! at the cap with a note while the verdict and exit code stand.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;

use support::*;

/// The column where `word` starts in `line` (in characters).
fn column(line: &str, word: &str) -> usize {
    let at = line
        .find(word)
        .unwrap_or_else(|| panic!("{word:?} not in {line:?}"));
    line[..at].chars().count()
}

#[test]
fn runs_list_is_a_table_with_job_names_durations_and_causes_without_the_marker() {
    let sb = sandbox(&[]);
    let dir = workdir();
    let r = datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "1", "--wait"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = datachonk(
        &sb,
        dir.path(),
        &[
            "dbt-run",
            "--job-id",
            "2",
            "--wait",
            "--cause",
            "nightly check",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);

    let r = datachonk(&sb, dir.path(), &["cloud", "runs", "list"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "a header and two runs:\n{}", r.stdout);
    let header = lines[0];
    for word in ["RUN", "STATUS", "JOB", "CREATED", "DURATION", "CAUSE"] {
        assert!(header.contains(word), "{header}");
    }
    // Newest first; every column starts where its heading does.
    let (broken, ci) = (lines[1], lines[2]);
    for (row, status, job, cause) in [
        (broken, "Error", "2 Broken", "nightly check"),
        (ci, "Success", "1 CI validate", "Triggered by datachonk"),
    ] {
        assert_eq!(column(row, status), column(header, "STATUS"), "{row}");
        assert_eq!(column(row, job), column(header, "JOB"), "{row}");
        assert_eq!(column(row, cause), column(header, "CAUSE"), "{row}");
        assert!(
            row.ends_with(cause),
            "the cause without its marker: {row:?}"
        );
        let duration = row[..row.find(cause).unwrap()]
            .split_whitespace()
            .last()
            .unwrap();
        assert!(
            duration.ends_with('s') && duration != "-",
            "a finished run has a duration: {row}"
        );
    }
    assert!(!r.stdout.contains("[dc:"), "{}", r.stdout);

    // --json keeps the cause as dbt Cloud has it, marker included.
    let r = datachonk(&sb, dir.path(), &["cloud", "runs", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let cause = v["runs"][0]["cause"].as_str().unwrap();
    assert_eq!(without_marker(cause), "nightly check");

    // `runs show` prints the cause without the marker too.
    let r = datachonk(&sb, dir.path(), &["cloud", "runs", "show", "2"]);
    assert!(
        r.stdout.contains("cause     nightly check\n"),
        "{}",
        r.stdout
    );
}

#[test]
fn runs_list_shows_the_ids_when_the_job_names_cannot_be_had() {
    // Every read of a job answers 404: the listing still shows each run with its job id.
    let sb = sandbox(&["404:path=/jobs/:method=GET"]);
    let dir = workdir();
    let r = datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = datachonk(&sb, dir.path(), &["cloud", "runs", "list"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", r.stdout);
    let job_column = column(lines[0], "JOB");
    assert!(
        lines[1][job_column..].starts_with("1  "),
        "the job's id alone: {}",
        r.stdout
    );
    assert!(!lines[1].contains("CI validate"), "{}", r.stdout);
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .args(["-c", "user.name=T", "-c", "user.email=t@example.com"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn the_default_cause_names_the_branch_at_the_sha_as_documented() {
    let sb = sandbox(&[]);
    let repo = tempfile::tempdir().unwrap();
    git(repo.path(), &["init", "--quiet", "-b", "feature/x"]);
    std::fs::write(repo.path().join("a.sql"), "select 1\n").unwrap();
    git(repo.path(), &["add", "a.sql"]);
    git(repo.path(), &["commit", "--quiet", "-m", "a"]);
    let sha = git(repo.path(), &["rev-parse", "HEAD"]);

    let r = datachonk(
        &sb,
        repo.path(),
        &["dbt-run", "--job-id", "1", "--git-sha", &sha],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Without the sha, the job's own branch runs: nothing local is named.
    let r = datachonk(&sb, repo.path(), &["dbt-run", "--job-id", "1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let runs = sb.runs();
    assert_eq!(
        without_marker(&runs[0].trigger.cause),
        format!("Triggered by datachonk for feature/x @ {}", &sha[..12])
    );
    assert_eq!(runs[0].trigger.git_sha.as_deref(), Some(sha.as_str()));
    assert_eq!(runs[0].trigger.git_branch, None, "only the sha is sent");
    assert_eq!(
        without_marker(&runs[1].trigger.cause),
        "Triggered by datachonk"
    );
}

/// A relay on 127.0.0.1 in front of the sandbox: every request goes through unchanged,
/// except a run's `run_results.json`, answered with a body that never ends (a result whose
/// message goes on and on). Returns the relay's URL.
fn endless_run_results_relay(sandbox_url: &str) -> String {
    let upstream = sandbox_url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let upstream = upstream.clone();
            std::thread::spawn(move || relay(client, &upstream));
        }
    });
    url
}

fn relay(client: TcpStream, upstream: &str) {
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut client = client;
    // One request per connection: read its head (GETs carry no body here).
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let end = line == "\r\n";
        if !line.to_ascii_lowercase().starts_with("connection:") && !end {
            head.push(line);
        }
        if end {
            break;
        }
    }
    if head[0].contains("/artifacts/run_results.json") {
        let _ = client.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n",
        );
        let start = br#"{"results": [{"unique_id": "model.p.a", "status": "error", "message": ""#;
        if client.write_all(start).is_err() {
            return;
        }
        let more = vec![b'x'; 64 << 10];
        // Up to 2 GiB, or until datachonk stops reading.
        for _ in 0..(2usize << 30) / more.len() {
            if client.write_all(&more).is_err() {
                return;
            }
        }
        return;
    }
    let mut up = TcpStream::connect(upstream).unwrap();
    let mut request: String = head.concat();
    request.push_str("Connection: close\r\n\r\n");
    up.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = up.read_to_end(&mut answer);
    let _ = client.write_all(&answer);
}

#[test]
fn an_endless_run_results_is_cut_at_the_cap_and_the_verdict_stands() {
    let sb = sandbox(&[]);
    let dir = workdir();
    let r = datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "2", "--wait"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    // From here on finished runs' artifacts are kept in the project.
    std::fs::write(
        dir.path().join("datachonk.yaml"),
        "deploy:\n  dbt_cloud: {}\n",
    )
    .unwrap();
    let relay = endless_run_results_relay(&sb.base_url());
    let env = [("DBT_CLOUD_ACCESS_URL", relay.as_str())];

    // Waiting on the finished run through the relay: its verdict (Error, exit 1) stands, and
    // the summary says it was cut.
    let r = datachonk_with(
        &sb,
        dir.path(),
        TOKEN,
        &["cloud", "runs", "wait", "1"],
        &env,
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("ERROR run 1"), "{}", r.stdout);
    assert!(
        r.stdout.contains("(node summary cut at 64 MiB)"),
        "{}",
        r.stdout
    );

    let r = datachonk_with(
        &sb,
        dir.path(),
        TOKEN,
        &["cloud", "runs", "show", "1", "--nodes"],
        &env,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("node summary cut at 64 MiB"),
        "{}",
        r.stdout
    );
    let r = datachonk_with(
        &sb,
        dir.path(),
        TOKEN,
        &["cloud", "runs", "show", "1", "--json"],
        &env,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["nodes"]["cut"], true, "{}", r.stdout);
    // A whole artifact read on the way is kept; a cut one is not kept as if it were whole.
    let step = dir.path().join(".datachonk/runs/1/step-4");
    assert!(step.join("manifest.json").is_file(), "the manifest is kept");
    assert!(
        !step.join("run_results.json").exists(),
        "a cut artifact must not be cached"
    );
}

#[test]
fn outside_text_in_the_tables_is_shown_not_obeyed_and_stays_aligned() {
    let yaml = r#"
accounts: [{id: 1, name: Acme}]
projects: [{id: 1, account_id: 1, name: analytics}]
environments: [{id: 1, project_id: 1, name: Production}]
jobs:
  - id: 1
    project_id: 1
    environment_id: 1
    name: "Nightly \e]52;c;ZWNobw==\a"
    execute_steps: ["dbt build"]
    models: [stg_orders, stg_customers]
    run:
      queued_ms: 10
      starting_ms: 10
      step_ms: 20
      outcome: error
      failing_step: 4
      failures:
        - node: stg_orders
          message: "boom \e]0;pwned\a"
tokens:
  - {token: fake-admin-token-5b2e91, permissions: account_admin}
"#;
    let fixture = datachonk::sandbox::Fixture::from_yaml_str(yaml, "hostile").unwrap();
    let sb = datachonk::sandbox::Sandbox::start(
        datachonk::sandbox::SandboxOptions::default().with_fixture(fixture),
    )
    .unwrap();
    let dir = workdir();
    let r = datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "1", "--wait"]);
    assert_eq!(r.code, 1, "{}", r.stderr);

    let no_control = |text: &str| {
        assert!(
            !text
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t'),
            "control characters reached the terminal:\n{text}"
        )
    };
    let list = datachonk(&sb, dir.path(), &["cloud", "runs", "list"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    no_control(&list.stdout);
    let lines: Vec<&str> = list.stdout.lines().collect();
    assert!(
        lines[1].contains("1 Nightly \\u{1b}]52;c;ZWNobw==\\u{7}"),
        "{}",
        list.stdout
    );
    // Widths are those of the text as shown, so the next column still lines up.
    let created = lines[1].find("20").unwrap();
    assert_eq!(created, column(lines[0], "CREATED"), "{}", list.stdout);

    let show = datachonk(&sb, dir.path(), &["cloud", "runs", "show", "1", "--nodes"]);
    assert_eq!(show.code, 0, "{}", show.stderr);
    no_control(&show.stdout);
    assert!(
        show.stdout.contains("boom \\u{1b}]0;pwned\\u{7}"),
        "{}",
        show.stdout
    );
}
