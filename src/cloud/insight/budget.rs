//! The node summary's memory cap. Artifacts are read as they arrive and only what the summary
//! needs is kept; a [`Budget`] counts what is kept plus the bytes of the element being read
//! (serde_json buffers one string at a time), and ends the reading when both together would
//! pass the cap. An endless or enormous artifact then costs at most the cap, and the summary
//! says it was cut.

use std::fmt;
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// The most memory a run's node summary holds for every step's results together, and again
/// for the manifest (each has its own cap: see `insight::gather_within`).
pub const SUMMARY_MEMORY_CAP: usize = 64 << 20;

/// What a kept element costs beyond its own struct and strings: its slot in a map or an
/// index (a B-tree entry, a hash slot), allocator slack included.
pub const ENTRY_OVERHEAD: usize = 64;

/// The memory a kept string's text takes: the allocator's header and rounding included.
pub fn heap(s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        (s.len() + 8).next_multiple_of(16).max(32)
    }
}

/// Shared between the reader under serde_json and the visitors above it.
#[derive(Debug, Clone)]
pub struct Budget {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    cap: usize,
    kept: AtomicUsize,
    in_flight: AtomicUsize,
    cut: AtomicBool,
}

impl Budget {
    pub fn new(cap: usize) -> Self {
        Budget {
            inner: Arc::new(Inner {
                cap,
                kept: AtomicUsize::new(0),
                in_flight: AtomicUsize::new(0),
                cut: AtomicBool::new(false),
            }),
        }
    }

    pub fn cap(&self) -> usize {
        self.inner.cap
    }

    /// True once the cap ended a reading.
    pub fn is_cut(&self) -> bool {
        self.inner.cut.load(Relaxed)
    }

    fn over(&self) -> bool {
        let b = &self.inner;
        b.kept
            .load(Relaxed)
            .saturating_add(b.in_flight.load(Relaxed))
            > b.cap
    }

    /// Bytes read that belong to an element not yet kept or dropped.
    fn read(&self, n: usize) {
        self.inner.in_flight.fetch_add(n, Relaxed);
        if self.over() {
            self.inner.cut.store(true, Relaxed);
        }
    }

    /// An element was read: `kept` bytes of it stay. `false` (and cut) when that passes the cap.
    pub fn keep(&self, kept: usize) -> bool {
        self.inner.in_flight.store(0, Relaxed);
        self.inner.kept.fetch_add(kept, Relaxed);
        if self.over() {
            self.inner.cut.store(true, Relaxed);
        }
        !self.is_cut()
    }

    /// A new artifact is being read: nothing of it is in flight yet.
    pub fn start(&self) {
        self.inner.in_flight.store(0, Relaxed);
    }

    /// One attempt at reading an artifact: what it kept is given back when it fails (a body
    /// that broke off is read again from the start; a malformed one's nodes are dropped).
    pub fn attempt<T, E>(&self, read: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let kept = self.inner.kept.load(Relaxed);
        let result = read();
        if result.is_err() {
            self.inner.kept.store(kept, Relaxed);
            self.inner.in_flight.store(0, Relaxed);
        }
        result
    }

    /// `reader` counted against this budget: it fails once kept + unread-element bytes pass
    /// the cap.
    pub fn reader<R: Read>(&self, reader: R) -> CappedReader<R> {
        CappedReader {
            inner: reader,
            budget: self.clone(),
        }
    }

    /// The error a visitor returns to stop the reading at the cap.
    pub fn stop<E: de::Error>(&self) -> E {
        self.inner.cut.store(true, Relaxed);
        E::custom(CUT)
    }
}

const CUT: &str = "node summary memory cap reached";

/// A reader whose bytes count as in flight until the element they belong to is kept.
pub struct CappedReader<R> {
    inner: R,
    budget: Budget,
}

impl<R: Read> Read for CappedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.budget.is_cut() {
            return Err(io::Error::other(CUT));
        }
        let n = self.inner.read(buf)?;
        self.budget.read(n);
        if self.budget.is_cut() {
            return Err(io::Error::other(CUT));
        }
        Ok(n)
    }
}

/// Skips a value, counting each entry of a map or array as one element: a top-level section
/// the summary ignores (a manifest's `macros`) may be large, its entries are not.
pub struct Skip<'a>(pub &'a Budget);

impl<'de> DeserializeSeed<'de> for Skip<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Skip<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value::<IgnoredAny>()?;
            if !self.0.keep(0) {
                return Err(self.0.stop());
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {
            if !self.0.keep(0) {
                return Err(self.0.stop());
            }
        }
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
}

/// The outcome of reading an artifact under a budget: what was kept (all of it, or what came
/// before the cap), or why it could not be read.
pub fn finish<T>(
    result: Result<(), serde_json::Error>,
    budget: &Budget,
    kept: T,
) -> Result<T, serde_json::Error> {
    match result {
        Ok(()) => Ok(kept),
        Err(_) if budget.is_cut() => Ok(kept),
        Err(e) => Err(e),
    }
}
