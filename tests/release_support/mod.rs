//! A release folder as `scripts/release` lays it out, made from the real binary, and a small
//! file server on 127.0.0.1 to download it from: what install.sh and the GitHub Action fetch.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

const BIN: &str = env!("CARGO_BIN_EXE_datachonk");

/// Serves the files of `root` (GET only) until the test process ends; records each path.
pub struct FileServer {
    pub base: String,
    pub requested: Arc<Mutex<Vec<String>>>,
}

pub fn serve(root: PathBuf) -> FileServer {
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
pub fn target() -> String {
    let arch = std::env::consts::ARCH;
    match std::env::consts::OS {
        "linux" => format!("{arch}-unknown-linux-musl"),
        "macos" => format!("{arch}-apple-darwin"),
        other => panic!("install.sh does not support {other}"),
    }
}

/// A release folder as scripts/release lays it out: datachonk-TARGET.tar.gz holding
/// datachonk-TARGET/{datachonk, man/man1/*.1}, and its .sha256.
pub fn release_folder(root: &Path, sha256_override: Option<&str>) {
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
