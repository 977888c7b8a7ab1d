//! install.sh against a small file server on 127.0.0.1 serving archives this test makes from
//! the real binary: it installs a good archive, and refuses one whose checksum is wrong.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

const BIN: &str = env!("CARGO_BIN_EXE_datachonk");

/// Serves the files of `root` (GET only) until the test process ends; records each path.
struct FileServer {
    base: String,
    requested: Arc<Mutex<Vec<String>>>,
}

fn serve(root: PathBuf) -> FileServer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let requested = Arc::new(Mutex::new(Vec::new()));
    let log = requested.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            // Headers up to the blank line.
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                header.clear();
            }
            let path = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or("/")
                .to_string();
            log.lock().unwrap().push(path.clone());
            let file = root.join(path.trim_start_matches('/'));
            let response = match std::fs::read(&file) {
                Ok(body) if !path.contains("..") => {
                    let mut r = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    r.extend(body);
                    r
                }
                _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_vec(),
            };
            let _ = stream.write_all(&response);
        }
    });
    FileServer { base, requested }
}

/// The target install.sh picks on this machine.
fn target() -> String {
    let arch = std::env::consts::ARCH;
    match std::env::consts::OS {
        "linux" => format!("{arch}-unknown-linux-musl"),
        "macos" => format!("{arch}-apple-darwin"),
        other => panic!("install.sh does not support {other}"),
    }
}

/// A release folder as scripts/release lays it out: datachonk-TARGET.tar.gz holding
/// datachonk-TARGET/{datachonk, man/man1/*.1}, and its .sha256.
fn release_folder(root: &Path, sha256_override: Option<&str>) {
    let stage_name = format!("datachonk-{}", target());
    let stage = root.join("build").join(&stage_name);
    std::fs::create_dir_all(stage.join("man/man1")).unwrap();
    std::fs::copy(BIN, stage.join("datachonk")).unwrap();
    let man = Command::new(BIN)
        .args(["man", "--out-dir"])
        .arg(stage.join("man/man1"))
        .output()
        .unwrap();
    assert!(man.status.success(), "{man:?}");
    let dir = root.join("v0.1.0");
    std::fs::create_dir_all(&dir).unwrap();
    let archive = dir.join(format!("{stage_name}.tar.gz"));
    let ok = Command::new("tar")
        .arg("-czf")
        .arg(&archive)
        .arg("-C")
        .arg(root.join("build"))
        .arg(&stage_name)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let sum = match sha256_override {
        Some(s) => s.to_string(),
        None => {
            let out = Command::new("sha256sum").arg(&archive).output().unwrap();
            String::from_utf8(out.stdout)
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .to_string()
        }
    };
    std::fs::write(
        dir.join(format!("{stage_name}.tar.gz.sha256")),
        format!("{sum}  {stage_name}.tar.gz\n"),
    )
    .unwrap();
}

fn install(home: &Path, base: &str) -> Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("install.sh");
    Command::new("sh")
        .arg(script)
        .env("HOME", home)
        .env("DATACHONK_BASE_URL", base)
        .env("PATH", std::env::var("PATH").unwrap())
        .env_remove("DATACHONK_INSTALL_DIR")
        .env_remove("DATACHONK_VERSION")
        .output()
        .unwrap()
}

#[test]
fn install_sh_installs_the_archive_for_this_machine() {
    let root = tempfile::tempdir().unwrap();
    release_folder(root.path(), None);
    let server = serve(root.path().to_path_buf());
    let home = tempfile::tempdir().unwrap();

    let out = install(home.path(), &format!("{}/v0.1.0", server.base));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");

    let installed = home.path().join(".local/bin/datachonk");
    let version = Command::new(&installed).arg("--version").output().unwrap();
    assert!(version.status.success());
    let version = String::from_utf8(version.stdout).unwrap();
    assert!(version.starts_with(&format!("datachonk {}", env!("CARGO_PKG_VERSION"))));
    assert!(
        stdout.contains(&format!("installed {}", version.trim())),
        "{stdout}"
    );
    assert!(stdout.contains("add it to PATH"), "{stdout}");
    assert!(home
        .path()
        .join(".local/share/man/man1/datachonk-push.1")
        .is_file());
    assert!(!home.path().join(".local/bin/.datachonk.new").exists());

    let t = target();
    assert_eq!(
        *server.requested.lock().unwrap(),
        vec![
            format!("/v0.1.0/datachonk-{t}.tar.gz"),
            format!("/v0.1.0/datachonk-{t}.tar.gz.sha256"),
        ]
    );
}

#[test]
fn install_sh_refuses_an_archive_whose_checksum_differs() {
    let root = tempfile::tempdir().unwrap();
    let wrong = "0".repeat(64);
    release_folder(root.path(), Some(&wrong));
    let server = serve(root.path().to_path_buf());
    let home = tempfile::tempdir().unwrap();

    let out = install(home.path(), &format!("{}/v0.1.0", server.base));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("checksum mismatch"), "{stderr}");
    assert!(stderr.contains(&wrong), "{stderr}");
    assert!(!home.path().join(".local/bin/datachonk").exists());
    assert!(
        !home.path().join(".local/bin").exists(),
        "nothing created before the check"
    );
}

#[test]
fn install_sh_names_the_missing_archive() {
    let root = tempfile::tempdir().unwrap();
    let server = serve(root.path().to_path_buf());
    let home = tempfile::tempdir().unwrap();

    let out = install(home.path(), &format!("{}/v9.9.9", server.base));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "cannot download {}/v9.9.9/datachonk-",
            server.base
        )),
        "{stderr}"
    );
    assert!(!home.path().join(".local/bin/datachonk").exists());
}
