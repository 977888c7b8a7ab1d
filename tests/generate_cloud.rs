//! `generate --from-catalog cloud`: catalog.json of the job's latest successful run, fetched
//! from a real sandbox over HTTP, turned into the staging layer.

mod support;

use datachonk::sandbox::{Fixture, Sandbox, SandboxOptions};
use support::*;

const DOCS_FIXTURE: &str = r#"
accounts: [{id: 1, name: Docs}]
projects: [{id: 1, account_id: 1, name: shop}]
environments: [{id: 1, project_id: 1, name: Production}]
jobs:
  - id: 7
    project_id: 1
    environment_id: 1
    name: Docs
    execute_steps: ["dbt build"]
    generate_docs: true
    models: [orders, customers]
    run: {queued_ms: 10, starting_ms: 10, step_ms: 10}
tokens: [{token: fake-admin-token-5b2e91, permissions: account_admin}]
"#;

#[test]
fn from_catalog_cloud_reads_the_latest_successful_runs_catalog() {
    let fixture = Fixture::from_yaml_str(DOCS_FIXTURE, "docs fixture").unwrap();
    let sb = Sandbox::start(SandboxOptions::default().with_fixture(fixture)).unwrap();
    let dir = workdir();
    std::fs::write(dir.path().join("dbt_project.yml"), "name: shop\n").unwrap();
    std::fs::write(
        dir.path().join("datachonk.yaml"),
        "generate:\n  catalog_job_id: 7\n  source: shop\n",
    )
    .unwrap();

    // No successful run yet: a clear usage error.
    let r = datachonk(&sb, dir.path(), &["generate", "--from-catalog", "cloud"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("job 7 has no successful run"),
        "{}",
        r.stderr
    );

    assert_eq!(
        datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "7", "--wait"]).code,
        0
    );
    // The simulated catalog lists the job's models as nodes: the project's own models are
    // staging inputs only when selected by name.
    let r = datachonk(
        &sb,
        dir.path(),
        &[
            "generate",
            "--from-catalog",
            "cloud",
            "shop.orders",
            "shop.customers",
        ],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("catalog.json of job 7, run 1"),
        "{}",
        r.stderr
    );
    let model =
        std::fs::read_to_string(dir.path().join("models/staging/shop/stg_shop__orders.sql"))
            .unwrap();
    assert!(model.contains("{{ source('shop', 'orders') }}"), "{model}");
    assert!(model.contains("updated_at"), "{model}");
    assert!(dir
        .path()
        .join("models/staging/shop/_shop__models.yml")
        .exists());
}

#[test]
fn from_catalog_cloud_reads_the_catalog_of_a_named_targets_job() {
    let fixture = Fixture::from_yaml_str(DOCS_FIXTURE, "docs fixture").unwrap();
    let sb = Sandbox::start(SandboxOptions::default().with_fixture(fixture)).unwrap();
    let dir = workdir();
    std::fs::write(dir.path().join("dbt_project.yml"), "name: shop\n").unwrap();
    std::fs::write(
        dir.path().join("datachonk.yaml"),
        "deploy:\n  dbt_cloud:\n    default_target: ci\n    targets:\n      ci: {job_id: 1}\n      docs: {job_id: 7}\ngenerate:\n  source: shop\n",
    )
    .unwrap();
    assert_eq!(
        datachonk(&sb, dir.path(), &["dbt-run", "--job-id", "7", "--wait"]).code,
        0
    );
    let args = [
        "generate",
        "--from-catalog",
        "cloud",
        "--target",
        "docs",
        "shop.orders",
    ];
    let r = datachonk(&sb, dir.path(), &args);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("catalog.json of job 7"), "{}", r.stderr);
    let misplaced = datachonk(
        &sb,
        dir.path(),
        &["generate", "--from-catalog", "x.json", "--target", "docs"],
    );
    assert_eq!(misplaced.code, 2, "{}", misplaced.stderr);
    assert!(
        misplaced.stderr.contains("--from-catalog cloud"),
        "{}",
        misplaced.stderr
    );
}
