//! Artifacts of finished runs, fetched once: `.datachonk/runs/<run_id>/step-<n>/<path>`.
//!
//! A finished run's artifacts never change, so the next `runs show`, `lineage` or `freshness`
//! reads them from disk. A run still in progress is never cached (its artifacts are not final),
//! and neither is an artifact that was not there (404: it may be written by a retry).

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::cloud::client::{ArtifactBody, Client};
use crate::cloud::errors::ApiError;
use crate::cloud::retry::{Attempt, Decision};
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

impl ArtifactStore {
    /// Artifact `path` of `run` handed to `read` as it arrives, never held whole: from disk
    /// when kept, else from the API (kept on the way when the run is finished and `read` went
    /// to the end of it). `Ok(None)` when the run did not write it (404). `read` runs on a
    /// blocking thread; when this future is dropped (a deadline), the reading stops.
    ///
    /// A body that breaks off mid-stream is asked for again from the start, under the
    /// client's retry policy, like a request that got no answer: `read` is then called once
    /// per attempt, and only the value of a whole body is returned.
    pub async fn read<T, F>(
        &self,
        client: &Client,
        run: &Run,
        step: Option<i64>,
        path: &str,
        read: F,
    ) -> Result<Option<T>, ApiError>
    where
        T: Send + 'static,
        F: Fn(&mut dyn Read) -> T + Send + Sync + 'static,
    {
        let read = Arc::new(read);
        let kept = self.path_of(run.id, step, path);
        // Only a regular file: a pipe or device in the cache would never end.
        let file = kept
            .as_ref()
            .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file()))
            .and_then(|p| std::fs::File::open(p).ok());
        if let Some(mut file) = file {
            return Ok(Some(blocking(move || read(&mut file)).await?));
        }
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            let body = match client.open_artifact(run.id, path, step).await {
                Ok(b) => b,
                Err(ApiError::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(e),
            };
            let tee = kept
                .as_ref()
                .filter(|_| run.run_status().is_terminal())
                .and_then(|p| self.cache_file(p));
            let broke_off = match read_body(body, tee, read.clone()).await? {
                Ok(value) => return Ok(Some(value)),
                // A body's only Decode error is the connection breaking off mid-stream
                // ([`ArtifactBody::chunk`]); past the artifact limit is final.
                Err(e @ ApiError::Decode { .. }) => e,
                Err(e) => return Err(e),
            };
            // The same policy as a request that got no answer; the caller's deadline, if
            // any, bounds the whole (this future is dropped at it).
            let decision = client.options().retry.decide(
                &Attempt::NoResponse,
                attempt,
                started.elapsed(),
                fastrand::f64(),
            );
            match decision {
                Decision::RetryAfter(delay) => {
                    client.debug(&format!(
                        "retrying in {delay:.1?} (attempt {attempt}: {broke_off})"
                    ));
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Decision::GiveUp => {
                    return Err(match broke_off {
                        ApiError::Decode { what, detail } if attempt > 1 => ApiError::Decode {
                            what,
                            detail: format!("{detail}; asked {attempt} times"),
                        },
                        e => e,
                    })
                }
            }
        }
    }

    /// A temporary file that becomes `path` once the whole artifact went through it.
    fn cache_file(&self, path: &Path) -> Option<crate::fsx::atomic::AtomicFile> {
        if let Some(project) = self
            .root
            .as_deref()
            .and_then(Path::parent)
            .and_then(Path::parent)
        {
            let _ = crate::fsx::cache_dir::ignore_cache_folder(project);
        }
        crate::fsx::atomic::AtomicFile::create(path).ok()
    }
}

/// One attempt at reading `body` with `read`: its value when the body came whole, else why
/// not (what the parser made of a broken-off body is not to be trusted).
async fn read_body<T, F>(
    body: ArtifactBody,
    tee: Option<crate::fsx::atomic::AtomicFile>,
    read: Arc<F>,
) -> Result<Result<T, ApiError>, ApiError>
where
    T: Send + 'static,
    F: Fn(&mut dyn Read) -> T + Send + Sync + 'static,
{
    let (stop, stopped) = tokio::sync::watch::channel(());
    let mut reader = BodyReader {
        body,
        handle: tokio::runtime::Handle::current(),
        pending: Vec::new(),
        at: 0,
        ended: false,
        error: None,
        tee,
        stopped,
    };
    let (value, error) = blocking(move || {
        let value = read(&mut reader);
        reader.keep_if_whole();
        (value, reader.error)
    })
    .await?;
    drop(stop);
    Ok(match error {
        Some(e) => Err(e),
        None => Ok(value),
    })
}

/// Run `f` on the blocking pool (a parser pulling a body through the runtime).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Client(format!("the artifact reader stopped: {e}")))
}

/// A blocking `Read` over an artifact's body, pulling each piece through the runtime, copying
/// what it reads into the cache file when there is one.
struct BodyReader {
    body: ArtifactBody,
    handle: tokio::runtime::Handle,
    pending: Vec<u8>,
    at: usize,
    ended: bool,
    error: Option<ApiError>,
    tee: Option<crate::fsx::atomic::AtomicFile>,
    /// Closed when the future reading the artifact is dropped (a deadline): a reader waiting
    /// for the next piece stops at once instead of at the request timeout.
    stopped: tokio::sync::watch::Receiver<()>,
}

impl BodyReader {
    /// Keep the cache file only when the body was read to its end without error.
    fn keep_if_whole(&mut self) {
        if let Some(file) = self.tee.take() {
            if self.ended && self.error.is_none() {
                let _ = file.commit();
            }
        }
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.pending.len() {
            if self.ended {
                return Ok(0);
            }
            let (body, stopped) = (&mut self.body, &mut self.stopped);
            let next = self.handle.block_on(async {
                tokio::select! {
                    chunk = body.chunk() => Some(chunk),
                    _ = stopped.changed() => None,
                }
            });
            let Some(next) = next else {
                return Err(std::io::Error::other("the reading was abandoned"));
            };
            match next {
                Ok(Some(chunk)) => {
                    if let Some(f) = &mut self.tee {
                        if f.write_all(&chunk).is_err() {
                            // A cache that cannot be written only costs a refetch next time.
                            self.tee = None;
                        }
                    }
                    self.pending = chunk;
                    self.at = 0;
                }
                Ok(None) => self.ended = true,
                Err(e) => {
                    let msg = e.to_string();
                    self.error = Some(e);
                    return Err(std::io::Error::other(msg));
                }
            }
        }
        let n = buf.len().min(self.pending.len() - self.at);
        buf[..n].copy_from_slice(&self.pending[self.at..self.at + n]);
        self.at += n;
        Ok(n)
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
