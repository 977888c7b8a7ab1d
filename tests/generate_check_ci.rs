//! `generate --check` where CI users look (issue 24 §1): under GitHub Actions an `::error`
//! annotation per missing or stale generated file (a `::warning` per file edited by hand and
//! left alone) on stderr, and a Markdown summary — verdict, a table of files, a collapsed diff
//! per stale file — appended to `$GITHUB_STEP_SUMMARY`; under GitLab CI the diffs fold into a
//! collapsed section. The exit code is the check's own, and outside CI none of this appears.

use std::path::{Path, PathBuf};

use assert_cmd::cargo::cargo_bin_cmd;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/generate")
        .join(name)
}

/// A checkout (`repo`, with `.git`) whose dbt project lives in `repo/analytics`, so paths in
/// annotations must be made relative to the checkout.
struct Checkout {
    repo: tempfile::TempDir,
}

impl Checkout {
    fn new() -> Checkout {
        let repo = tempfile::tempdir().unwrap();
        std::fs::create_dir(repo.path().join(".git")).unwrap();
        let project = repo.path().join("analytics");
        std::fs::create_dir(&project).unwrap();
        std::fs::write(
            project.join("dbt_project.yml"),
            "name: shop\nversion: '1.0'\n",
        )
        .unwrap();
        Checkout { repo }
    }

    fn project(&self) -> PathBuf {
        self.repo.path().join("analytics")
    }

    /// `datachonk generate --from-catalog CATALOG ARGS` in the project, with `env` and no CI
    /// variables of the machine running the tests.
    fn generate(&self, catalog: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = cargo_bin_cmd!("datachonk");
        cmd.current_dir(self.project()).env("NO_COLOR", "1");
        for (name, _) in datachonk::config::ENV_VARS {
            cmd.env_remove(name);
        }
        for ci in [
            "GITHUB_ACTIONS",
            "GITHUB_STEP_SUMMARY",
            "GITHUB_WORKSPACE",
            "GITLAB_CI",
        ] {
            cmd.env_remove(ci);
        }
        cmd.args(["generate", "--from-catalog", catalog.to_str().unwrap()])
            .args(args)
            .envs(env.iter().copied());
        let out = cmd.output().expect("datachonk runs");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Output {
    fn annotations(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .chain(self.stdout.lines())
            .filter(|l| l.starts_with("::"))
            .collect()
    }
}

const SHOP: &str = "models/staging/shop";

/// The project generated for `shop.orders` from the fixture catalog, then made stale: the
/// catalog gains a column on `orders` (its files are stale), `customers` is selected too (its
/// files are missing), and `_shop__sources.yml`… is left as generating left it.
fn stale_project() -> (Checkout, PathBuf) {
    let checkout = Checkout::new();
    let catalog = fixture("catalog.json");
    let out = checkout.generate(&catalog, &["shop.orders", "shop.customers"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Fresh: the check passes.
    let out = checkout.generate(&catalog, &["--check"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);

    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&catalog).unwrap()).unwrap();
    let columns = doc["sources"]["source.proj.shop.orders"]["columns"]
        .as_object_mut()
        .unwrap();
    columns.insert(
        "discount_pct".into(),
        serde_json::json!({"name": "discount_pct", "type": "INTEGER", "index": 99}),
    );
    let changed = checkout.repo.path().join("catalog-changed.json");
    std::fs::write(&changed, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    // A generated file deleted: missing.
    std::fs::remove_file(
        checkout
            .project()
            .join(format!("{SHOP}/stg_shop__customers.sql")),
    )
    .unwrap();
    (checkout, changed)
}

#[test]
fn under_github_actions_each_stale_file_is_annotated_and_the_summary_shows_the_diffs() {
    let (checkout, catalog) = stale_project();
    let summary = checkout.repo.path().join("summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let env = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
        ("GITHUB_WORKSPACE", checkout.repo.path().to_str().unwrap()),
    ];
    let out = checkout.generate(&catalog, &["--check"], &env);
    assert_eq!(out.code, 1, "the check's exit code: {}", out.stderr);

    let annotations = out.annotations();
    let sql = format!("analytics/{SHOP}/stg_shop__orders.sql");
    let models = format!("analytics/{SHOP}/_shop__models.yml");
    let missing = format!("analytics/{SHOP}/stg_shop__customers.sql");
    let of = |path: &str| {
        annotations
            .iter()
            .find(|a| a.contains(&format!(" file={path},")))
            .unwrap_or_else(|| panic!("no annotation for {path}: {annotations:#?}"))
            .to_string()
    };
    assert!(
        of(&sql).starts_with(&format!(
            "::error file={sql},title=generated file stale::{SHOP}/stg_shop__orders.sql is stale ("
        )),
        "{}",
        of(&sql)
    );
    assert!(
        of(&sql).ends_with("run `datachonk generate` and commit the result"),
        "{}",
        of(&sql)
    );
    assert!(of(&models).starts_with("::error "), "{}", of(&models));
    assert!(
        of(&missing).starts_with(&format!(
            "::error file={missing},title=generated file missing::"
        )),
        "{}",
        of(&missing)
    );
    assert!(annotations.iter().all(|a| a.starts_with("::error ")));
    // Annotations are on stderr (stdout is the listing, or --json's document).
    assert!(
        !out.stdout.lines().any(|l| l.starts_with("::")),
        "{}",
        out.stdout
    );

    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.starts_with("earlier step\n### datachonk generate --check: STALE\n"),
        "{md}"
    );
    assert!(md.contains("| file | state | why |"), "{md}");
    assert!(
        md.contains(&format!("| `{SHOP}/stg_shop__orders.sql` | stale | ")),
        "{md}"
    );
    assert!(
        md.contains(&format!("| `{SHOP}/stg_shop__customers.sql` | missing | ")),
        "{md}"
    );
    // The stale SQL's diff, collapsed, in a diff fence: the new column is added.
    let details = format!(
        "<details><summary>Diff of <code>{SHOP}/stg_shop__orders.sql</code></summary>\n\n```diff\n--- a/{SHOP}/stg_shop__orders.sql\n+++ b/{SHOP}/stg_shop__orders.sql\n"
    );
    let at = md
        .find(&details)
        .unwrap_or_else(|| panic!("no diff block: {md}"));
    let block = &md[at..at + md[at..].find("</details>").unwrap()];
    assert!(block.contains("\n+        discount_pct"), "{block}");
    assert!(block.ends_with("```\n\n"), "{block}");
    // A missing file has no diff block (the table says it), and nothing is written.
    assert!(!md.contains("Diff of <code>models/staging/shop/stg_shop__customers.sql"));
    assert!(!checkout
        .project()
        .join(format!("{SHOP}/stg_shop__customers.sql"))
        .exists());

    // --json keeps stdout for its document; the annotations still go to stderr.
    let out = checkout.generate(&catalog, &["--check", "--json"], &env);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).expect("one JSON document");
    assert_eq!(doc["stale"], true);
    assert!(out.stderr.lines().any(|l| l.starts_with("::error file=")));

    // Once regenerated, the check passes, says so, and annotates nothing.
    assert_eq!(checkout.generate(&catalog, &[], &[]).code, 0);
    let out = checkout.generate(&catalog, &["--check"], &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.annotations().is_empty(), "{:?}", out.annotations());
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.contains("### datachonk generate --check: UP TO DATE\n"),
        "{md}"
    );
}

#[test]
fn a_file_edited_by_hand_and_left_alone_is_a_warning_not_a_failure() {
    let checkout = Checkout::new();
    let catalog = fixture("catalog.json");
    assert_eq!(checkout.generate(&catalog, &["shop.orders"], &[]).code, 0);
    let sql = checkout
        .project()
        .join(format!("{SHOP}/stg_shop__orders.sql"));
    let edited = std::fs::read_to_string(&sql).unwrap() + "-- reviewed by hand\n";
    std::fs::write(&sql, &edited).unwrap();

    let summary = checkout.repo.path().join("summary.md");
    let env = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
    ];
    let out = checkout.generate(&catalog, &["--check"], &env);
    assert_eq!(out.code, 0, "not stale: generating leaves it alone");
    let annotations = out.annotations();
    assert_eq!(annotations.len(), 1, "{annotations:#?}\n{}", out.stderr);
    // Without GITHUB_WORKSPACE the path is the project's.
    assert!(
        annotations[0].starts_with(&format!(
            "::warning file={SHOP}/stg_shop__orders.sql,title=generated file edited by hand::"
        )),
        "{}",
        annotations[0]
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.starts_with("### datachonk generate --check: UP TO DATE\n"),
        "{md}"
    );
    assert!(
        md.contains(&format!(
            "| `{SHOP}/stg_shop__orders.sql` | hand-edited | left alone"
        )),
        "{md}"
    );
    assert_eq!(std::fs::read_to_string(&sql).unwrap(), edited);
}

#[test]
fn under_gitlab_ci_the_diffs_fold_into_a_section_and_outside_ci_nothing_appears() {
    let (checkout, catalog) = stale_project();
    let out = checkout.generate(&catalog, &["--check"], &[("GITLAB_CI", "true")]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    let start = lines
        .iter()
        .position(|l| {
            l.starts_with("\x1b[0Ksection_start:")
                && l.contains(":datachonk_generate_diff[collapsed=true]\r\x1b[0K")
        })
        .unwrap_or_else(|| panic!("no section: {}", out.stdout));
    let end = lines
        .iter()
        .position(|l| {
            l.contains("section_end:") && l.ends_with(":datachonk_generate_diff\r\x1b[0K")
        })
        .expect("the section is closed");
    let inside = &lines[start + 1..end];
    assert!(
        inside.contains(&format!("+++ b/{SHOP}/stg_shop__orders.sql").as_str()),
        "{inside:#?}"
    );
    assert!(
        inside
            .iter()
            .any(|l| l.starts_with("+        discount_pct")),
        "{inside:#?}"
    );
    assert!(out.annotations().is_empty());
    // With --diff too, each diff is printed once, in the section.
    let out = checkout.generate(&catalog, &["--check", "--diff"], &[("GITLAB_CI", "true")]);
    assert_eq!(
        out.stdout
            .matches(&format!("+++ b/{SHOP}/stg_shop__orders.sql"))
            .count(),
        1,
        "{}",
        out.stdout
    );

    // No CI: no annotation, no summary, no section; the same exit code.
    let summary = checkout.repo.path().join("summary.md");
    let out = checkout.generate(
        &catalog,
        &["--check"],
        &[("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.annotations().is_empty(), "{:?}", out.annotations());
    assert!(!out.stdout.contains("section_start"), "{}", out.stdout);
    assert!(!out.stderr.contains("section_start"), "{}", out.stderr);
    assert!(!summary.exists());
}
