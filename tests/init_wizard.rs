//! The wizard's flow under a scripted prompter, against the in-process sandbox: which
//! questions come, with which defaults, and what is decided. No terminal involved.

mod init_support;

use datachonk::cloud::ClientOptions;
use datachonk::init::prompter::{Scripted, ScriptedPrompter};
use datachonk::init::wizard::{HookChoice, Outcome, Presets, TokenSource, Wizard, WizardError};
use datachonk::init::writer::{self, ExistingValues};
use datachonk::ui::Ui;
use init_support::*;
use secrecy::SecretString;
use Scripted::*;

fn run(
    prompter: &mut ScriptedPrompter,
    existing: ExistingValues,
    env_token: Option<&str>,
    presets: Presets,
) -> Result<Outcome, WizardError> {
    Wizard {
        prompter,
        ui: &Ui::plain(),
        presets,
        existing,
        token: TokenSource {
            var: "DBT_CLOUD_API_TOKEN".into(),
            value: env_token.map(|t| SecretString::from(t.to_string())),
        },
        client_options: ClientOptions::default(),
    }
    .run()
}

fn port(sb: &datachonk::sandbox::RunningSandbox) -> String {
    sb.base_url()
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn first_run_wrong_token_then_right_one_and_a_job_that_needs_advice_is_declined() {
    let sb = sandbox();
    let mut p = ScriptedPrompter::new([
        Containing("Local sandbox".into()),
        Text(port(&sb)),
        Secret(BAD_TOKEN.into()),
        Containing("token again".into()),
        Secret(GOOD_TOKEN.into()),
        Containing("analytics".into()),
        Containing("CI".into()),
        Containing("Full build".into()),
        No, // "Use this job anyway?"
        Containing("PR validation".into()),
        Containing("Production daily".into()), // the production job, in another environment
        Yes,                                   // auto_trigger
        Default,                               // wait
        Text("main, release/*".into()),
        Default, // hook: pre-merge-commit
    ]);
    let out = run(&mut p, ExistingValues::default(), None, Presets::default()).unwrap();
    assert_eq!(p.remaining(), 0);
    let s = &out.settings;
    assert_eq!(s.access_url, sb.base_url().trim_end_matches('/'));
    assert_eq!(
        (s.account_id, s.project_id, s.environment_id, s.job_id),
        (7, 10, 21, 160)
    );
    assert!(s.auto_trigger && s.wait);
    assert_eq!(s.protected_branches, ["main", "release/*"]);
    assert_eq!(out.hook, HookChoice::PreMergeCommit);
    assert_eq!(out.account_name, "Init Analytics");
    assert!(out.job_advice.is_empty());
    assert_eq!(out.production_job, Some((170, Some(20))));

    // The account was the only one: not asked. The job list offered all 13 jobs.
    let prompts: Vec<&str> = p.asked.iter().map(|a| a.prompt.as_str()).collect();
    assert!(
        !prompts.iter().any(|q| q.contains("account")),
        "{prompts:?}"
    );
    let jobs = p
        .asked
        .iter()
        .find(|a| a.prompt == "dbt Cloud job")
        .unwrap();
    assert_eq!(jobs.items.len(), 13);
    assert!(prompts.contains(&"Use this job anyway?"));
}

#[test]
fn a_rerun_offers_the_files_values_as_defaults() {
    let sb = sandbox();
    let dir = repo();
    let path = dir.path().join("datachonk.yaml");
    let base = sb.base_url().trim_end_matches('/').to_string();
    std::fs::write(
        &path,
        format!(
            "deploy:\n  dbt_cloud:\n    access_url: {base}\n    account_id: 7\n    project_id: 10\n    environment_id: 21\n    job_id: 160\n    auto_trigger: true\n"
        ),
    )
    .unwrap();
    let existing = writer::read_existing(&path).unwrap().unwrap();
    let mut p = ScriptedPrompter::new([
        Default, // access URL: keep
        Default, // project
        Default, // environment
        Default, // job
        Default, // production job: none
        Default, // auto_trigger
        Default, // wait
        Default, // protected branches
        Index(2),
    ]);
    let out = run(
        &mut p,
        existing.values.clone(),
        Some(GOOD_TOKEN),
        Presets::default(),
    )
    .unwrap();
    let defaults: Vec<Option<&str>> = p.asked.iter().map(|a| a.default.as_deref()).collect();
    assert_eq!(
        defaults,
        [
            Some(format!("Keep {base}").as_str()),
            Some("analytics (id 10)"),
            Some("CI (id 21)"),
            Some("PR validation (id 160)"),
            Some("No production job (only the validation job)"),
            Some("yes"),
            Some("no"), // wait is unset in the file: its effective value, false
            Some("main, master"),
            Some("pre-merge-commit — validate a branch with the job before merging it"),
        ]
    );
    assert_eq!(out.hook, HookChoice::None);
    // Nothing changed: the edit is empty.
    let edit = writer::edit_existing(&existing, &out.settings).unwrap();
    assert!(edit.changed.is_empty(), "{:?}", edit.changed);
}

#[test]
fn presets_skip_their_questions_and_a_wrong_preset_is_refused() {
    let sb = sandbox();
    let base = sb.base_url().trim_end_matches('/').to_string();
    let presets = Presets {
        access_url: Some(base.clone()),
        account_id: Some(7),
        project_id: Some(10),
        environment_id: Some(21),
        job_id: Some(150),
        auto_trigger: Some(false),
        wait: Some(true),
        protected_branches: Some(vec![]),
        install_hook: Some(HookChoice::PrePush),
    };
    let mut p = ScriptedPrompter::new([]);
    let out = run(
        &mut p,
        ExistingValues::default(),
        Some(GOOD_TOKEN),
        presets.clone(),
    )
    .unwrap();
    assert!(p.asked.is_empty(), "{:?}", p.asked);
    assert_eq!(out.settings.job_id, 150);
    // A preset job that is not state-aware is kept, with advice.
    assert_eq!(out.job_advice.len(), 2);

    let mut p = ScriptedPrompter::new([]);
    let err = run(
        &mut p,
        ExistingValues::default(),
        Some(GOOD_TOKEN),
        Presets {
            job_id: Some(180),
            ..presets
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("--job-id 180"), "{err}");
}

#[test]
fn ctrl_c_at_any_question_stops_the_wizard() {
    let sb = sandbox();
    let mut p = ScriptedPrompter::new([
        Containing("Custom".into()),
        Text(sb.base_url().trim_end_matches('/').to_string()),
        Secret(GOOD_TOKEN.into()),
        Interrupt,
    ]);
    let err = run(&mut p, ExistingValues::default(), None, Presets::default()).unwrap_err();
    assert!(matches!(err, WizardError::Interrupted), "{err:?}");
    assert_eq!(p.asked.last().unwrap().prompt, "dbt Cloud project");
}
