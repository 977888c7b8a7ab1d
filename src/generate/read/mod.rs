//! The read stage: the metadata of the tables to stage (a dbt catalog, a sources YAML file, a
//! live PostgreSQL database, a warehouse's information schema) and the dbt project around it.

pub mod catalog;
pub mod load;
pub mod manifest;
pub mod metadata;
pub mod postgres;
pub mod project;
pub mod sources_yaml;
pub mod warehouse;
pub mod yaml;
