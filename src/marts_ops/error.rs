//! What the marts commands can refuse, in the person's terms; the CLI edge maps it to an
//! exit code (`src/error.rs`).

use crate::generate::GenerateError;

#[derive(Debug)]
pub enum MartsError {
    /// The flags, answers or files cannot be used as they are: what is wrong, and what to do.
    Refused {
        message: String,
        hint: Option<String>,
    },
    /// Ctrl-C (or an unreadable terminal) while asking: nothing was written.
    Interrupted,
    /// Reading the project, the spec or the warehouse failed.
    Generate(GenerateError),
}

impl MartsError {
    pub fn refused(message: impl Into<String>) -> Self {
        MartsError::Refused {
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(self, hint: impl Into<String>) -> Self {
        match self {
            MartsError::Refused { message, .. } => MartsError::Refused {
                message,
                hint: Some(hint.into()),
            },
            other => other,
        }
    }
}

impl From<GenerateError> for MartsError {
    fn from(e: GenerateError) -> Self {
        MartsError::Generate(e)
    }
}
