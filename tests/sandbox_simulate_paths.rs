//! The `simulate` executor with a job repository names the models at the requested sha with
//! their real files: manifest paths, raw code and checksum, and run_results' compiled paths,
//! all matching what `git show SHA:PATH` holds.

mod sandbox_repo;
mod sandbox_support;

use std::time::Duration;

use datachonk::sandbox::{RunStatus, SandboxOptions};
use sandbox_repo::{wait_terminal, Repo, PROJECT};
use sandbox_support::{fixture, start_with, Api, JOB_OK};
use serde_json::{json, Value};

#[test]
fn simulated_artifacts_name_each_model_by_its_file_at_that_sha() {
    let repo = Repo::new();
    let mut files = PROJECT.to_vec();
    files.push((
        "models/staging/shop/stg_shop__customers.sql",
        Some("select id from {{ source('shop', 'customers') }}\n"),
    ));
    let sha = repo.commit("main", "models in nested folders", &files);
    let mut f = fixture();
    f.set_repository(JOB_OK, repo.url());
    let sandbox = start_with(SandboxOptions::default().with_fixture(f));
    let api = Api::new(&sandbox.base_url());
    let r = api.post(
        &format!("/api/v2/accounts/1/jobs/{JOB_OK}/run/"),
        json!({"cause": "paths", "git_sha": sha}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let id = r.data()["id"].as_i64().unwrap();
    assert_eq!(
        wait_terminal(&sandbox, id, Duration::from_secs(20)).status,
        RunStatus::Success
    );
    let artifact = |path: &str| api.get(&format!("/api/v2/accounts/1/runs/{id}/artifacts/{path}"));
    let manifest = artifact("manifest.json").json();
    let nodes = manifest["nodes"].as_object().unwrap();
    let models: Vec<(&String, &Value)> = nodes
        .iter()
        .filter(|(k, _)| k.starts_with("model."))
        .collect();
    assert_eq!(models.len(), 3, "{:?}", nodes.keys());
    for (uid, node) in &models {
        let file = node["original_file_path"].as_str().unwrap();
        // The file is there at that sha, with exactly the manifest's raw code.
        let content = repo.git(&repo.bare, &["show", &format!("{sha}:{file}")]);
        let raw = node["raw_code"].as_str().unwrap();
        assert_eq!(raw.trim_end(), content.trim_end(), "{uid}");
        let name = node["name"].as_str().unwrap();
        assert!(file.ends_with(&format!("/{name}.sql")), "{uid}: {file}");
        assert_eq!(
            node["path"].as_str().unwrap(),
            file.strip_prefix("models/").unwrap(),
            "{uid}"
        );
        assert_eq!(
            node["compiled_path"],
            format!("target/compiled/shop/{file}"),
            "{uid}"
        );
    }
    let customers = &nodes["model.shop.stg_shop__customers"];
    assert_eq!(
        customers["original_file_path"],
        "models/staging/shop/stg_shop__customers.sql"
    );
    assert_eq!(
        customers["fqn"],
        json!(["shop", "staging", "shop", "stg_shop__customers"])
    );
    assert_eq!(customers["sources"], json!([["shop", "customers"]]));
    assert_eq!(nodes["model.shop.base_orders"]["path"], "base_orders.sql");
    assert_eq!(
        nodes["model.shop.stg_orders"]["refs"],
        json!([{"name": "base_orders", "package": null, "version": null}])
    );
    // sha256 of the file, as dbt computes it.
    let out = std::process::Command::new("sha256sum")
        .arg(
            repo.work
                .join("models/staging/shop/stg_shop__customers.sql"),
        )
        .output()
        .unwrap();
    let sum = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(customers["checksum"]["checksum"], sum.as_str());

    // run_results names the same models, and their compiled SQL is served at those paths.
    let results = artifact("run_results.json").json();
    let ids: Vec<&str> = results["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["unique_id"].as_str().unwrap())
        .collect();
    for (uid, _) in &models {
        assert!(ids.contains(&uid.as_str()), "{uid} not in {ids:?}");
    }
    let compiled = artifact("compiled/shop/models/staging/shop/stg_shop__customers.sql");
    assert_eq!(compiled.status, 200, "{}", compiled.text);
}
