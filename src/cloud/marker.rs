//! The per-invocation marker appended to a trigger's cause.
//!
//! dbt Cloud has no idempotency key, and the cause is the only free text a trigger carries
//! that the run echoes back (`trigger.cause`). A short random marker there lets the look-up
//! after a lost trigger response tell *this* invocation's run from an earlier one with the
//! same cause and sha (two `dbt-run`s of the same commit must never share a verdict).

use crate::config::MAX_CAUSE_LEN;

/// ` [dc:` + 8 hex digits + `]`.
pub const MARKER_LEN: usize = 14;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunMarker(String);

impl RunMarker {
    /// A fresh marker: 32 random bits, enough to tell apart the runs one job gets between a
    /// trigger and its look-up (which also only considers runs newer than the trigger).
    pub fn new() -> Self {
        Self::from_bits(fastrand::u32(..))
    }

    pub fn from_bits(bits: u32) -> Self {
        RunMarker(format!(" [dc:{bits:08x}]"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `cause` without a marker at its end: what a person wrote, or datachonk's default.
    /// The marker is for the look-up after a lost trigger answer; people need not see it.
    pub fn strip(cause: &str) -> &str {
        let Some(open) = cause.len().checked_sub(MARKER_LEN) else {
            return cause;
        };
        match cause.get(open..) {
            Some(tail)
                if tail.starts_with(" [dc:")
                    && tail.ends_with(']')
                    && tail[5..13].bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                &cause[..open]
            }
            _ => cause,
        }
    }

    /// `cause` with the marker at the end, the cause shortened (with `…`) when both would not
    /// fit dbt Cloud's 255 characters: the person's words come first and stay readable.
    pub fn apply(&self, cause: &str) -> String {
        let room = MAX_CAUSE_LEN - MARKER_LEN;
        let cause = cause.trim_end();
        if cause.chars().count() <= room {
            return format!("{cause}{}", self.0);
        }
        let kept: String = cause.chars().take(room - 1).collect();
        format!("{}…{}", kept.trim_end(), self.0)
    }
}

impl Default for RunMarker {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_follows_the_cause_and_always_fits() {
        let m = RunMarker::from_bits(0x1a2b3c);
        assert_eq!(m.as_str().chars().count(), MARKER_LEN);
        assert_eq!(m.apply("validate X"), "validate X [dc:001a2b3c]");
        for len in [240, 241, 242, 255] {
            let c = m.apply(&"x".repeat(len));
            assert!(c.chars().count() <= MAX_CAUSE_LEN, "{len}: {c}");
            assert!(c.ends_with(" [dc:001a2b3c]"), "{c}");
        }
        assert!(m.apply(&"é".repeat(255)).contains('…'));
    }

    #[test]
    fn strip_takes_off_only_a_marker_at_the_end() {
        let m = RunMarker::from_bits(0xdeadbeef);
        assert_eq!(RunMarker::strip(&m.apply("validate X")), "validate X");
        assert_eq!(RunMarker::strip("validate X"), "validate X");
        assert_eq!(RunMarker::strip("[dc:12345678] x"), "[dc:12345678] x");
        assert_eq!(RunMarker::strip(" [dc:zzzzzzzz]"), " [dc:zzzzzzzz]");
        assert_eq!(RunMarker::strip("é [dc:0000000a]"), "é");
        assert_eq!(RunMarker::strip("é"), "é");
    }

    #[test]
    fn markers_differ_between_invocations() {
        assert_ne!(RunMarker::new(), RunMarker::new());
    }
}
