//! The wizard's flow: which questions, in which order, with which defaults, and what the API
//! says about the answers. It knows nothing of terminals: questions go through a
//! [`Prompter`], lines through [`Ui`], so the whole flow runs under a scripted prompter in tests.

use secrecy::SecretString;

use super::api::Connection;
pub use super::choices::{check_url, HookChoice};
use super::job_check;
use super::prompter::{PromptError, Prompter};
use super::writer::{ExistingValues, InitSettings};
use crate::cloud::types::{Account, Job};
use crate::cloud::{ApiError, ClientOptions};
use crate::config::DEFAULT_ACCESS_URL;
use crate::ui::Ui;

/// Answers given up front (flags); a preset question is not asked.
#[derive(Debug, Clone, Default)]
pub struct Presets {
    pub access_url: Option<String>,
    pub account_id: Option<i64>,
    pub project_id: Option<i64>,
    pub environment_id: Option<i64>,
    pub job_id: Option<i64>,
    pub auto_trigger: Option<bool>,
    pub wait: Option<bool>,
    pub protected_branches: Option<Vec<String>>,
    pub install_hook: Option<HookChoice>,
}

/// Where the token comes from before anything is asked.
pub struct TokenSource {
    /// The variable the token is read from (`token_env`, default `DBT_CLOUD_API_TOKEN`).
    pub var: String,
    /// Its value, when set.
    pub value: Option<SecretString>,
}

/// What the wizard decided.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub settings: InitSettings,
    pub hook: HookChoice,
    pub account_name: String,
    pub job_name: String,
    /// Advice about the job (empty for a state-aware, deferring job).
    pub job_advice: Vec<job_check::JobAdvice>,
    /// What was checked against the API (one line each), for the summary and `--json`.
    pub checked: Vec<String>,
    /// A production job picked besides the validation job (written as target `prod`): its
    /// id and environment.
    pub production_job: Option<(i64, Option<i64>)>,
}

#[derive(Debug, thiserror::Error)]
pub enum WizardError {
    #[error("interrupted")]
    Interrupted,
    #[error("{0}")]
    Prompt(String),
    #[error(transparent)]
    Api(#[from] ApiError),
    /// An id given as a flag that the API does not know, or an empty list.
    #[error("{0}")]
    Invalid(String),
}

impl From<PromptError> for WizardError {
    fn from(e: PromptError) -> Self {
        match e {
            PromptError::Interrupted => WizardError::Interrupted,
            PromptError::Io(m) => WizardError::Prompt(m),
        }
    }
}

/// The access URLs offered, in order: (label, URL; `None` asks for more).
const REGIONS: &[(&str, Option<&str>)] = &[
    (
        "dbt Cloud US multi-tenant — https://cloud.getdbt.com",
        Some(DEFAULT_ACCESS_URL),
    ),
    ("dbt Cloud US cell — https://PREFIX.us1.dbt.com", None),
    (
        "dbt Cloud EMEA — https://emea.dbt.com",
        Some("https://emea.dbt.com"),
    ),
    (
        "dbt Cloud APAC — https://au.dbt.com",
        Some("https://au.dbt.com"),
    ),
    ("Custom URL", None),
    ("Local sandbox — http://127.0.0.1:PORT", None),
];
const CELL: usize = 1;
const CUSTOM: usize = 4;
const SANDBOX: usize = 5;

/// Everything the interactive wizard needs.
pub struct Wizard<'a> {
    pub prompter: &'a mut dyn Prompter,
    pub ui: &'a Ui,
    pub presets: Presets,
    pub existing: ExistingValues,
    pub token: TokenSource,
    pub client_options: ClientOptions,
}

impl Wizard<'_> {
    /// Ask everything; return what to write. Nothing is written here.
    pub fn run(mut self) -> Result<Outcome, WizardError> {
        let mut access_url = match self.presets.access_url.clone() {
            Some(u) => {
                self.ui
                    .status(format!("Access URL: {u} (from --access-url)"));
                u
            }
            None => self.ask_access_url()?,
        };
        const TYPED: &str = "the token typed at the prompt";
        let (mut token, mut token_source) = match self.token.value.take() {
            Some(t) => {
                self.ui.status(format!(
                    "Using the API token from ${} (not shown).",
                    self.token.var
                ));
                (t, format!("env {}", self.token.var))
            }
            None => (self.ask_token()?, TYPED.to_string()),
        };
        let (mut conn, accounts) = loop {
            self.ui
                .status(format!("Checking the token at {access_url} …"));
            match Connection::open(
                &access_url,
                &token,
                &token_source,
                self.client_options.clone(),
            ) {
                Ok(ok) => break ok,
                Err(e) => {
                    self.explain(&e);
                    let choices = [
                        "Enter the token again".to_string(),
                        "Choose another access URL".to_string(),
                    ];
                    if self.prompter.select("What now?", &choices, 0)? == 1 {
                        access_url = self.ask_access_url()?;
                    } else {
                        token = self.ask_token()?;
                        token_source = TYPED.to_string();
                    }
                }
            }
        };
        let mut checked = vec![format!("the token is accepted at {access_url}")];

        let account = self.pick_account(&mut conn, &accounts)?;
        let account_name = account.name.clone().unwrap_or_default();
        checked.push(format!(
            "account {} \"{account_name}\"",
            account_id(&account)
        ));

        let projects = conn.projects()?;
        let i = self.pick(
            "project",
            &projects,
            |p| (p.id, p.name.clone()),
            self.presets.project_id,
            self.existing.project_id.as_ref().map(|l| l.value),
        )?;
        let project_id = projects[i].id.unwrap_or_default();

        let environments = conn.environments(project_id)?;
        let i = self.pick(
            "environment",
            &environments,
            |e| (e.id, e.name.clone()),
            self.presets.environment_id,
            self.existing.environment_id.as_ref().map(|l| l.value),
        )?;
        let environment_id = environments[i].id.unwrap_or_default();

        let jobs = conn.jobs(project_id, environment_id)?;
        let (job, job_advice) = loop {
            let i = self.pick(
                "job",
                &jobs,
                |j| (j.id, j.name.clone()),
                self.presets.job_id,
                self.existing.job_id.as_ref().map(|l| l.value),
            )?;
            let job = jobs[i].clone();
            let advice = self.show_job(&job);
            // A preset job is the user's explicit choice: warn, don't ask again.
            if advice.is_empty()
                || self.presets.job_id.is_some()
                || self.prompter.confirm("Use this job anyway?", true)?
            {
                break (job, advice);
            }
        };
        checked.push(format!(
            "project {project_id}, environment {environment_id} and job {} exist and belong together",
            job.id.unwrap_or_default()
        ));
        let production_job = self.ask_production_job(&conn, project_id, job.id)?;

        let auto_trigger = match self.presets.auto_trigger {
            Some(v) => v,
            None => self.prompter.confirm(
                "Trigger this job after every `datachonk push` (auto_trigger)?",
                self.existing.auto_trigger.as_ref().is_some_and(|l| l.value),
            )?,
        };
        let wait = match self.presets.wait {
            Some(v) => v,
            None => self.prompter.confirm(
                "Wait for the run's verdict after triggering (wait)?",
                self.existing.wait.as_ref().is_none_or(|l| l.value),
            )?,
        };
        let protected_branches = match self.presets.protected_branches.clone() {
            Some(v) => v,
            None => {
                let current = self.existing.effective_protected_branches();
                let text = self.prompter.input(
                    "Protected branches: `datachonk push` refuses to commit on or push to them \
                     (comma-separated, * globs, `none` for none)",
                    Some(&show_branches(&current)),
                    &|s| parse_branches(s).map(|_| ()),
                )?;
                parse_branches(&text).map_err(WizardError::Invalid)?
            }
        };
        let hook = match self.presets.install_hook {
            Some(h) => h,
            None => {
                let items = [
                    "pre-merge-commit — validate a branch with the job before merging it".into(),
                    "pre-push — check config and generated files before pushing (no network)"
                        .into(),
                    "no hook".to_string(),
                ];
                match self.prompter.select("Install a git hook?", &items, 0)? {
                    0 => HookChoice::PreMergeCommit,
                    1 => HookChoice::PrePush,
                    _ => HookChoice::None,
                }
            }
        };
        Ok(Outcome {
            settings: InitSettings {
                access_url,
                account_id: account_id(&account),
                project_id,
                environment_id,
                job_id: job.id.unwrap_or_default(),
                auto_trigger,
                wait,
                protected_branches,
            },
            hook,
            account_name,
            job_name: job.name.clone().unwrap_or_default(),
            job_advice,
            checked,
            production_job,
        })
    }

    /// "A validation job for pushes and a production job": offer the project's other jobs
    /// (any environment) as the production target; the first item declines. Not asked when
    /// the job was given as a flag or the file already has named targets.
    fn ask_production_job(
        &mut self,
        conn: &super::api::Connection,
        project_id: i64,
        validation: Option<i64>,
    ) -> Result<Option<(i64, Option<i64>)>, WizardError> {
        if self.presets.job_id.is_some() || self.existing.has_targets {
            return Ok(None);
        }
        let others: Vec<_> = conn
            .project_jobs(project_id)?
            .into_iter()
            .filter(|j| j.id.is_some() && j.id != validation)
            .collect();
        if others.is_empty() {
            return Ok(None);
        }
        let mut items = vec!["No production job (only the validation job)".to_string()];
        items.extend(others.iter().map(|j| {
            format!(
                "{} (id {})",
                j.name.clone().unwrap_or_default(),
                j.id.unwrap_or_default()
            )
        }));
        let picked = self.prompter.select(
            "A production job too? (target `prod`, confirm: true; dbt-run --target prod)",
            &items,
            0,
        )?;
        Ok(picked
            .checked_sub(1)
            .map(|i| (others[i].id.unwrap_or_default(), others[i].environment_id)))
    }

    fn ask_access_url(&mut self) -> Result<String, WizardError> {
        let current = self.existing.access_url.as_ref().map(|l| l.value.clone());
        let mut items: Vec<String> = REGIONS.iter().map(|(l, _)| l.to_string()).collect();
        let mut default = 0;
        // The file's URL: its region, or a "keep" entry on top.
        let keep_offset = match &current {
            Some(url) => match REGIONS.iter().position(|(_, u)| *u == Some(url.as_str())) {
                Some(i) => {
                    default = i;
                    0
                }
                None => {
                    items.insert(0, format!("Keep {url}"));
                    1
                }
            },
            None => 0,
        };
        let picked = self
            .prompter
            .select("dbt Cloud access URL", &items, default)?;
        if keep_offset == 1 && picked == 0 {
            return Ok(current.unwrap_or_default());
        }
        let picked = picked - keep_offset;
        match (picked, REGIONS[picked].1) {
            (_, Some(url)) => Ok(url.to_string()),
            (CELL, None) => {
                let prefix = self.prompter.input(
                    "Account prefix (the PREFIX in https://PREFIX.us1.dbt.com)",
                    None,
                    &|s| {
                        if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                        {
                            Ok(())
                        } else {
                            Err("letters, digits and - only".into())
                        }
                    },
                )?;
                Ok(format!(
                    "https://{}.us1.dbt.com",
                    prefix.to_ascii_lowercase()
                ))
            }
            (SANDBOX, None) => {
                let port = self.prompter.input(
                    "Sandbox port (as printed by `datachonk sandbox`)",
                    None,
                    &|s| {
                        s.parse::<u16>()
                            .ok()
                            .filter(|p| *p > 0)
                            .map(|_| ())
                            .ok_or_else(|| "a port number, e.g. 8080".to_string())
                    },
                )?;
                Ok(format!("http://127.0.0.1:{port}"))
            }
            (CUSTOM, None) | (_, None) => {
                let url = self.prompter.input(
                    "Access URL (https://…)",
                    current.as_deref(),
                    &check_url,
                )?;
                Ok(url.trim_end_matches('/').to_string())
            }
        }
    }

    fn ask_token(&mut self) -> Result<SecretString, WizardError> {
        self.ui.status(format!(
            "The API token is not stored anywhere; later runs read it from ${}.",
            self.token.var
        ));
        Ok(self
            .prompter
            .secret("dbt Cloud API token (service token or personal access token; hidden)")?)
    }

    /// Say why the connection failed, with the API error's own hints (never the token).
    fn explain(&self, e: &ApiError) {
        self.ui.warn(e.to_string());
        for hint in e.hints() {
            self.ui.status(format!("  hint: {hint}"));
        }
    }

    fn pick_account(
        &mut self,
        conn: &mut Connection,
        accounts: &[Account],
    ) -> Result<Account, WizardError> {
        let wanted = self
            .presets
            .account_id
            .or(self.existing.account_id.as_ref().map(|l| l.value));
        let account = if accounts.is_empty() {
            // Some tokens cannot list accounts: ask for the id and look it up.
            let id = match self.presets.account_id {
                Some(id) => id,
                None => {
                    let default = wanted.map(|i| i.to_string());
                    self.prompter
                        .input(
                            "Account id (the number after /deploy/ in dbt Cloud URLs)",
                            default.as_deref(),
                            &check_id,
                        )?
                        .parse()
                        .map_err(|_| WizardError::Invalid("not an account id".into()))?
                }
            };
            conn.select_account(id)?;
            conn.account()?
        } else {
            let i = self.pick(
                "account",
                accounts,
                |a| (a.id, a.name.clone()),
                self.presets.account_id,
                wanted,
            )?;
            accounts[i].clone()
        };
        conn.select_account(account_id(&account))?;
        Ok(account)
    }

    /// Pick one item: the preset id (checked), the only item, or one the user selects with
    /// `default_id` preselected.
    fn pick<T>(
        &mut self,
        what: &str,
        items: &[T],
        id_name: impl Fn(&T) -> (Option<i64>, Option<String>),
        preset: Option<i64>,
        default_id: Option<i64>,
    ) -> Result<usize, WizardError> {
        let label = |t: &T| {
            let (id, name) = id_name(t);
            format!(
                "{} (id {})",
                name.unwrap_or_default(),
                id.unwrap_or_default()
            )
        };
        if items.is_empty() {
            return Err(WizardError::Invalid(format!(
                "the token sees no {what}s here; create one in dbt Cloud (or use a token with access to it)"
            )));
        }
        if let Some(id) = preset {
            let i = items
                .iter()
                .position(|t| id_name(t).0 == Some(id))
                .ok_or_else(|| {
                    WizardError::Invalid(format!(
                        "--{what}-id {id}: no such {what} here; the token sees: {}",
                        items.iter().map(&label).collect::<Vec<_>>().join(", ")
                    ))
                })?;
            self.ui.status(format!(
                "{}: {} (from --{what}-id)",
                title(what),
                label(&items[i])
            ));
            return Ok(i);
        }
        if items.len() == 1 {
            self.ui.status(format!(
                "{}: {} (the only one)",
                title(what),
                label(&items[0])
            ));
            return Ok(0);
        }
        let labels: Vec<String> = items.iter().map(&label).collect();
        let default = default_id
            .and_then(|d| items.iter().position(|t| id_name(t).0 == Some(d)))
            .unwrap_or(0);
        let i = self
            .prompter
            .select(&format!("dbt Cloud {what}"), &labels, default)?;
        self.ui.status(format!("{}: {}", title(what), labels[i]));
        Ok(i)
    }

    /// Print the job's steps and what to change about it; returns the advice.
    fn show_job(&self, job: &Job) -> Vec<job_check::JobAdvice> {
        let steps = job.execute_steps.as_deref().unwrap_or_default();
        self.ui.status(format!(
            "Job \"{}\" runs:",
            job.name.as_deref().unwrap_or_default()
        ));
        for (n, s) in steps.iter().enumerate() {
            self.ui.status(format!("  {}. {s}", n + 1));
        }
        let advice = job_check::assess(job);
        for a in &advice {
            self.ui.warn(a.message());
        }
        advice
    }
}

fn account_id(a: &Account) -> i64 {
    a.id.unwrap_or_default()
}

fn title(what: &str) -> String {
    let mut c = what.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn check_id(s: &str) -> Result<(), String> {
    s.parse::<i64>()
        .ok()
        .filter(|i| *i > 0)
        .map(|_| ())
        .ok_or_else(|| "a positive number".into())
}

/// `--no-input` (or no terminal): the settings from flags, falling back to the existing
/// file; `Err` lists the flags still missing.
pub fn settings_without_prompts(
    presets: &Presets,
    existing: &ExistingValues,
) -> Result<InitSettings, Vec<&'static str>> {
    let mut missing = Vec::new();
    let mut id =
        |flag: &'static str, preset: Option<i64>, file: &Option<super::writer::Located<i64>>| {
            let v = preset.or(file.as_ref().map(|l| l.value));
            if v.is_none() {
                missing.push(flag);
            }
            v.unwrap_or_default()
        };
    let account_id = id("--account-id", presets.account_id, &existing.account_id);
    let project_id = id("--project-id", presets.project_id, &existing.project_id);
    let environment_id = id(
        "--environment-id",
        presets.environment_id,
        &existing.environment_id,
    );
    let job_id = id("--job-id", presets.job_id, &existing.job_id);
    if !missing.is_empty() {
        return Err(missing);
    }
    Ok(InitSettings {
        access_url: presets
            .access_url
            .clone()
            .or(existing.access_url.as_ref().map(|l| l.value.clone()))
            .unwrap_or_else(|| DEFAULT_ACCESS_URL.to_string()),
        account_id,
        project_id,
        environment_id,
        job_id,
        auto_trigger: presets
            .auto_trigger
            .or(existing.auto_trigger.as_ref().map(|l| l.value))
            .unwrap_or(false),
        wait: presets
            .wait
            .or(existing.wait.as_ref().map(|l| l.value))
            .unwrap_or(true),
        protected_branches: presets
            .protected_branches
            .clone()
            .unwrap_or_else(|| existing.effective_protected_branches()),
    })
}

/// What [`verify`] learned about the ids.
#[derive(Debug, Clone)]
pub struct Verified {
    pub account_name: String,
    pub job_name: String,
    /// The job's own environment (it may differ from `s.environment_id` when not strict).
    pub job_environment_id: Option<i64>,
    pub job_advice: Vec<job_check::JobAdvice>,
    pub checked: Vec<String>,
}

/// Check non-interactive settings against the API: the token, and that the account, project,
/// environment and job exist and belong together. Shows the job's steps and advice.
pub fn verify(
    ui: &Ui,
    s: &InitSettings,
    token: &SecretString,
    token_source: &str,
    options: ClientOptions,
    job_in_environment: bool,
) -> Result<Verified, WizardError> {
    let (mut conn, accounts) = Connection::open(&s.access_url, token, token_source, options)?;
    let mut checked = vec![format!("the token is accepted at {}", s.access_url)];
    if !accounts.is_empty() && !accounts.iter().any(|a| a.id == Some(s.account_id)) {
        return Err(WizardError::Invalid(format!(
            "account {} is not among the token's accounts ({})",
            s.account_id,
            accounts
                .iter()
                .map(|a| a.id.unwrap_or_default().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    conn.select_account(s.account_id)?;
    let account = conn.account()?;
    let account_name = account.name.unwrap_or_default();
    checked.push(format!("account {} \"{account_name}\"", s.account_id));
    let project = conn
        .projects()?
        .into_iter()
        .find(|p| p.id == Some(s.project_id))
        .ok_or_else(|| {
            WizardError::Invalid(format!(
                "project {} not found in account {}",
                s.project_id, s.account_id
            ))
        })?;
    checked.push(format!(
        "project {} \"{}\"",
        s.project_id,
        project.name.unwrap_or_default()
    ));
    let environment = conn
        .environments(s.project_id)?
        .into_iter()
        .find(|e| e.id == Some(s.environment_id))
        .ok_or_else(|| {
            WizardError::Invalid(format!(
                "environment {} not found in project {}",
                s.environment_id, s.project_id
            ))
        })?;
    checked.push(format!(
        "environment {} \"{}\"",
        s.environment_id,
        environment.name.unwrap_or_default()
    ));
    let job = conn.job(s.job_id)?;
    let elsewhere = job.environment_id != Some(s.environment_id) && job_in_environment;
    if job.project_id != Some(s.project_id) || elsewhere {
        return Err(WizardError::Invalid(format!(
            "job {} belongs to project {} / environment {}, not project {} / environment {}",
            s.job_id,
            job.project_id.unwrap_or_default(),
            job.environment_id.unwrap_or_default(),
            s.project_id,
            s.environment_id
        )));
    }
    let job_name = job.name.clone().unwrap_or_default();
    checked.push(format!("job {} \"{job_name}\"", s.job_id));
    let job_advice = job_check::assess(&job);
    for a in &job_advice {
        ui.warn(format!("job {}: {}", s.job_id, a.message()));
    }
    Ok(Verified {
        account_name,
        job_name,
        job_environment_id: job.environment_id,
        job_advice,
        checked,
    })
}

/// `main, release/*` as typed; `none` (or nothing) for no protected branch.
pub fn parse_branches(s: &str) -> Result<Vec<String>, String> {
    let s = s.trim();
    if s.is_empty() || s.eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    let branches: Vec<String> = s.split(',').map(|b| b.trim().to_string()).collect();
    match branches
        .iter()
        .find(|b| b.is_empty() || b.chars().any(|c| c.is_whitespace() || c == '#'))
    {
        Some(bad) => Err(format!("{bad:?} is not a branch name")),
        None => Ok(branches),
    }
}

fn show_branches(b: &[String]) -> String {
    if b.is_empty() {
        "none".into()
    } else {
        b.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branches_parse_from_a_comma_list_or_none() {
        assert_eq!(
            parse_branches(" main, release/* ").unwrap(),
            ["main", "release/*"]
        );
        assert!(parse_branches("none").unwrap().is_empty());
        assert!(parse_branches("main,,dev").is_err());
        assert!(parse_branches("a b").is_err());
        assert_eq!(show_branches(&[]), "none");
    }

    #[test]
    fn urls_are_checked() {
        assert!(check_url("https://emea.dbt.com").is_ok());
        assert!(check_url("http://127.0.0.1:8080").is_ok());
        assert!(check_url("emea.dbt.com").is_err());
        assert!(check_url("https://emea.dbt.com/api").is_err());
        assert!(check_url("ftp://x").is_err());
    }
}
