//! The built-in templates' names: what a project's `templates_dir` overrides by file name.

pub const STAGING_MODEL: &str = "staging_model.sql";
pub const SOURCES_YAML: &str = "sources.yml";
pub const MODELS_YAML: &str = "models.yml";
pub const COMMIT_MESSAGE: &str = "commit_message.txt";

/// Entities, facts and metrics (issue 15), overridable as `marts/<name>` in templates_dir.
pub mod marts {
    pub const DIM: &str = "marts/dim.sql";
    pub const DIM_SCD2: &str = "marts/dim_scd2.sql";
    pub const DIM_YAML: &str = "marts/dim.yml";
    pub const SNAPSHOT: &str = "marts/snapshot.yml";
    pub const FCT: &str = "marts/fct.sql";
    pub const FCT_YAML: &str = "marts/fct.yml";
    pub const METRICS_YAML: &str = "marts/metrics.yml";
    pub const TIME_SPINE: &str = "marts/time_spine.sql";
    pub const TIME_SPINE_YAML: &str = "marts/time_spine.yml";
}
