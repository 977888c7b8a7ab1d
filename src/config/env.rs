//! The environment variables datachonk reads, listed once.

/// Every environment variable datachonk reads for its configuration, with what it holds.
pub const ENV_VARS: &[(&str, &str)] = &[
    ("DBT_CLOUD_API_TOKEN", "dbt Cloud API token (service token or personal access token)"),
    ("DBT_CLOUD_ACCOUNT_ID", "dbt Cloud account id"),
    ("DBT_CLOUD_PROJECT_ID", "dbt Cloud project id"),
    ("DBT_CLOUD_ENVIRONMENT_ID", "dbt Cloud environment id"),
    ("DBT_CLOUD_JOB_ID", "dbt Cloud job to trigger"),
    ("DBT_CLOUD_ACCESS_URL", "dbt Cloud access URL, e.g. https://PREFIX.us1.dbt.com"),
    ("DBT_CLOUD_HOST", "dbt Cloud host without scheme (as other dbt Cloud tools use it); DBT_CLOUD_ACCESS_URL wins"),
    ("DATACHONK_TARGET", "named target of deploy.dbt_cloud.targets to use (--target wins)"),
];

pub const TOKEN: &str = "DBT_CLOUD_API_TOKEN";
pub const ACCOUNT_ID: &str = "DBT_CLOUD_ACCOUNT_ID";
pub const PROJECT_ID: &str = "DBT_CLOUD_PROJECT_ID";
pub const ENVIRONMENT_ID: &str = "DBT_CLOUD_ENVIRONMENT_ID";
pub const JOB_ID: &str = "DBT_CLOUD_JOB_ID";
pub const ACCESS_URL: &str = "DBT_CLOUD_ACCESS_URL";
pub const HOST: &str = "DBT_CLOUD_HOST";
pub const TARGET: &str = "DATACHONK_TARGET";

/// Reads environment variables; a trait so tests can resolve configuration hermetically.
pub trait EnvSource {
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment. Empty values count as unset (a common CI artefact).
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

impl<F: Fn(&str) -> Option<String>> EnvSource for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// `inner` without some variables: a target named explicitly (`--target`, DATACHONK_TARGET)
/// beats DBT_CLOUD_JOB_ID and friends for the values it sets itself.
pub struct Hiding<'a> {
    pub inner: &'a dyn EnvSource,
    pub hidden: Vec<&'static str>,
}

impl EnvSource for Hiding<'_> {
    fn get(&self, name: &str) -> Option<String> {
        if self.hidden.contains(&name) {
            None
        } else {
            self.inner.get(name)
        }
    }
}
