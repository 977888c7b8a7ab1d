//! install.sh against a small file server on 127.0.0.1 serving archives this test makes from
//! the real binary: it installs a good archive, and refuses one whose checksum is wrong.

mod release_support;

use std::path::Path;
use std::process::{Command, Output};

use release_support::{release_folder, serve, target};

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

#[test]
fn install_sh_takes_a_tag_from_the_repository_it_is_told() {
    // A fork's releases: DATACHONK_REPO names the repository, the tag picks the folder.
    let root = tempfile::tempdir().unwrap();
    let releases = root.path().join("fork/datachonk/releases/download");
    std::fs::create_dir_all(&releases).unwrap();
    release_folder(&releases, None);
    let server = serve(root.path().to_path_buf());
    let home = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("install.sh");
    let out = Command::new("sh")
        .arg(script)
        .env("HOME", home.path())
        .env("DATACHONK_REPO", format!("{}/fork/datachonk", server.base))
        .env("DATACHONK_VERSION", "v0.1.0")
        .env("PATH", std::env::var("PATH").unwrap())
        .env_remove("DATACHONK_INSTALL_DIR")
        .env_remove("DATACHONK_BASE_URL")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(home.path().join(".local/bin/datachonk").is_file());
    let t = target();
    assert_eq!(
        server.requested.lock().unwrap()[0],
        format!("/fork/datachonk/releases/download/v0.1.0/datachonk-{t}.tar.gz")
    );
}
