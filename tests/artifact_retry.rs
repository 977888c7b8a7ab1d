//! An artifact whose body breaks off mid-stream (the connection closed after part of it, the
//! announced length never reached) is asked for again like a request that got no answer, under
//! the same retry policy and inside the same deadline (issue 21 §4, §7). Served by a loopback
//! relay in front of the real sandbox that cuts the first `run_results.json` bodies in half.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::Value;
use support::*;

/// A relay to `sandbox_url` that cuts the first `cuts` answers for `run_results.json` in the
/// middle of their body; the count of those requests is shared.
struct Relay {
    url: String,
    run_results_requests: Arc<AtomicUsize>,
}

fn relay(sandbox_url: &str, cuts: usize) -> Relay {
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
            std::thread::spawn(move || forward(client, &upstream, &seen, cuts));
        }
    });
    Relay {
        url,
        run_results_requests: count,
    }
}

fn forward(client: TcpStream, upstream: &str, seen: &AtomicUsize, cuts: usize) {
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
        && seen.fetch_add(1, Ordering::SeqCst) < cuts;
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
    let relay = relay(&sb.base_url(), 1);
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
    let relay = relay(&sb.base_url(), usize::MAX);
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
