//! Where the tests find real dbt-core: `$DATACHONK_TEST_DBT`, else `bin/dbt` of the virtualenv
//! `bash scripts/setup-test-deps` makes (`$DATACHONK_TEST_VENV`, default
//! `~/.cache/datachonk/dbt-venv`). Missing dbt FAILS the test: it never passes silently.

use std::path::PathBuf;

pub fn dbt_path() -> PathBuf {
    if let Some(p) = std::env::var_os("DATACHONK_TEST_DBT") {
        return PathBuf::from(p);
    }
    let venv = std::env::var_os("DATACHONK_TEST_VENV")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/datachonk/dbt-venv"))
        })
        .expect("HOME is not set");
    let dbt = venv.join("bin/dbt");
    assert!(
        dbt.is_file(),
        "dbt is not installed at {} (nor given by DATACHONK_TEST_DBT): run `bash scripts/setup-test-deps`",
        dbt.display()
    );
    dbt
}
