//! The template environment and the escaping rules it shares with the native renderers.
//! A leaf the render stage uses: it knows nothing of generate's plans or state.

pub mod env;
pub mod escape;
pub mod names;

pub use crate::digest::hex;
pub use env::{TemplateError, Templates, BUILTIN};
pub use escape::{push_jinja_str, push_yaml_str};
pub use names::{COMMIT_MESSAGE, MODELS_YAML, SOURCES_YAML, STAGING_MODEL};
