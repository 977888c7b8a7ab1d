//! Artifacts of finished runs, fetched once: `.datachonk/runs/<run_id>/step-<n>/<path>`.
//!
//! A finished run's artifacts never change, so the next `runs show`, `lineage` or `freshness`
//! reads them from disk. A run still in progress is never cached (its artifacts are not final),
//! and neither is an artifact that was not there (404: it may be written by a retry).

use std::path::{Component, Path, PathBuf};

use crate::cloud::client::Client;
use crate::cloud::errors::ApiError;
use crate::cloud::types::Run;

/// Where artifacts are kept; `None` keeps nothing (outside a project).
#[derive(Debug, Clone, Default)]
pub struct ArtifactStore {
    root: Option<PathBuf>,
}

impl ArtifactStore {
    /// Keep artifacts under `project/.datachonk/runs/`.
    pub fn in_project(project: &Path) -> Self {
        ArtifactStore {
            root: Some(project.join(".datachonk").join("runs")),
        }
    }

    /// Fetch every time, keep nothing.
    pub fn none() -> Self {
        ArtifactStore { root: None }
    }

    /// Where `path` of `step` of `run_id` is kept, when the path is a plain relative one.
    pub fn path_of(&self, run_id: i64, step: Option<i64>, path: &str) -> Option<PathBuf> {
        if !is_plain_relative(path) {
            return None;
        }
        let step_dir = match step {
            Some(n) => format!("step-{n}"),
            None => "last-step".to_string(),
        };
        Some(
            self.root
                .as_ref()?
                .join(run_id.to_string())
                .join(step_dir)
                .join(path),
        )
    }

    /// Artifact `path` of `run` (step `step`, default the last), from disk when kept, else
    /// from the API; `Ok(None)` when the run did not write it (404).
    pub async fn get(
        &self,
        client: &Client,
        run: &Run,
        step: Option<i64>,
        path: &str,
    ) -> Result<Option<Vec<u8>>, ApiError> {
        let kept = self.path_of(run.id, step, path);
        if let Some(bytes) = kept.as_ref().and_then(|p| std::fs::read(p).ok()) {
            return Ok(Some(bytes));
        }
        let bytes = match client.get_artifact(run.id, path, step).await {
            Ok(b) => b,
            Err(ApiError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        if let Some(p) = kept.filter(|_| run.run_status().is_terminal()) {
            // A cache that cannot be written only costs a refetch next time.
            if let Some(dir) = p.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            // `.datachonk/` is a cache git must never pick up (a hook runs mid-merge).
            if let Some(project) = self
                .root
                .as_deref()
                .and_then(Path::parent)
                .and_then(Path::parent)
            {
                let _ = crate::fsx::cache_dir::ignore_cache_folder(project);
            }
            let _ = crate::fsx::write_atomic(&p, &bytes);
        }
        Ok(Some(bytes))
    }
}

/// `run_results.json`, `compiled/p/x.sql`: relative, no `..`, nothing absolute.
pub fn is_plain_relative(path: &str) -> bool {
    !path.is_empty()
        && Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_get_a_place() {
        let store = ArtifactStore::in_project(Path::new("/p"));
        assert_eq!(
            store.path_of(7, Some(4), "run_results.json"),
            Some(PathBuf::from(
                "/p/.datachonk/runs/7/step-4/run_results.json"
            ))
        );
        for bad in ["../x.json", "/etc/passwd", "a/../../b", ""] {
            assert_eq!(store.path_of(7, None, bad), None, "{bad}");
        }
        assert_eq!(ArtifactStore::none().path_of(7, None, "a.json"), None);
    }
}
