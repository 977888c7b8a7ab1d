//! `datachonk.yaml`: schema, loading, environment overlay, validation and precedence.
//!
//! Precedence, highest first: flags > environment > file > defaults. Every resolved value
//! carries the place it came from, so `config show` and error messages can say where to
//! change it.
//!
//! Inside, arrows run one way: `types`, `error` and `env` are leaves; `reader` (finding,
//! reading, YAML error positions) uses them; each section (`generate`, `git`, and `file`'s
//! `deploy:`) parses through `reader`; `file` is the whole file; `resolve` and `load` on top.
//! `spans` (where each key sits) and `problems` (a list of what is wrong) are leaves;
//! `check` (every problem in one run) and `show` (every key with its provenance) sit on top.

mod check;
pub mod dbt_project;
mod env;
mod error;
pub(crate) mod file;
mod generate;
mod git;
mod load;
pub(crate) mod problems;
mod reader;
pub mod reference;
mod resolve;
pub mod show;
mod spans;
mod types;

pub use check::{check, CheckReport, Problem};
pub use env::{EnvSource, ProcessEnv, ENV_VARS};
pub use error::ConfigError;
pub use file::ConfigFile;
pub use generate::{GenerateConfig, GenerateSection, GenerateSettings};
pub use git::{GitConfig, GitSection};
pub use load::{load_generate, load_git};
pub(crate) use reader::unknown_field;
pub use reader::{find_config_file, parse_duration, CONFIG_FILE_NAME};
pub use resolve::load;
pub use types::{
    validate_cause, Config, DbtCloudConfig, FlagValues, LoadOptions, Source, Sourced,
    TriggerOverrides, DEFAULT_ACCESS_URL, MAX_CAUSE_LEN,
};
