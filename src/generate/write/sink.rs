//! Where rendered files go: kept in the plan (`--dry-run`, `--diff`) or written as they are rendered.

use crate::fsx::atomic as write;
use crate::generate::plan::file as plan;
use crate::generate::plan::file::Action;
use crate::generate::plan::file::FileKind;
use crate::generate::plan::file::PlannedFile;
use crate::generate::reconcile::record::record;
use crate::generate::reconcile::state::State;
use crate::generate::request::GenerateError;
use crate::templates;
use sha2::Digest;
use sha2::Sha256;
use std::path::Path;
use std::path::PathBuf;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering;
use std::sync::Mutex;

/// What happens to each planned file as soon as it is known.
pub(crate) enum Sink<'a> {
    /// Keep it whole in the plan.
    Keep,
    /// Write it now (when the plan says so), record it, and keep only its status.
    Write(&'a Writer),
}

pub(crate) struct Writer {
    pub(crate) root: PathBuf,
    /// The state being recorded (shared by the threads that render models).
    pub(crate) state: Mutex<State>,
    pub(crate) written: AtomicUsize,
}

impl Sink<'_> {
    pub(crate) fn accept(&self, mut f: PlannedFile) -> Result<PlannedFile, GenerateError> {
        let Sink::Write(w) = self else {
            return Ok(f);
        };
        if f.action == Action::Write {
            write_file(&w.root, &mut f)?;
            w.written.fetch_add(1, Ordering::Relaxed);
        }
        {
            let mut state = w.state.lock().unwrap_or_else(|p| p.into_inner());
            record(&mut state, &f);
        }
        f.content = String::new();
        f.existing = None;
        Ok(f)
    }
}

/// Write planned file `f` under `root` (a new one with `create_new`), keeping its size and
/// mtime for the state.
pub(crate) fn write_file(root: &Path, f: &mut PlannedFile) -> Result<(), GenerateError> {
    let new = f.status == plan::FileStatus::New;
    f.stat = write::write_atomic_stat(&root.join(&f.path), f.content.as_bytes(), new)?;
    Ok(())
}

impl Sink<'_> {
    /// In write mode, a file that does not exist yet is rendered straight to disk (through a
    /// temporary file, hashed on the way for the state): a source's YAML files run to tens of
    /// megabytes for 10,000 tables. `None` when not writing (the caller renders to memory).
    pub(crate) fn stream_new(
        &self,
        path: &str,
        kind: FileKind,
        input: String,
        descriptions: Option<String>,
        render: impl FnOnce(&mut dyn std::io::Write) -> Result<(), GenerateError>,
    ) -> Result<Option<PlannedFile>, GenerateError> {
        let Sink::Write(w) = self else {
            return Ok(None);
        };
        let mut file = write::AtomicFile::create_new(&w.root.join(path))?;
        let mut out = HashingWriter {
            inner: &mut file,
            hasher: Sha256::new(),
            buf: Vec::with_capacity(HashingWriter::BLOCK),
        };
        render(&mut out)?;
        let sha256 = out.finish().map_err(|source| write::WriteError {
            path: w.root.join(path),
            source,
        })?;
        let stat = file.commit()?;
        w.written.fetch_add(1, Ordering::Relaxed);
        {
            let mut state = w.state.lock().unwrap_or_else(|p| p.into_inner());
            state.record_sha256(path, sha256, Some(input.clone()));
            if let Some(r) = state.record_mut(path) {
                r.stat = stat;
                r.descriptions = descriptions;
            }
        }
        Ok(Some(PlannedFile {
            path: path.to_string(),
            kind,
            status: plan::FileStatus::New,
            action: Action::Write,
            merge: None,
            content: String::new(),
            input: Some(input),
            existing: None,
            stat,
            descriptions: None,
            defined_in: None,
            checksum: None,
        }))
    }
}

/// Hashes bytes and passes them on in blocks: a template writes every literal and value on
/// its own, millions of tiny writes for a large YAML file, each of which would otherwise go
/// through the hasher and the file's writer separately.
pub(crate) struct HashingWriter<'a> {
    pub(crate) inner: &'a mut dyn std::io::Write,
    pub(crate) hasher: Sha256,
    pub(crate) buf: Vec<u8>,
}

impl HashingWriter<'_> {
    const BLOCK: usize = 64 * 1024;

    pub(crate) fn drain(&mut self) -> std::io::Result<()> {
        self.hasher.update(&self.buf);
        self.inner.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }

    /// Writes what is left; returns the SHA-256 (hex) of everything written.
    pub(crate) fn finish(mut self) -> std::io::Result<String> {
        self.drain()?;
        self.inner.flush()?;
        Ok(templates::hex(&self.hasher.finalize()))
    }
}

impl std::io::Write for HashingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(buf);
        if self.buf.len() >= Self::BLOCK {
            self.drain()?;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.drain()?;
        self.inner.flush()
    }
}

/// An I/O error of the file being written.
pub(crate) fn write_error(path: &Path, source: std::io::Error) -> GenerateError {
    write::WriteError {
        path: path.to_path_buf(),
        source,
    }
    .into()
}
