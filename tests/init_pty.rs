//! The real wizard in a pseudo-terminal (expectrl): arrow keys, type-to-filter, a wrong token
//! then the right one, Ctrl-C midway, and a re-run as an edit. Each step waits for the
//! prompt's text (never a fixed sleep) with a generous but bounded timeout, so the tests stay
//! reliable on a loaded machine and fail instead of hanging.

#![cfg(unix)]

mod init_support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use expectrl::process::unix::WaitStatus;
use expectrl::{Eof, Expect, Session};
use init_support::*;

const DOWN: &str = "\x1b[B";
const ENTER: &str = "\r";
const CTRL_C: &str = "\x03";

type Pty = expectrl::session::OsSession;

/// Start `datachonk init` in `dir` on a PTY: TERM=xterm, 120x40, no colour, hermetic env.
fn spawn_init(dir: &Path, token: Option<&str>) -> Pty {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin!("datachonk"));
    cmd.arg("init")
        .current_dir(dir)
        .env("TERM", "xterm")
        .env("NO_COLOR", "1")
        .env_remove("SSL_CERT_FILE")
        .env_remove("DATACHONK_CA_CERT");
    for (name, _) in datachonk::config::ENV_VARS {
        cmd.env_remove(name);
    }
    if let Some(t) = token {
        cmd.env("DBT_CLOUD_API_TOKEN", t);
    }
    let mut p = Session::spawn(cmd).expect("spawn on a pty");
    p.get_process_mut()
        .set_window_size(120, 40)
        .expect("window size");
    p.set_expect_timeout(Some(Duration::from_secs(60)));
    p
}

/// Wait for `text`; on timeout, fail with what the terminal showed.
fn wait_for(p: &mut Pty, text: &str) {
    if let Err(e) = p.expect(text) {
        panic!("waiting for {text:?}: {e}");
    }
}

fn send(p: &mut Pty, keys: &str) {
    p.send(keys).expect("send keys");
}

/// Read to the end and return the exit code (a signal counts as a failure).
fn finish(mut p: Pty) -> (i32, String) {
    let rest = match p.expect(Eof) {
        // Eof's match holds everything read since the last expect.
        Ok(c) => {
            let mut all = c.before().to_vec();
            for m in c.matches() {
                all.extend_from_slice(m);
            }
            String::from_utf8_lossy(&all).into_owned()
        }
        Err(e) => panic!("waiting for the end: {e}"),
    };
    match p.get_process().wait().expect("wait") {
        WaitStatus::Exited(_, code) => (code, rest),
        other => panic!("datachonk did not exit normally: {other:?}\n{rest}"),
    }
}

fn port(sb: &datachonk::sandbox::RunningSandbox) -> String {
    sb.base_url()
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn the_wizard_end_to_end_arrows_filter_wrong_then_right_token() {
    let sb = sandbox();
    let dir = repo();
    let mut p = spawn_init(dir.path(), None);

    wait_for(&mut p, "dbt project: transform/dbt_project.yml");
    wait_for(&mut p, "dbt Cloud access URL");
    // "Local sandbox" is the sixth entry: five times down.
    send(&mut p, &DOWN.repeat(5));
    send(&mut p, ENTER);
    wait_for(&mut p, "Sandbox port");
    send(&mut p, &format!("{}{ENTER}", port(&sb)));

    wait_for(&mut p, "dbt Cloud API token");
    send(&mut p, &format!("{BAD_TOKEN}{ENTER}"));
    wait_for(&mut p, "401 Unauthorized");
    wait_for(&mut p, "What now?");
    send(&mut p, ENTER); // enter the token again
    wait_for(&mut p, "dbt Cloud API token");
    send(&mut p, &format!("{GOOD_TOKEN}{ENTER}"));

    wait_for(&mut p, "Account: Init Analytics (id 7) (the only one)");
    wait_for(&mut p, "dbt Cloud project");
    send(&mut p, ENTER); // analytics, the first
    wait_for(&mut p, "Project: analytics (id 10)");
    wait_for(&mut p, "dbt Cloud environment");
    send(&mut p, DOWN); // CI, the second
    send(&mut p, ENTER);
    wait_for(&mut p, "Environment: CI (id 21)");

    // Thirteen jobs: a filter list. Type to narrow it down to one, then pick it.
    wait_for(&mut p, "dbt Cloud job (type to filter)");
    send(&mut p, "PR valid");
    wait_for(&mut p, "PR valid");
    send(&mut p, ENTER);
    wait_for(&mut p, "Job: PR validation (id 160)");
    wait_for(&mut p, "1. dbt build --select state:modified+");
    // A production job too: the project's first other job (Nightly slice 01, id 101).
    wait_for(&mut p, "A production job too?");
    send(&mut p, DOWN);
    send(&mut p, ENTER);

    wait_for(&mut p, "auto_trigger)?");
    send(&mut p, "y");
    wait_for(&mut p, "(wait)?");
    send(&mut p, ENTER); // default: yes
    wait_for(&mut p, "Protected branches");
    send(&mut p, ENTER); // default: main, master
    wait_for(&mut p, "Install a git hook?");
    send(&mut p, ENTER); // pre-merge-commit
    wait_for(&mut p, "Wrote ");
    let (code, rest) = finish(p);
    assert_eq!(code, 0, "{rest}");
    assert!(
        rest.contains("Installed the pre-merge-commit git hook: "),
        "{rest}"
    );
    assert!(read(dir.path(), ".git/hooks/pre-merge-commit").contains("# datachonk-hook:"));
    assert!(!rest.contains(GOOD_TOKEN) && !rest.contains(BAD_TOKEN));

    let yaml = read(dir.path(), "datachonk.yaml");
    assert!(yaml.contains(&format!("access_url: http://127.0.0.1:{}\n", port(&sb))));
    for line in [
        "account_id: 7\n",
        "project_id: 10\n",
        "environment_id: 21\n",
        "default_target: dev\n",
        "  dev: {job_id: 160}\n",
        "  prod: {job_id: 101, confirm: true}\n",
        "auto_trigger: true\n",
        "wait: true\n",
        "protected_branches: [main, master]\n",
    ] {
        assert!(yaml.contains(line), "{line:?} missing from\n{yaml}");
    }
    assert_eq!(read(dir.path(), ".gitignore"), ".datachonk/\n");
    assert_no_token_in_files(dir.path());
}

/// A datachonk.yaml as a person keeps it: comments, other keys, another section.
fn existing_file(url: &str) -> String {
    format!(
        "# ask #data-platform before changing the job\n\
         deploy:\n  dbt_cloud:\n    access_url: {url}\n    account_id: 7\n    project_id: 10\n    environment_id: 21\n    job_id: 160  # PR validation\n    wait: true\n    timeout: 45m\n\n\
         generate:\n  source: shop\n"
    )
}

#[test]
fn ctrl_c_midway_exits_130_restores_the_cursor_and_keeps_the_old_file() {
    let sb = sandbox();
    let dir = repo();
    let url = sb.base_url().trim_end_matches('/').to_string();
    let original = existing_file(&url);
    std::fs::write(dir.path().join("datachonk.yaml"), &original).unwrap();

    let mut p = spawn_init(dir.path(), Some(GOOD_TOKEN));
    wait_for(&mut p, "dbt Cloud access URL");
    send(&mut p, ENTER); // keep
    wait_for(&mut p, "dbt Cloud project");
    send(&mut p, DOWN); // move, then change our mind
    send(&mut p, CTRL_C);
    let (code, rest) = finish(p);
    assert_eq!(code, 130, "{rest}");
    assert!(
        rest.contains("\x1b[?25h"),
        "cursor not shown again: {rest:?}"
    );
    assert!(rest.contains("nothing was written"), "{rest}");
    assert_eq!(read(dir.path(), "datachonk.yaml"), original);
    assert!(!dir.path().join(".gitignore").exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn ctrl_c_at_the_hidden_token_prompt_exits_130_with_no_file() {
    let dir = repo();
    let mut p = spawn_init(dir.path(), None);
    wait_for(&mut p, "dbt Cloud access URL");
    send(&mut p, &DOWN.repeat(2)); // EMEA
    send(&mut p, ENTER);
    wait_for(&mut p, "dbt Cloud API token");
    send(&mut p, "half-typed");
    send(&mut p, CTRL_C);
    let (code, rest) = finish(p);
    assert_eq!(code, 130, "{rest}");
    assert!(
        !rest.contains("half-typed"),
        "the hidden input was echoed: {rest}"
    );
    assert!(!dir.path().join("datachonk.yaml").exists());
}

#[test]
fn a_rerun_is_an_edit_defaults_offered_untouched_values_kept() {
    let sb = sandbox();
    let dir = repo();
    let url = sb.base_url().trim_end_matches('/').to_string();
    let original = existing_file(&url);
    std::fs::write(dir.path().join("datachonk.yaml"), &original).unwrap();

    let mut p = spawn_init(dir.path(), Some(GOOD_TOKEN));
    wait_for(&mut p, "Found ");
    wait_for(&mut p, &format!("Keep {url}"));
    send(&mut p, ENTER);
    wait_for(
        &mut p,
        "Using the API token from $DBT_CLOUD_API_TOKEN (not shown)",
    );
    wait_for(&mut p, "dbt Cloud project");
    send(&mut p, ENTER);
    wait_for(&mut p, "dbt Cloud environment");
    send(&mut p, ENTER);
    // The job list opens on the file's job.
    wait_for(&mut p, "dbt Cloud job (type to filter)");
    send(&mut p, ENTER);
    wait_for(&mut p, "Job: PR validation (id 160)");
    wait_for(&mut p, "A production job too?");
    send(&mut p, ENTER); // no production job
                         // auto_trigger was unset (false): turn it on; keep everything else.
    wait_for(&mut p, "auto_trigger)?");
    send(&mut p, "y");
    wait_for(&mut p, "(wait)?");
    send(&mut p, ENTER);
    wait_for(&mut p, "Protected branches");
    send(&mut p, ENTER); // the default (main, master): nothing to write
    wait_for(&mut p, "Install a git hook?");
    send(&mut p, &DOWN.repeat(2)); // no hook
    send(&mut p, ENTER);
    wait_for(&mut p, "Updated ");
    let (code, rest) = finish(p);
    assert_eq!(code, 0, "{rest}");
    assert!(!rest.contains("hook install"), "{rest}");

    let expected = original.replace(
        "    wait: true\n",
        "    auto_trigger: true\n    wait: true\n",
    );
    assert_eq!(read(dir.path(), "datachonk.yaml"), expected);
}
