//! A throwaway PostgreSQL cluster on loopback for the tests that need a real server
//! (`generate --from-postgres`, `relationships --from-postgres`): initdb + pg_ctl from the
//! system's packages, as the `postgres` user when the tests run as root (initdb refuses root).
//! PostgreSQL comes from `bash scripts/setup-test-deps`; without it the tests FAIL.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use super::real_dbt::run_ok as run;

/// The server's programs: `$DATACHONK_TEST_PG_BIN`, else Debian's newest
/// `/usr/lib/postgresql/*/bin`, else `initdb` on PATH.
fn pg_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("DATACHONK_TEST_PG_BIN") {
        return PathBuf::from(p);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path().join("bin")))
                .filter(|b| b.join("initdb").is_file())
                .collect()
        })
        .unwrap_or_default();
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    if let Some(b) = found.pop() {
        return b;
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
    });
    on_path.unwrap_or_else(|| {
        panic!("PostgreSQL (initdb, pg_ctl) is not installed: run `bash scripts/setup-test-deps`")
    })
}

fn is_root() -> bool {
    Process::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `program args…`, as the `postgres` user when we are root.
fn pg_command(program: &Path, args: &[&str]) -> Process {
    if is_root() {
        let mut cmd = Process::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program).args(args);
        cmd
    } else {
        let mut cmd = Process::new(program);
        cmd.args(args);
        cmd
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A running throwaway cluster; stopped (immediately) when dropped, even when a test fails.
pub struct Server {
    pub bin: PathBuf,
    data: PathBuf,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Server {
    pub fn start() -> Server {
        let bin = pg_bin();
        let dir = tempfile::tempdir().unwrap();
        if is_root() {
            let uid = Process::new("id").args(["-u", "postgres"]).output();
            let gid = Process::new("id").args(["-g", "postgres"]).output();
            let num = |o: std::io::Result<std::process::Output>| -> u32 {
                o.ok()
                    .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
                    .expect("root runs the tests but there is no `postgres` user: run `bash scripts/setup-test-deps`")
            };
            std::os::unix::fs::chown(dir.path(), Some(num(uid)), Some(num(gid))).unwrap();
        }
        let data = dir.path().join("data");
        let data_s = data.to_str().unwrap().to_string();
        let data_s = data_s.as_str();
        run(
            &mut pg_command(
                &bin.join("initdb"),
                &[
                    "-D",
                    data_s,
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ],
            ),
            "initdb",
        );
        let port = free_port();
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off",
            dir.path().display()
        );
        let log = dir.path().join("server.log");
        let server = Server {
            bin,
            data,
            port,
            _dir: dir,
        };
        run(
            &mut pg_command(
                &server.bin.join("pg_ctl"),
                &[
                    "-D",
                    data_s,
                    "-l",
                    log.to_str().unwrap(),
                    "-o",
                    &options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
            ),
            "pg_ctl start",
        );
        server
    }

    pub fn url(&self, user_info: &str, query: &str) -> String {
        format!(
            "postgres://{user_info}@127.0.0.1:{}/postgres{query}",
            self.port
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = pg_command(
            &self.bin.join("pg_ctl"),
            &[
                "-D",
                self.data.to_str().unwrap_or_default(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        )
        .output();
    }
}
