//! `datachonk serve`: flags and configuration → [`crate::serve`]; prints the URL with its key
//! (the first stdout line), logs requests to stderr, serves until Ctrl-C / SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::cli::{GlobalArgs, ServeArgs};
use crate::cloud::ClientOptions;
use crate::config::{self, Config, FlagValues, ProcessEnv};
use crate::error::{CliError, CmdResult, Exit};
use crate::sandbox::TlsMode;
use crate::serve::{self, App, ServeOptions, Settings, TargetInfo};
use crate::ui::Ui;

use super::connect;

/// The shortest key `--key-env` may name (the generated one has 64 hex characters).
const MIN_KEY_LEN: usize = 32;

pub fn run(global: &GlobalArgs, args: &ServeArgs, ui: &Ui) -> CmdResult {
    let addr: SocketAddr = args.addr.parse().map_err(|_| {
        CliError::usage(format!(
            "--addr {:?} is not an address like 127.0.0.1:8765",
            args.addr
        ))
    })?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsMode::Files {
            cert: cert.clone(),
            key: key.clone(),
        }),
        _ => None,
    };
    if !addr.ip().is_loopback() && tls.is_none() {
        if !args.insecure_remote {
            return Err(CliError::usage(format!(
                "--addr {addr} is reachable from other machines, and serve holds a token that can run \
                 production jobs: refusing plain HTTP there"
            ))
            .with_hint("give --tls-cert FILE --tls-key FILE, or --insecure-remote if the network is trusted"));
        }
        ui.warn(format!(
            "serving plain HTTP on {addr}: the key and every request travel unencrypted"
        ));
    }
    let key = match &args.key_env {
        Some(var) => key_from_env(var)?,
        None => serve::guard::new_key()
            .map_err(|e| CliError::usage(format!("cannot generate a key: {e}")))?,
    };
    let flags = connect::connection_flags(&args.connection);
    let cfg = connect::load(global, &flags)?;
    let settings = settings(global, &flags, &cfg)?;
    let mut client_options =
        ClientOptions::from_env().map_err(|e| CliError::usage(e.to_string()))?;
    if ui.is_verbose() {
        let ui = ui.clone();
        client_options.debug = Some(Arc::new(move |line: &str| ui.debug(line)));
    }
    let app = Arc::new(App::new(
        settings,
        client_options,
        crate::deploy::store_for(&cfg),
    ));
    let log_ui = ui.clone();
    let options = ServeOptions {
        addr,
        tls,
        key,
        allow_origins: args.allow_origins.clone(),
        log: Arc::new(move |line: &str| log_ui.status(format!("serve: {line}"))),
    };
    let rt = crate::commands::edge::runtime()?;
    rt.block_on(async {
        // Listening before the URL is out: a script that stops serve as soon as it has read
        // the URL gets the same clean stop as Ctrl-C.
        let mut stop = crate::signals::Interrupt::listen()?;
        let bound = serve::bind(options, Arc::clone(&app))
            .await
            .map_err(CliError::usage)?;
        connect_from_config(&app, &cfg, ui).await;
        if ui.is_json() {
            ui.json(&serde_json::json!({ "url": bound.url() }));
        } else {
            ui.out(bound.url());
        }
        ui.status(format!(
            "serve: open the URL above (it holds this start's key); API: {}/api/dbt-cloud/ \
             (Bearer key), Ctrl-C to stop",
            bound.url().split("/?").next().unwrap_or_default()
        ));
        tokio::select! {
            _ = bound.serve() => {}
            _ = stop.recv() => {}
        }
        ui.status("serve: stopping");
        Ok(Exit::Success)
    })
}

fn key_from_env(var: &str) -> Result<String, CliError> {
    let key = std::env::var(var)
        .map_err(|_| CliError::usage(format!("--key-env {var}: the variable is not set")))?;
    let key = key.trim().to_string();
    let fine = key.len() >= MIN_KEY_LEN
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~'));
    if !fine {
        return Err(CliError::usage(format!(
            "--key-env {var}: the key must be at least {MIN_KEY_LEN} characters of A-Z a-z 0-9 - _ . ~"
        ))
        .with_hint("e.g. export DATACHONK_SERVE_KEY=$(openssl rand -hex 32)"));
    }
    Ok(key)
}

/// Targets and the default job from datachonk.yaml, and how to read a target's block later.
fn settings(global: &GlobalArgs, flags: &FlagValues, cfg: &Config) -> Result<Settings, CliError> {
    let options = global.load_options();
    let base = flags.clone();
    let resolve = move |target: Option<&str>| {
        let flags = FlagValues {
            target: target.map(str::to_string).or_else(|| base.target.clone()),
            ..base.clone()
        };
        config::load(&options, &flags, &ProcessEnv)
            .map(|c| c.dbt_cloud)
            .map_err(|e| e.to_string())
    };
    let chosen = cfg.dbt_cloud.target.as_ref().map(|t| t.value.clone());
    let mut targets = Vec::new();
    for name in &cfg.dbt_cloud.targets {
        let d = resolve(Some(name)).map_err(CliError::usage)?;
        if let Some(job) = &d.job_id {
            targets.push(TargetInfo {
                name: name.clone(),
                job_id: job.value,
                confirm: d.confirm.value,
                default: chosen.as_deref() == Some(name.as_str()),
            });
        }
    }
    Ok(Settings {
        access_url: cfg.dbt_cloud.access_url.value.clone(),
        project_id: cfg.dbt_cloud.project_id.as_ref().map(|p| p.value),
        account_id: cfg.dbt_cloud.account_id.as_ref().map(|a| a.value),
        // The repository of datachonk.yaml, else of the directory serve runs in.
        repo_dir: cfg
            .file
            .as_ref()
            .and_then(|f| f.parent())
            .filter(|p| !p.as_os_str().is_empty())
            .map(|p| p.to_path_buf())
            .or_else(|| std::env::current_dir().ok()),
        targets,
        resolve: Arc::new(resolve),
    })
}

/// Connected from the start when the configuration has a token and an account; a token dbt
/// Cloud refuses is reported and the page asks for another.
async fn connect_from_config(app: &App, cfg: &Config, ui: &Ui) {
    let d = &cfg.dbt_cloud;
    if d.token.is_none() || d.account_id.is_none() {
        return;
    }
    let client = match connect::client(cfg, ui) {
        Ok(c) => c,
        Err(e) => {
            ui.warn(format!("serve: not connected: {}", e.message));
            return;
        }
    };
    if let Err(e) = app.connect_client(client).await {
        ui.warn(format!(
            "serve: not connected ({}); connect from the page",
            e.message
        ));
    }
}
