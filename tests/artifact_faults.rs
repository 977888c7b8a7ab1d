//! Artifacts that misbehave, served by a loopback relay in front of the real sandbox (issue 21
//! §4, §7):
//! - a body that breaks off mid-stream (the connection closed after half of it, the announced
//!   length never reached) is asked for again like a request that got no answer, under the
//!   same retry policy and inside the same deadline;
//! - a manifest that never ends is cut at its own cap and the steps' results are still read
//!   whole (the manifest has a budget of its own).

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::Value;
use support::*;

/// A relay to the sandbox; the count of `run_results.json` requests is shared.
struct Relay {
    url: String,
    run_results_requests: Arc<AtomicUsize>,
}

/// What the relay does to artifacts.
#[derive(Clone, Copy)]
struct Faults {
    /// Cut the first this many `run_results.json` answers in the middle of their body.
    cuts: usize,
    /// Answer `manifest.json` with a body that never ends (new nodes, one after another).
    endless_manifest: bool,
}

fn relay(sandbox_url: &str, faults: Faults) -> Relay {
    let upstream = sandbox_url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let (upstream, seen) = (upstream.clone(), seen.clone());
            std::thread::spawn(move || forward(client, &upstream, &seen, faults));
        }
    });
    Relay {
        url,
        run_results_requests: count,
    }
}

fn forward(client: TcpStream, upstream: &str, seen: &AtomicUsize, faults: Faults) {
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut client = client;
    // One request per connection: its head (without Connection) and its body, if any.
    let mut head = Vec::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(n) = lower.strip_prefix("content-length:") {
            length = n.trim().parse().unwrap_or(0);
        }
        if !lower.starts_with("connection:") {
            head.push(line);
        }
    }
    if faults.endless_manifest && head[0].contains("/artifacts/manifest.json") {
        endless_manifest(&mut client);
        return;
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let mut up = TcpStream::connect(upstream).unwrap();
    let mut request = head.concat().into_bytes();
    request.extend_from_slice(b"Connection: close\r\n\r\n");
    request.extend_from_slice(&body);
    up.write_all(&request).unwrap();
    let mut answer = Vec::new();
    let _ = up.read_to_end(&mut answer);
    let cut = head[0].contains("/artifacts/run_results.json")
        && seen.fetch_add(1, Ordering::SeqCst) < faults.cuts;
    if cut {
        // The head as it came (its length announced) and half the body, then the connection
        // closes: a body broken off mid-stream.
        let body_at = answer
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("an HTTP answer")
            + 4;
        let half = body_at + (answer.len() - body_at) / 2;
        assert!(half > body_at, "the body is not empty");
        let _ = client.write_all(&answer[..half]);
        let _ = client.flush();
        let _ = client.shutdown(Shutdown::Both);
        return;
    }
    let _ = client.write_all(&answer);
}

/// `{"nodes": {` and then distinct nodes, up to 2 GiB or until datachonk stops reading.
fn endless_manifest(client: &mut TcpStream) {
    let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n";
    if client.write_all(head.as_bytes()).is_err() || client.write_all(b"{\"nodes\": {").is_err() {
        return;
    }
    let mut written = 0usize;
    let mut i = 0u64;
    while written < 2 << 30 {
        let mut batch = String::new();
        while batch.len() < 64 << 10 {
            i += 1;
            batch.push_str(&format!(
                r#""model.p.m{i:09}": {{"unique_id": "model.p.m{i:09}", "name": "m{i:09}", "resource_type": "model", "depends_on": {{"nodes": ["model.p.m{:09}"]}}}},"#,
                i - 1
            ));
        }
        if client.write_all(batch.as_bytes()).is_err() {
            return;
        }
        written += batch.len();
    }
}

/// The nodes of the sandbox's run `run`, read straight from it (no relay).
fn nodes_of(sb: &datachonk::sandbox::RunningSandbox, run: i64) -> Value {
    let dir = workdir();
    let r = datachonk(
        sb,
        dir.path(),
        &["cloud", "runs", "show", &run.to_string(), "--json"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(doc["nodes"]["steps"].is_array(), "{doc}");
    doc["nodes"].clone()
}

#[test]
fn a_body_broken_off_mid_stream_is_read_again_and_the_summary_is_whole() {
    let sb = sandbox(&[]);
    let dir = workdir();
    let relay = relay(
        &sb.base_url(),
        Faults {
            cuts: 1,
            endless_manifest: false,
        },
    );
    let r = datachonk_with(
        &sb,
        dir.path(),
        TOKEN,
        &["dbt-run", "--job-id", "2", "--wait", "--json", "--verbose"],
        &[("DBT_CLOUD_ACCESS_URL", relay.url.as_str())],
    );
    assert_eq!(r.code, 1, "the run's Error:\n{}\n{}", r.stdout, r.stderr);
    let doc: Value = serde_json::from_str(&r.stdout).expect("one JSON document");
    assert_eq!(doc["outcome"], "error", "{doc}");
    assert!(doc.get("nodes_unavailable").is_none(), "{doc}");
    let run = doc["run"]["id"].as_i64().unwrap();
    // The summary is the whole one: the same nodes as read without the relay.
    assert_eq!(doc["nodes"], nodes_of(&sb, run));
    assert!(
        doc["summary"]
            .as_str()
            .unwrap_or_default()
            .contains("error"),
        "{doc}"
    );
    assert_eq!(
        relay.run_results_requests.load(Ordering::SeqCst),
        2,
        "the cut body and its second, whole, reading"
    );
    assert!(
        r.stderr.contains("retrying in") && r.stderr.contains("broke off"),
        "--verbose says why it asked again:\n{}",
        r.stderr
    );
}

#[test]
fn bodies_that_always_break_off_are_retried_only_until_the_deadline() {
    let sb = sandbox(&[]);
    let dir = workdir();
    let relay = relay(
        &sb.base_url(),
        Faults {
            cuts: usize::MAX,
            endless_manifest: false,
        },
    );
    let r = datachonk_with(
        &sb,
        dir.path(),
        TOKEN,
        &[
            "dbt-run",
            "--job-id",
            "2",
            "--wait",
            "--json",
            "--timeout",
            "4s",
        ],
        &[("DBT_CLOUD_ACCESS_URL", relay.url.as_str())],
    );
    assert_eq!(
        r.code, 1,
        "the run's Error stands, not the deadline's:\n{}\n{}",
        r.stdout, r.stderr
    );
    let doc: Value = serde_json::from_str(&r.stdout).expect("one JSON document");
    assert_eq!(doc["outcome"], "error", "{doc}");
    assert_eq!(
        doc["nodes_unavailable"], "node summary skipped (deadline)",
        "{doc}"
    );
    assert!(doc.get("nodes").is_none(), "{doc}");
    let asked = relay.run_results_requests.load(Ordering::SeqCst);
    assert!(asked >= 2, "a broken body is asked for again ({asked})");
    assert!(
        asked < 8,
        "the deadline ends the retries before the policy's 8 attempts ({asked})"
    );
}

#[test]
fn a_manifest_cut_at_its_cap_leaves_the_steps_results_whole() {
    let sb = sandbox(&[]);
    let dir = workdir();
    let relay = relay(
        &sb.base_url(),
        Faults {
            cuts: 0,
            endless_manifest: true,
        },
    );
    let r = datachonk_with(
        &sb,
        dir.path(),
        TOKEN,
        &["dbt-run", "--job-id", "2", "--wait", "--json"],
        &[("DBT_CLOUD_ACCESS_URL", relay.url.as_str())],
    );
    assert_eq!(r.code, 1, "the run's Error:\n{}\n{}", r.stdout, r.stderr);
    let doc: Value = serde_json::from_str(&r.stdout).expect("one JSON document");
    let nodes = &doc["nodes"];
    assert_eq!(nodes["cut"], true, "the summary says it is cut: {nodes}");
    // The results were read: the failed model is there, no step left unread.
    let steps = nodes["steps"].as_array().expect("steps");
    assert!(steps.iter().all(|s| s["unavailable"].is_null()), "{nodes}");
    let failed: Vec<&str> = steps
        .iter()
        .flat_map(|s| s["nodes"].as_array().unwrap())
        .filter(|n| n["status"] == "error")
        .map(|n| n["unique_id"].as_str().unwrap())
        .collect();
    assert_eq!(failed.len(), 1, "{nodes}");
    assert!(failed[0].ends_with(".stg_orders"), "{failed:?}");
    let run = doc["run"]["id"].as_i64().unwrap();
    let whole = nodes_of(&sb, run);
    assert_eq!(
        nodes["summary"], whole["summary"],
        "the same counts as the whole summary"
    );
}
