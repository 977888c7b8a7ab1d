//! HTTPS: the sandbox with `TlsMode`, driven by a reqwest client that trusts only what the
//! sandbox exposes (`ca_pem`), as an in-process caller would. Third-party clients over TLS
//! are in `sandbox_clients.rs`.

mod sandbox_support;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use datachonk::sandbox::{RunningSandbox, SandboxOptions, TlsMode};
use sandbox_support::*;
use serde_json::json;

/// A client trusting only the sandbox's certificate (no system roots).
fn trusting(sandbox: &RunningSandbox) -> Api {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let pem = sandbox
        .ca_pem()
        .expect("a TLS sandbox exposes its certificate");
    let cert = reqwest::Certificate::from_pem(pem.as_bytes()).expect("PEM parses");
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .tls_certs_only([cert])
        .build()
        .expect("client builds");
    Api {
        http,
        ..Api::new(&sandbox.base_url())
    }
}

fn tls_sandbox(options: SandboxOptions) -> RunningSandbox {
    start_with(
        options
            .with_fixture(fixture())
            .with_tls(TlsMode::SelfSigned),
    )
}

#[test]
fn serves_https_with_a_certificate_callers_can_trust() {
    let sandbox = tls_sandbox(SandboxOptions::default());
    let url = sandbox.base_url();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");

    let path = sandbox.ca_path().expect("cert file").to_path_buf();
    let on_disk = std::fs::read_to_string(&path).expect("cert file readable");
    assert_eq!(on_disk, sandbox.ca_pem().unwrap_or_default());
    assert!(
        !on_disk.contains("PRIVATE KEY"),
        "only public material on disk"
    );
    assert_eq!(
        path.file_name().and_then(|n| n.to_str()),
        Some(format!("datachonk-sandbox-{}.pem", sandbox.addr().port()).as_str())
    );

    let api = trusting(&sandbox);
    let run = api.trigger(JOB_OK, "over TLS");
    let done = api.wait_terminal(run);
    assert_eq!(done["status_humanized"], "Success");
    // The names in the certificate: localhost too.
    let by_name = Api {
        base: format!("https://localhost:{}", sandbox.addr().port()),
        ..trusting(&sandbox)
    };
    assert_eq!(by_name.get("/api/v2/accounts/1/").status, 200);

    sandbox.shutdown();
    assert!(
        !path.exists(),
        "the default cert file is removed at shutdown"
    );
}

#[test]
fn untrusting_and_plain_http_clients_fail_without_harming_the_server() {
    let sandbox = tls_sandbox(SandboxOptions::default());
    let untrusting = Api::new(&sandbox.base_url());
    let err = untrusting
        .try_send(reqwest::Method::GET, "/api/v2/accounts/1/", None)
        .err()
        .expect("an unknown CA is refused");
    assert!(
        format!("{err:?}").to_lowercase().contains("certificate"),
        "{err:?}"
    );

    let plain = Api::new(&sandbox.base_url().replace("https://", "http://"));
    let answered = plain.try_send(reqwest::Method::GET, "/api/v2/accounts/1/", None);
    assert!(
        answered.map_or(true, |r| r.status >= 400),
        "plain HTTP on the TLS port gets no API answer"
    );

    // A client that connects and says nothing does not hold up the others.
    let mut silent = TcpStream::connect(sandbox.addr()).expect("connect");
    let _ = silent.write_all(b"");
    assert_eq!(trusting(&sandbox).get("/api/v2/accounts/1/").status, 200);
    drop(silent);
    // Failed handshakes never reach the API log.
    assert_eq!(sandbox.requests().len(), 1);
}

#[test]
fn drop_faults_close_tls_connections_without_an_answer() {
    let options = SandboxOptions::default()
        .with_fault("drop:every=2:path=/runs/")
        .and_then(|o| o.with_fault("drop:method=POST:path=/run/:after:times=1"))
        .expect("fault specs parse");
    let sandbox = tls_sandbox(options);
    let api = trusting(&sandbox);

    assert_eq!(api.get("/api/v2/accounts/1/runs/").status, 200);
    let dropped = api.try_send(reqwest::Method::GET, "/api/v2/accounts/1/runs/", None);
    assert!(dropped.is_err(), "the client sees a connection error");

    // `after`: the run is created although the answer is lost.
    let lost = api.try_send(
        reqwest::Method::POST,
        "/api/v2/accounts/1/jobs/1/run/",
        Some(json!({"cause": "answer lost over TLS"})),
    );
    assert!(lost.is_err(), "the trigger's answer is dropped");
    assert_eq!(sandbox.runs().len(), 1, "the run exists anyway");

    let log = sandbox.requests();
    assert_eq!(log.iter().filter(|r| r.status == 0).count(), 2, "{log:?}");
    // The server is still serving.
    assert_eq!(api.get("/api/v2/accounts/1/").status, 200);
}

#[test]
fn serves_a_given_certificate_and_writes_cert_out() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cert =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).expect("rcgen generates");
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).expect("write cert");
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).expect("write key");
    let out = dir.path().join("trust.pem");

    let sandbox = start_with(
        SandboxOptions::default()
            .with_fixture(fixture())
            .with_tls(TlsMode::Files {
                cert: cert_path.clone(),
                key: key_path,
            })
            .with_tls_cert_out(&out),
    );
    assert_eq!(sandbox.ca_path(), Some(out.as_path()));
    assert_eq!(sandbox.ca_pem(), Some(cert.cert.pem().as_str()));
    assert_eq!(trusting(&sandbox).get("/api/v2/accounts/1/").status, 200);
    sandbox.shutdown();
    assert!(out.exists(), "an explicit --tls-cert-out file is kept");
}

#[test]
fn a_bad_key_file_fails_start_with_its_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, "not a certificate").expect("write");
    std::fs::write(&key_path, "not a key").expect("write");
    let err =
        datachonk::sandbox::Sandbox::start(SandboxOptions::default().with_tls(TlsMode::Files {
            cert: cert_path.clone(),
            key: key_path,
        }))
        .err()
        .expect("start fails");
    assert!(err.to_string().contains("cert.pem"), "{err}");
}
