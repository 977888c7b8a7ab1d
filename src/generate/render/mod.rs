//! The render stage: planned files' content, through the templates or (for unchanged
//! built-ins) their native form.

pub mod models;
pub mod native;
pub mod shared;
pub mod source;
pub mod values;
pub mod yaml;
