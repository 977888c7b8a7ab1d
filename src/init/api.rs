//! The few dbt Cloud calls the wizard makes, as blocking calls on a private single-threaded
//! runtime (the wizard itself is synchronous: it waits on a person, not on the network).

use secrecy::SecretString;

use crate::cloud::types::{Account, Environment, Job, Project};
use crate::cloud::{ApiError, Client, ClientOptions};

/// A checked connection: the token was accepted at `access_url`.
pub struct Connection {
    rt: tokio::runtime::Runtime,
    client: Client,
    access_url: String,
    token: SecretString,
    token_source: String,
    options: ClientOptions,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("Connection")
            .field("access_url", &self.access_url)
            .field("account_id", &self.client.account_id())
            .finish()
    }
}

impl Connection {
    /// Check the token by listing its accounts (the one call that needs no account id).
    pub fn open(
        access_url: &str,
        token: &SecretString,
        token_source: &str,
        options: ClientOptions,
    ) -> Result<(Connection, Vec<Account>), ApiError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ApiError::Client(format!("cannot start the async runtime: {e}")))?;
        let client = Client::new(access_url, 0, token, token_source, options.clone())?;
        let accounts = rt.block_on(client.list_accounts())?;
        let conn = Connection {
            rt,
            client,
            access_url: access_url.to_string(),
            token: token.clone(),
            token_source: token_source.to_string(),
            options,
        };
        Ok((conn, accounts))
    }

    /// Use `account_id` for the account-scoped calls that follow.
    pub fn select_account(&mut self, account_id: i64) -> Result<(), ApiError> {
        self.client = Client::new(
            &self.access_url,
            account_id,
            &self.token,
            self.token_source.clone(),
            self.options.clone(),
        )?;
        Ok(())
    }

    pub fn account(&self) -> Result<Account, ApiError> {
        self.rt.block_on(self.client.get_account())
    }

    pub fn projects(&self) -> Result<Vec<Project>, ApiError> {
        self.rt.block_on(self.client.list_projects())
    }

    pub fn environments(&self, project_id: i64) -> Result<Vec<Environment>, ApiError> {
        self.rt
            .block_on(self.client.list_environments(Some(project_id)))
    }

    pub fn jobs(&self, project_id: i64, environment_id: i64) -> Result<Vec<Job>, ApiError> {
        self.rt.block_on(
            self.client
                .list_jobs(Some(project_id), Some(environment_id)),
        )
    }

    /// The project's jobs in every environment.
    pub fn project_jobs(&self, project_id: i64) -> Result<Vec<Job>, ApiError> {
        self.rt
            .block_on(self.client.list_jobs(Some(project_id), None))
    }

    pub fn job(&self, job_id: i64) -> Result<Job, ApiError> {
        self.rt.block_on(self.client.get_job(job_id))
    }
}
