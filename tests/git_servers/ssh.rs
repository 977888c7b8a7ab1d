//! OpenSSH's sshd on 127.0.0.1 with its own config (a host key made here, one authorized
//! client key), run in the foreground by the test and killed when dropped; and an ssh-agent
//! holding the client key.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, wait_for_port, World};

const SSHD: &str = "/usr/sbin/sshd";

/// The running sshd.
pub struct Sshd {
    child: Child,
    pub port: u16,
    /// The account pushes log in as (the user running the tests: root on CI).
    pub user: String,
    /// The client key sshd accepts (private half; `.pub` next to it).
    pub client_key: PathBuf,
    /// `[127.0.0.1]:PORT <type> <key>`, the line known_hosts needs.
    pub known_hosts_line: String,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sshd {
    /// `ssh://USER@127.0.0.1:PORT/abs/path/remote.git`.
    pub fn url(&self, world: &World) -> String {
        format!(
            "ssh://{}@127.0.0.1:{}{}",
            self.user,
            self.port,
            world.remote().display()
        )
    }

    /// Trust this server's host key in the world's HOME (as `ssh` would after "yes").
    pub fn trust(&self, world: &World) {
        let ssh = world.home().join(".ssh");
        std::fs::create_dir_all(&ssh).unwrap();
        std::fs::write(
            ssh.join("known_hosts"),
            format!("{}\n", self.known_hosts_line),
        )
        .unwrap();
    }
}

fn keygen(path: &Path) {
    let out = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "datachonk-test",
            "-f",
        ])
        .arg(path)
        .output()
        .expect("ssh-keygen runs (openssh-client, scripts/setup-test-deps)");
    assert!(
        out.status.success(),
        "ssh-keygen: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Start sshd for `world` in `world.dir/sshd` (outside HOME: the client's HOME holds only
/// what a case puts there).
pub fn start(world: &World) -> Sshd {
    assert!(
        Path::new(SSHD).is_file(),
        "{SSHD} is missing: install openssh-server (scripts/setup-test-deps)"
    );
    let dir = world.dir.path().join("sshd");
    std::fs::create_dir_all(&dir).unwrap();
    let host_key = dir.join("host_ed25519");
    keygen(&host_key);
    let client_key = dir.join("client_ed25519");
    keygen(&client_key);
    let authorized = dir.join("authorized_keys");
    std::fs::copy(client_key.with_extension("pub"), &authorized).unwrap();
    // sshd refuses to start without its privilege separation directory (made by the
    // package's service unit, which nothing runs in a container).
    std::fs::create_dir_all("/run/sshd").expect("create /run/sshd (tests run as root)");

    let user = whoami();
    let port = free_port();
    let config = dir.join("sshd_config");
    std::fs::write(
        &config,
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {host}\nAuthorizedKeysFile {auth}\n\
             PidFile {pid}\nStrictModes no\nPermitRootLogin prohibit-password\nUsePAM no\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
             AllowUsers {user}\nLogLevel VERBOSE\n",
            host = host_key.display(),
            auth = authorized.display(),
            pid = dir.join("sshd.pid").display(),
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("sshd.log")).unwrap();
    let child = Command::new(SSHD)
        .arg("-D")
        .arg("-e")
        .arg("-f")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("sshd starts");
    let mut sshd = Sshd {
        child,
        port,
        user,
        client_key,
        known_hosts_line: String::new(),
    };
    let log_path = dir.join("sshd.log");
    wait_for_port(port, "sshd", || {
        sshd.child.try_wait().ok().flatten().map(|s| {
            format!(
                "{s}; log:\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            )
        })
    });
    let public = std::fs::read_to_string(host_key.with_extension("pub")).unwrap();
    let mut fields = public.split_whitespace();
    let (kind, key) = (fields.next().unwrap(), fields.next().unwrap());
    sshd.known_hosts_line = format!("[127.0.0.1]:{port} {kind} {key}");
    sshd
}

fn whoami() -> String {
    let out = Command::new("id").arg("-un").output().expect("id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// An ssh-agent on a socket in the world's directory, holding one key; killed when dropped.
pub struct Agent {
    child: Child,
    pub socket: PathBuf,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn agent(world: &World, key: &Path) -> Agent {
    let socket = world.dir.path().join("agent.sock");
    let child = Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&socket)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ssh-agent starts (openssh-client)");
    let agent = Agent { child, socket };
    // Bounded wait for the socket to appear.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !agent.socket.exists() {
        assert!(Instant::now() < deadline, "ssh-agent made no socket");
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = Command::new("ssh-add")
        .arg(key)
        .env("SSH_AUTH_SOCK", &agent.socket)
        .output()
        .expect("ssh-add runs");
    assert!(
        out.status.success(),
        "ssh-add: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    agent
}
