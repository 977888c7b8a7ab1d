//! A URL's `#fragment` never reaches the server, which is why a token is sometimes carried
//! there: messages hide it like a query value, and an access URL with one is refused.

use assert_cmd::cargo::cargo_bin_cmd;

#[test]
fn a_token_in_an_access_url_fragment_is_refused_and_never_echoed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    for url in [
        "http://127.0.0.1:1/#access_token=SECRETFRAG",
        "http://127.0.0.1:1/x?y=1#access_token=SECRETFRAG",
    ] {
        let mut cmd = cargo_bin_cmd!("datachonk");
        for (name, _) in datachonk::config::ENV_VARS {
            cmd.env_remove(name);
        }
        let out = cmd
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .env("DBT_CLOUD_ACCESS_URL", url)
            .env("DBT_CLOUD_API_TOKEN", "x")
            .env("DBT_CLOUD_ACCOUNT_ID", "1")
            .args(["cloud", "status"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{url}: {stderr}");
        assert!(!stderr.contains("SECRETFRAG"), "{url}: {stderr}");
        assert!(stderr.contains("#***"), "{url}: {stderr}");
    }
}
