//! API failures in the user's terms. Every one says what to do next (the CLI maps them to
//! exit code 6 at its edge); none ever contains the token (only the name of the variable it
//! came from).

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("dbt Cloud rejected the API token (401 Unauthorized) at {url}")]
    Unauthorized {
        url: String,
        /// Where the token came from, e.g. "env DBT_CLOUD_API_TOKEN".
        token_source: String,
        /// The host is a legacy `getdbt.com` one.
        legacy_host: bool,
    },

    #[error("the API token is not allowed to {action} (403 Forbidden){}", detail(.user_message))]
    Forbidden {
        action: String,
        user_message: Option<String>,
    },

    #[error("{what} was not found (404){}", detail(.user_message))]
    NotFound {
        what: String,
        user_message: Option<String>,
    },

    #[error("dbt Cloud refused the request (400): {user_message}{}", fields_text(.fields))]
    BadRequest {
        user_message: String,
        fields: Vec<(String, String)>,
    },

    #[error(
        "dbt Cloud kept answering {status} to {what} after {attempts} attempts over {seconds:.0}s"
    )]
    GaveUp {
        what: String,
        status: u16,
        attempts: u32,
        seconds: f64,
    },

    #[error("cannot reach dbt Cloud at {url} after {attempts} attempts: {detail}")]
    Unreachable {
        url: String,
        attempts: u32,
        detail: String,
    },

    #[error("unexpected answer from dbt Cloud for {what}: HTTP {status}{}", detail(.user_message))]
    Unexpected {
        what: String,
        status: u16,
        user_message: Option<String>,
    },

    #[error(
        "trigger unconfirmed: a run may exist (the trigger of job {job_id} got no clear answer, \
         and whether it created a run cannot be confirmed: {why})"
    )]
    TriggerUnconfirmed { job_id: i64, why: String },

    #[error("the server at {url} answered HTML, not the dbt Cloud API: is the access URL right?")]
    NotTheApi { url: String },

    #[error("dbt Cloud's answer for {what} is larger than {} MiB: refused", limit >> 20)]
    TooLarge { what: String, limit: u64 },

    #[error("cannot read dbt Cloud's answer for {what}: {detail}")]
    Decode { what: String, detail: String },

    #[error("the TLS certificate of {url} is not trusted: {detail}")]
    Tls { url: String, detail: String },

    #[error("cannot start the HTTP client: {0}")]
    Client(String),
}

/// The most characters of someone else's text (a response body, a value) an error echoes.
pub const ECHO_LIMIT: usize = 300;

/// `text`, cut to `max` characters with `…` (whole characters; error messages echo answers
/// and input, which can be megabytes).
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let kept: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{kept}…")
}

fn detail(m: &Option<String>) -> String {
    match m {
        Some(m) if !m.trim().is_empty() => format!(": {}", m.trim()),
        _ => String::new(),
    }
}

fn fields_text(fields: &[(String, String)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("\n  {k}: {v}"))
        .collect()
}

impl ApiError {
    /// What a person can do about it.
    pub fn hints(&self) -> Vec<String> {
        match self {
            ApiError::Unauthorized { token_source, legacy_host, .. } => {
                let mut h = vec![format!(
                    "the token came from {token_source}: check that it is current (tokens can expire or be revoked) \
                     and belongs to this account"
                )];
                if *legacy_host {
                    h.push(
                        "accounts moved to per-account access URLs (e.g. https://PREFIX.us1.dbt.com): the legacy \
                         getdbt.com host answers 401 even for a valid token. Copy the access URL from Account \
                         settings and set DBT_CLOUD_ACCESS_URL or deploy.dbt_cloud.access_url"
                            .into(),
                    );
                }
                h
            }
            ApiError::Forbidden { .. } => vec![
                "use a service token with the Job Admin (or Job Runner, to trigger) permission, or a personal \
                 access token of a user with access; IP allowlists also answer 403"
                    .into(),
            ],
            ApiError::NotFound { .. } => vec![
                "check the ids (datachonk cloud jobs lists what the token can see); dbt Cloud also answers 404 \
                 when the token lacks access to the object"
                    .into(),
            ],
            ApiError::Unreachable { .. } => vec![
                "check the access URL (datachonk config show) and your network; the request was retried with backoff"
                    .into(),
            ],
            ApiError::NotTheApi { .. } => vec![
                "use the access URL from Account settings in dbt Cloud (e.g. https://PREFIX.us1.dbt.com), \
                 without a path: DBT_CLOUD_ACCESS_URL or deploy.dbt_cloud.access_url"
                    .into(),
            ],
            ApiError::Tls { .. } => vec![
                "for a private CA or a `datachonk sandbox --tls`, point DATACHONK_CA_CERT (or SSL_CERT_FILE) at its \
                 PEM file"
                    .into(),
            ],
            ApiError::TriggerUnconfirmed { job_id, .. } => vec![format!(
                "check `datachonk cloud runs list --job-id {job_id}` before triggering again, so the job \
                 does not run twice"
            )],
            ApiError::GaveUp { status: 429, .. } => {
                vec!["dbt Cloud limits the Admin API to 5,000 requests a minute per account; try again later".into()]
            }
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keeps_short_text_and_cuts_long_text_on_characters() {
        assert_eq!(clip("abc", 5), "abc");
        assert_eq!(clip("ééééé", 3), "éé…");
        assert_eq!(
            clip(&"x".repeat(10_000), ECHO_LIMIT).chars().count(),
            ECHO_LIMIT
        );
    }
}
