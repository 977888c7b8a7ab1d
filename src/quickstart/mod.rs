//! The quickstart's throwaway world: a small dbt project (DuckDB), a bare git remote and the
//! metadata to generate from. Pure set-up; the command drives the loop over it.

use std::path::{Path, PathBuf};

use git2::{Repository, Signature};

/// Where everything lives.
pub struct Workspace {
    pub root: PathBuf,
    pub project: PathBuf,
    pub remote: PathBuf,
}

/// The branch the generated models are pushed on (not protected).
pub const BRANCH: &str = "datachonk/quickstart";

/// Files of the sample dbt project: raw data as seeds, read back through a dbt source.
const FILES: &[(&str, &str)] = &[
    (
        "dbt_project.yml",
        "name: shop\nversion: \"1.0.0\"\nprofile: shop\nmodel-paths: [models]\nseed-paths: [seeds]\n\
         models:\n  shop:\n    +materialized: view\n",
    ),
    (
        "seeds/raw_orders.csv",
        "id,customerId,Order Date,Amount,status\n1,1,2026-01-03,1999,shipped\n2,2,2026-01-04,2450,placed\n\
         3,1,2026-01-09,500,returned\n",
    ),
    ("seeds/raw_customers.csv", "id,First Name,Last Name\n1,Ada,Lovelace\n2,Grace,Hopper\n"),
    (".gitignore", "target/\ndbt_packages/\nlogs/\n.datachonk/\n"),
    (
        "datachonk.yaml",
        "# Written by `datachonk quickstart`: the embedded sandbox stands in for dbt Cloud.\n\
         generate:\n  source: shop\n  schema: main\n  dialect: duckdb\n",
    ),
];

/// What `dbt docs generate` would report for the seeds: the metadata generate reads.
const CATALOG: &str = r#"{
  "metadata": {"dbt_schema_version": "https://schemas.getdbt.com/dbt/catalog/v1.json", "dbt_version": "1.11.0"},
  "nodes": {
    "seed.shop.raw_orders": {
      "metadata": {"type": "BASE TABLE", "schema": "main", "name": "raw_orders", "database": "warehouse", "comment": "One row per order placed in the shop."},
      "columns": {
        "id": {"type": "INTEGER", "index": 1, "name": "id", "comment": "The order's id."},
        "customerId": {"type": "INTEGER", "index": 2, "name": "customerId", "comment": null},
        "Order Date": {"type": "DATE", "index": 3, "name": "Order Date", "comment": null},
        "Amount": {"type": "INTEGER", "index": 4, "name": "Amount", "comment": "In cents."},
        "status": {"type": "VARCHAR", "index": 5, "name": "status", "comment": null}
      },
      "stats": {}, "unique_id": "seed.shop.raw_orders"
    },
    "seed.shop.raw_customers": {
      "metadata": {"type": "BASE TABLE", "schema": "main", "name": "raw_customers", "database": "warehouse", "comment": null},
      "columns": {
        "id": {"type": "INTEGER", "index": 1, "name": "id", "comment": null},
        "First Name": {"type": "VARCHAR", "index": 2, "name": "First Name", "comment": null},
        "Last Name": {"type": "VARCHAR", "index": 3, "name": "Last Name", "comment": null}
      },
      "stats": {}, "unique_id": "seed.shop.raw_customers"
    }
  },
  "sources": {},
  "errors": null
}
"#;

/// Create the project (one commit on `main`, pushed to a bare remote), then switch to
/// [`BRANCH`]. `catalog.json` is left untracked beside the project.
pub fn create(root: &Path) -> Result<Workspace, String> {
    let err = |what: &str, e: &dyn std::fmt::Display| format!("quickstart: cannot {what}: {e}");
    let project = root.join("shop");
    let remote = root.join("remote.git");
    for (path, text) in FILES {
        let p = project.join(path);
        std::fs::create_dir_all(p.parent().unwrap_or(&project))
            .map_err(|e| err("create the project", &e))?;
        std::fs::write(&p, text).map_err(|e| err("write the project", &e))?;
    }
    std::fs::write(root.join("catalog.json"), CATALOG)
        .map_err(|e| err("write catalog.json", &e))?;

    Repository::init_bare(&remote).map_err(|e| err("create the bare remote", &e))?;
    let mut opts = git2::RepositoryInitOptions::new();
    opts.initial_head("main");
    let repo =
        Repository::init_opts(&project, &opts).map_err(|e| err("create the repository", &e))?;
    {
        // A local identity, so a machine with no git config can still commit.
        let mut cfg = repo.config().map_err(|e| err("configure git", &e))?;
        for (k, v) in [
            ("user.name", "datachonk quickstart"),
            ("user.email", "quickstart@example.invalid"),
        ] {
            cfg.set_str(k, v).map_err(|e| err("configure git", &e))?;
        }
    }
    let mut index = repo.index().map_err(|e| err("stage", &e))?;
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .and_then(|_| index.write())
        .map_err(|e| err("stage", &e))?;
    let tree = repo
        .find_tree(index.write_tree().map_err(|e| err("stage", &e))?)
        .map_err(|e| err("stage", &e))?;
    let sig = Signature::now("datachonk quickstart", "quickstart@example.invalid")
        .map_err(|e| err("sign", &e))?;
    let commit = repo
        .commit(Some("HEAD"), &sig, &sig, "Sample dbt project", &tree, &[])
        .map_err(|e| err("commit", &e))?;
    let url = format!("file://{}", remote.display());
    let mut origin = repo
        .remote("origin", &url)
        .map_err(|e| err("add the remote", &e))?;
    origin
        .push(&["refs/heads/main:refs/heads/main"], None)
        .map_err(|e| err("push main", &e))?;
    let head = repo.find_commit(commit).map_err(|e| err("branch", &e))?;
    repo.branch(BRANCH, &head, false)
        .map_err(|e| err("branch", &e))?;
    repo.set_head(&format!("refs/heads/{BRANCH}"))
        .map_err(|e| err("branch", &e))?;
    Ok(Workspace {
        root: root.to_path_buf(),
        project,
        remote,
    })
}
