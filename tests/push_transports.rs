//! `datachonk push` over the transports people push with, against real servers on 127.0.0.1:
//! smart HTTP (`git http-backend`, basic auth answered by a git credential helper) and SSH
//! (OpenSSH's sshd; the key in ssh-agent, or in ~/.ssh). Each checks what landed with the git
//! CLI, and that a refused credential ends in exit 5 with what was tried, without looping.

mod git_servers;
mod support;

use std::ffi::OsStr;
use std::sync::atomic::Ordering;

use git_servers::{http, ssh, World, BRANCH};

/// The remote has the pushed commit, intact, and the branch tracks `remote`.
fn assert_landed(world: &World, remote: &str) {
    let head = world.head();
    assert_eq!(world.remote_tip(BRANCH).as_deref(), Some(head.as_str()));
    world.git_ok(&world.remote(), &["fsck", "--strict", "--no-dangling"]);
    let log = world.git_ok(
        &world.remote(),
        &[
            "log",
            "-1",
            "--format=%H %s",
            &format!("refs/heads/{BRANCH}"),
        ],
    );
    assert!(
        log.starts_with(&format!("{head} datachonk: generate 4 staging models")),
        "{log}"
    );
    assert_eq!(
        world.git_ok(&world.work(), &["rev-parse", "--abbrev-ref", "@{upstream}"]),
        format!("{remote}/{BRANCH}")
    );
}

/// Add a credential helper (`git credential-store` with its own file) answering for `url`.
fn credential_store(world: &World, port: u16, user: &str, password: &str) {
    let store = world.dir.path().join("git-credentials");
    std::fs::write(
        &store,
        format!("http://{user}:{password}@127.0.0.1:{port}\n"),
    )
    .unwrap();
    let mut config = std::fs::read_to_string(world.gitconfig()).unwrap();
    config.push_str(&format!(
        "[credential]\n\thelper = store --file {}\n",
        store.display()
    ));
    std::fs::write(world.gitconfig(), config).unwrap();
}

#[test]
fn push_over_smart_http_with_basic_auth_from_a_credential_helper() {
    let world = World::new();
    let server = http::start(&world, "tester", "s3cret-pass");
    credential_store(&world, server.port, "tester", "s3cret-pass");
    world.git_ok(&world.work(), &["remote", "add", "web", &server.url()]);

    let run = world.datachonk(&["push", "--remote", "web"]);
    assert_eq!(
        run.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert_landed(&world, "web");
    // Authenticated by the helper's user; the password never shows.
    assert!(server.seen.accepted.load(Ordering::SeqCst) >= 1);
    assert!(server
        .seen
        .users
        .lock()
        .unwrap()
        .iter()
        .all(|u| u == "tester"));
    assert!(!run.stderr.contains("s3cret-pass") && !run.stdout.contains("s3cret-pass"));
}

#[test]
fn a_wrong_password_over_http_is_exit_5_naming_the_url_and_what_was_tried() {
    let world = World::new();
    let server = http::start(&world, "tester", "right-pass");
    credential_store(&world, server.port, "tester", "wrong-pass");
    world.git_ok(&world.work(), &["remote", "add", "web", &server.url()]);
    let before = world.head();

    let run = world.datachonk(&["push", "--remote", "web"]);
    assert_eq!(
        run.code, 5,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert!(
        run.stderr
            .contains(&format!("authentication to {} failed", server.url())),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("git credential helper"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("is kept on feature/shop"),
        "{}",
        run.stderr
    );
    // Bounded: the helper's answer is offered once, not retried until something gives.
    let refused = server.seen.refused.load(Ordering::SeqCst);
    assert!(refused <= 3, "the server refused {refused} attempts");
    assert_eq!(server.seen.accepted.load(Ordering::SeqCst), 0);
    // The commit is kept locally; the remote has nothing.
    assert_ne!(world.head(), before);
    assert_eq!(world.remote_tip(BRANCH), None);
}

#[test]
fn push_over_ssh_with_the_key_in_ssh_agent() {
    let world = World::new();
    let sshd = ssh::start(&world);
    sshd.trust(&world);
    let agent = ssh::agent(&world, &sshd.client_key);
    world.git_ok(&world.work(), &["remote", "add", "box", &sshd.url(&world)]);
    // No key files in HOME: only the agent can answer.
    assert!(!world.home().join(".ssh/id_ed25519").exists());

    let run = world.datachonk_env(
        &world.work(),
        &["push", "--remote", "box"],
        None,
        &[("SSH_AUTH_SOCK", agent.socket.as_os_str())],
    );
    assert_eq!(
        run.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert_landed(&world, "box");
}

#[test]
fn push_over_ssh_with_a_key_file_in_home() {
    let world = World::new();
    let sshd = ssh::start(&world);
    sshd.trust(&world);
    let ssh_dir = world.home().join(".ssh");
    std::fs::copy(&sshd.client_key, ssh_dir.join("id_ed25519")).unwrap();
    std::fs::copy(
        sshd.client_key.with_extension("pub"),
        ssh_dir.join("id_ed25519.pub"),
    )
    .unwrap();
    world.git_ok(&world.work(), &["remote", "add", "box", &sshd.url(&world)]);

    let run = world.datachonk(&["push", "--remote", "box"]);
    assert_eq!(
        run.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert_landed(&world, "box");
}

#[test]
fn ssh_without_a_usable_key_is_exit_5_and_does_not_loop() {
    let world = World::new();
    let sshd = ssh::start(&world);
    sshd.trust(&world);
    // A key the server does not know, in HOME; no agent.
    let ssh_dir = world.home().join(".ssh");
    let out = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(ssh_dir.join("id_ed25519"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let url = sshd.url(&world);
    world.git_ok(&world.work(), &["remote", "add", "box", &url]);

    let run = world.datachonk_env(&world.work(), &["push", "--remote", "box"], None, &[]);
    assert_eq!(
        run.code, 5,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert!(
        run.stderr
            .contains(&format!("authentication to {url} failed")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("ssh-agent (not running"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("id_ed25519"), "{}", run.stderr);
    assert_eq!(world.remote_tip(BRANCH), None);
}

#[test]
fn ssh_to_an_unknown_or_changed_host_key_is_refused_with_its_fingerprint() {
    let world = World::new();
    let sshd = ssh::start(&world);
    let agent = ssh::agent(&world, &sshd.client_key);
    let url = sshd.url(&world);
    world.git_ok(&world.work(), &["remote", "add", "box", &url]);
    let host_pub = world.dir.path().join("sshd/host_ed25519.pub");
    let out = std::process::Command::new("ssh-keygen")
        .arg("-lf")
        .arg(&host_pub)
        .output()
        .unwrap();
    let fingerprint = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    assert!(fingerprint.starts_with("SHA256:"), "{fingerprint}");
    let env = [("SSH_AUTH_SOCK", OsStr::new(agent.socket.as_os_str()))];

    // Unknown: no known_hosts at all. Changed: known_hosts records another key for the host.
    let ssh_dir = world.home().join(".ssh");
    std::fs::create_dir_all(&ssh_dir).unwrap();
    let other = world.dir.path().join("other_host_key");
    let keygen = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other)
        .output()
        .unwrap();
    assert!(keygen.status.success());
    let other_pub = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    let other_fields: Vec<&str> = other_pub.split_whitespace().collect();
    let changed = format!(
        "[127.0.0.1]:{} {} {}\n",
        sshd.port, other_fields[0], other_fields[1]
    );
    for known_hosts in [None, Some(changed)] {
        if let Some(text) = &known_hosts {
            std::fs::write(ssh_dir.join("known_hosts"), text).unwrap();
        }
        let run = world.datachonk_env(&world.work(), &["push", "--remote", "box"], None, &env);
        assert_eq!(
            run.code, 5,
            "stdout:\n{}\nstderr:\n{}",
            run.stdout, run.stderr
        );
        assert!(run.stderr.contains("known_hosts"), "{}", run.stderr);
        assert!(run.stderr.contains(&fingerprint), "{}", run.stderr);
        assert!(
            run.stderr.contains("never accepts an unknown host key"),
            "{}",
            run.stderr
        );
        assert_eq!(world.remote_tip(BRANCH), None);
    }
}

#[test]
fn a_token_in_the_remote_url_is_used_and_never_shown() {
    let world = World::new();
    let server = http::start(&world, "ci", "tok-in-url-4417");
    let url = server
        .url()
        .replace("http://", "http://ci:tok-in-url-4417@");
    world.git_ok(&world.work(), &["remote", "add", "web", &url]);

    for args in [&["push", "--remote", "web"][..], &["push", "--json"][..]] {
        let run = world.datachonk(args);
        assert_eq!(
            run.code, 0,
            "stdout:\n{}\nstderr:\n{}",
            run.stdout, run.stderr
        );
        assert!(
            !run.stdout.contains("tok-in-url-4417") && !run.stderr.contains("tok-in-url-4417"),
            "the token leaked:\n{}\n{}",
            run.stdout,
            run.stderr
        );
    }
    assert_landed(&world, "web");
    assert!(server.seen.users.lock().unwrap().iter().all(|u| u == "ci"));
}

#[test]
fn a_wrong_token_in_the_remote_url_is_exit_5_with_the_url_redacted() {
    let world = World::new();
    let server = http::start(&world, "ci", "right-token");
    let url = server.url().replace("http://", "http://ci:stale-token-9@");
    world.git_ok(&world.work(), &["remote", "add", "web", &url]);

    let run = world.datachonk(&["push", "--remote", "web"]);
    assert_eq!(run.code, 5, "{}", run.stderr);
    let shown = server.url().replace("http://", "http://ci:***@");
    assert!(
        run.stderr
            .contains(&format!("authentication to {shown} failed")),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("stale-token-9") && !run.stdout.contains("stale-token-9"));
}

#[test]
fn git_askpass_answers_when_no_credential_helper_does() {
    let world = World::new();
    let server = http::start(&world, "tester", "from-askpass-77");
    world.git_ok(&world.work(), &["remote", "add", "web", &server.url()]);
    // An askpass program as editors install it: prints the answer to the prompt it is given
    // and records the prompts, to compare with git's wording.
    let prompts = world.dir.path().join("prompts.log");
    let program = world.dir.path().join("askpass.sh");
    std::fs::write(
        &program,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\ncase \"$1\" in\n  Username*) echo tester ;;\n  Password*) echo from-askpass-77 ;;\nesac\n",
            prompts.display()
        ),
    )
    .unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&program)
        .status()
        .unwrap();

    let run = world.datachonk_env(
        &world.work(),
        &["push", "--remote", "web"],
        None,
        &[("GIT_ASKPASS", program.as_os_str())],
    );
    assert_eq!(
        run.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert_landed(&world, "web");
    let site = format!("http://127.0.0.1:{}", server.port);
    assert_eq!(
        std::fs::read_to_string(&prompts).unwrap(),
        format!(
            "Username for '{site}': \nPassword for 'http://tester@127.0.0.1:{}': \n",
            server.port
        )
    );
    assert!(!run.stderr.contains("from-askpass-77") && !run.stdout.contains("from-askpass-77"));
}
