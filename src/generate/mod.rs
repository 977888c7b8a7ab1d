//! `generate`: metadata inputs → planned files. No git, no HTTP: commands compose this with
//! `Ui` and the filesystem writes in [`write`].

pub mod catalog;
pub mod context;
pub mod metadata;
pub mod naming;
pub mod quoting;
pub mod select;
pub mod sources_yaml;
pub mod yaml;
