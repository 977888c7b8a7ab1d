//! Why a connection (or a job named on the command line) could not be had.

use crate::cloud::ApiError;
use crate::config::ConfigError;

#[derive(Debug)]
pub enum ConnectError {
    /// A setting is missing or invalid (the token, the account id).
    Config(ConfigError),
    /// dbt Cloud could not be asked, or refused.
    Api(ApiError),
    /// The values given cannot be used: what is wrong, and what to do.
    Refused {
        message: String,
        hint: Option<String>,
    },
    /// The person was asked and gave no answer (Ctrl-C, a closed terminal).
    Unanswered(String),
}

impl ConnectError {
    pub fn refused(message: impl Into<String>) -> Self {
        ConnectError::Refused {
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(self, hint: impl Into<String>) -> Self {
        match self {
            ConnectError::Refused { message, .. } => ConnectError::Refused {
                message,
                hint: Some(hint.into()),
            },
            other => other,
        }
    }
}

impl From<ConfigError> for ConnectError {
    fn from(e: ConfigError) -> Self {
        ConnectError::Config(e)
    }
}

impl From<ApiError> for ConnectError {
    fn from(e: ApiError) -> Self {
        ConnectError::Api(e)
    }
}
