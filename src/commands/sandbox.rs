//! `datachonk sandbox`: serve the local dbt Cloud v2-compatible API until interrupted.
//!
//! The first stdout line is the base URL (scripts read it to find a port-0 sandbox); every
//! request is logged to stderr, without tokens.

use std::net::SocketAddr;

use crate::cli::{SandboxArgs, SandboxExecutor};
use crate::error::{CliError, CmdResult, Exit};
use crate::sandbox::fixture::{Permission, TokenFixture};
use crate::sandbox::{Executor, Fixture, Sandbox, SandboxOptions, TlsMode};
use crate::ui::Ui;

pub fn run(args: &SandboxArgs, ui: &Ui) -> CmdResult {
    let options = options(args, ui)?;
    let rt = super::edge::runtime()?;
    // Listening before the URL is out: a script that stops the sandbox as soon as it has read
    // the URL gets the same clean stop as Ctrl-C.
    let mut stop = rt.block_on(async { crate::signals::Interrupt::listen() })?;
    let sandbox = Sandbox::start(options)
        .map_err(|e| CliError::new(Exit::Usage, format!("cannot start the sandbox: {e}")))?;
    let url = sandbox.base_url();
    if ui.is_json() {
        ui.json(&serde_json::json!({ "base_url": url }));
    } else {
        ui.out(&url);
    }
    if let Some(cert) = sandbox.ca_path() {
        let cert = cert.display();
        ui.status(format!(
            "sandbox: TLS certificate to trust: {cert}\n  \
             e.g. REQUESTS_CA_BUNDLE={cert} (Python requests), SSL_CERT_FILE={cert} \
             (OpenSSL, Go), NODE_EXTRA_CA_CERTS={cert} (Node)"
        ));
    }
    ui.status(format!(
        "sandbox: dbt Cloud API v2 on {url} (account {}), Ctrl-C to stop",
        sandbox
            .fixture()
            .accounts
            .iter()
            .map(|a| a.id.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    rt.block_on(stop.recv());
    ui.status("sandbox: stopping");
    sandbox.shutdown();
    Ok(Exit::Success)
}

fn options(args: &SandboxArgs, ui: &Ui) -> Result<SandboxOptions, CliError> {
    let addr: SocketAddr = args.addr.parse().map_err(|_| {
        CliError::usage(format!(
            "--addr {:?} is not an address like 127.0.0.1:8080",
            args.addr
        ))
    })?;
    if !addr.ip().is_loopback() {
        ui.warn(format!(
            "the sandbox listens on {addr}, reachable from other machines; it has no real security"
        ));
    }
    let fixture = match &args.fixture {
        Some(path) => {
            let mut f = Fixture::from_path(path).map_err(|e| CliError::usage(e.to_string()))?;
            // A fixture without tokens accepts --token, as the built-in one does.
            if f.tokens.is_empty() {
                f.tokens.push(TokenFixture {
                    token: args.token.clone(),
                    permissions: Permission::AccountAdmin,
                    accounts: None,
                });
            }
            f
        }
        None => Fixture::builtin(&args.token),
    };
    let mut options = SandboxOptions::default()
        .with_addr(addr)
        .with_fixture(fixture);
    for spec in &args.faults {
        options = options
            .with_fault(spec)
            .map_err(|e| CliError::usage(format!("--fault {spec:?}: {e}")))?;
    }
    options = with_tls(options, args);
    if args.executor == SandboxExecutor::Dbt {
        options = options.with_executor(Executor::Dbt {
            dbt: args.dbt.clone(),
        });
    }
    if let Some(dir) = &args.workdir {
        options = options.with_workdir(dir);
    }
    let log_ui = ui.clone();
    Ok(options.on_request(move |r| log_ui.status(r.log_line())))
}

/// `--tls`, `--tls-cert/--tls-key` (which imply `--tls`) and `--tls-cert-out`.
fn with_tls(mut options: SandboxOptions, args: &SandboxArgs) -> SandboxOptions {
    let mode = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsMode::Files {
            cert: cert.clone(),
            key: key.clone(),
        }),
        _ if args.tls => Some(TlsMode::SelfSigned),
        _ => None,
    };
    if let Some(mode) = mode {
        options = options.with_tls(mode);
        if let Some(out) = &args.tls_cert_out {
            options = options.with_tls_cert_out(out.clone());
        }
    }
    options
}
