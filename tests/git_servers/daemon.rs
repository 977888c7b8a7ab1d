//! `git daemon` on 127.0.0.1 with receive-pack enabled, serving the world's directory.

use std::process::{Child, Command, Stdio};

use super::{free_port, wait_for_port, World};

/// The running daemon, killed when dropped.
pub struct Daemon {
    child: Child,
    pub port: u16,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    /// `git://127.0.0.1:PORT/remote.git`.
    pub fn url(&self) -> String {
        format!("git://127.0.0.1:{}/remote.git", self.port)
    }
}

pub fn start(world: &World) -> Daemon {
    let port = free_port();
    let mut cmd = Command::new("git");
    world.env(&mut cmd);
    let child = cmd
        .args([
            "daemon",
            "--reuseaddr",
            "--listen=127.0.0.1",
            &format!("--port={port}"),
            "--enable=receive-pack",
            "--export-all",
            &format!("--base-path={}", world.dir.path().display()),
        ])
        .arg(world.dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("git daemon starts (scripts/setup-test-deps installs it)");
    let mut daemon = Daemon { child, port };
    wait_for_port(port, "git daemon", || {
        daemon
            .child
            .try_wait()
            .ok()
            .flatten()
            .map(|s| s.to_string())
    });
    daemon
}
