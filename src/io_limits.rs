//! One bounded reader for every input file (configuration, spec, catalog, sources YAML,
//! properties files, manifest, fixtures, templates). A size from `metadata` is no bound:
//! devices and pipes report 0, so `datachonk.yaml -> /dev/zero` or `--config <(yes)` would be
//! read forever. Here the file is opened once, its kind checked on the open handle, and at
//! most `limit + 1` bytes are read (`take`): one byte over the limit is enough to refuse.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// `datachonk.yaml`, templates: a few dozen lines; anything bigger is a mistake.
pub const CONFIG_LIMIT: u64 = 1 << 20;
/// Spec files, sources YAML, properties files, fixtures.
pub const YAML_LIMIT: u64 = 64 << 20;
/// catalog.json and manifest.json of large projects.
pub const ARTIFACT_LIMIT: u64 = 2 << 30;

/// Where a path came from: only a path a person named on the command line may be a pipe
/// (`--config <(…)`, `--from-catalog /dev/stdin`); files found by searching must be files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Found,
    Named,
}

/// The bytes of the file at `path`, at most `limit` of them; anything that is not a regular
/// file (a directory, a device, a socket; a pipe unless `Named`) is refused. The errors are
/// `io::Error`s worded for people, so each caller's "cannot read PATH: …" reads right.
pub fn read(path: &Path, limit: u64, origin: Origin) -> io::Result<Vec<u8>> {
    // Checked before opening (opening a pipe or some devices blocks), and again on the
    // open handle (the path may have been swapped in between).
    check(&std::fs::metadata(path)?.file_type(), origin)?;
    let file = File::open(path)?;
    let meta = file.metadata()?;
    let kind = meta.file_type();
    check(&kind, origin)?;
    let pipe = is_fifo(&kind);
    let mut bytes = Vec::with_capacity(if pipe {
        8192
    } else {
        meta.len().min(limit) as usize + 1
    });
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!(
                "larger than {}: too large to be this kind of input",
                size_text(limit)
            ),
        ));
    }
    Ok(bytes)
}

fn check(kind: &std::fs::FileType, origin: Origin) -> io::Result<()> {
    if kind.is_file() || (is_fifo(kind) && origin == Origin::Named) {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{}, not a regular file", kind_name(kind)),
    ))
}

/// As [`read`], as UTF-8 text.
pub fn read_text(path: &Path, limit: u64, origin: Origin) -> io::Result<String> {
    String::from_utf8(read(path, limit, origin)?).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
        )
    })
}

#[cfg(unix)]
fn is_fifo(kind: &std::fs::FileType) -> bool {
    std::os::unix::fs::FileTypeExt::is_fifo(kind)
}

#[cfg(not(unix))]
fn is_fifo(_: &std::fs::FileType) -> bool {
    false
}

fn kind_name(kind: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_char_device() || kind.is_block_device() {
            return "a device";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_fifo() {
            return "a pipe (only a path given on the command line may be one)";
        }
    }
    if kind.is_dir() {
        "a directory"
    } else {
        "not a file"
    }
}

fn size_text(limit: u64) -> String {
    match limit {
        l if l >= 1 << 30 => format!("{} GiB", l >> 30),
        l if l >= 1 << 20 => format!("{} MiB", l >> 20),
        l => format!("{l} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_are_refused_before_a_byte_is_read() {
        let e = read(Path::new("/dev/zero"), CONFIG_LIMIT, Origin::Named).unwrap_err();
        assert_eq!(e.to_string(), "a device, not a regular file");
        let e = read(Path::new("/tmp"), CONFIG_LIMIT, Origin::Named).unwrap_err();
        assert_eq!(e.to_string(), "a directory, not a regular file");
    }

    #[test]
    fn an_endless_pipe_is_cut_one_byte_past_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("endless");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let found = read(&fifo, 1000, Origin::Found).unwrap_err();
        assert!(found.to_string().starts_with("a pipe"), "{found}");
        // The writer is still writing when the reader gives up: it gets EPIPE and stops.
        let mut yes = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("yes > '{}' 2>/dev/null", fifo.display()))
            .spawn()
            .unwrap();
        let e = read(&fifo, 1000, Origin::Named).unwrap_err();
        assert!(e.to_string().starts_with("larger than 1000 bytes"), "{e}");
        let _ = yes.wait();
    }

    #[test]
    fn a_file_at_the_limit_is_read_and_one_byte_more_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, vec![b'a'; 100]).unwrap();
        assert_eq!(read(&p, 100, Origin::Found).unwrap().len(), 100);
        assert!(read(&p, 99, Origin::Found).is_err());
    }
}
