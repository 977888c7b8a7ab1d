//! Phase timings of one `generate` run, shown by `datachonk generate -v`: where a slow run
//! spends its time and memory, measured on the user's own data, without a profiler. Recording
//! costs a clock read and (on Linux) one small `/proc` read per phase.

use std::time::Instant;

/// One finished phase.
#[derive(Debug, Clone)]
pub struct Phase {
    pub name: &'static str,
    /// Wall time of this phase.
    pub ms: f64,
    /// Peak resident memory of the process so far (Linux only).
    pub peak_rss_kib: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct Timings {
    last: Instant,
    pub phases: Vec<Phase>,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            last: Instant::now(),
            phases: Vec::new(),
        }
    }
}

impl Timings {
    /// Ends the current phase (started at the previous mark) under `name`.
    pub fn mark(&mut self, name: &'static str) {
        let now = Instant::now();
        self.phases.push(Phase {
            name,
            ms: now.duration_since(self.last).as_secs_f64() * 1000.0,
            peak_rss_kib: peak_rss_kib(),
        });
        self.last = now;
    }

    /// One line per phase, for `-v`.
    pub fn lines(&self) -> Vec<String> {
        self.phases
            .iter()
            .map(|p| match p.peak_rss_kib {
                Some(kib) => format!(
                    "{:<24} {:>8.1} ms   peak RSS {:>6.1} MiB",
                    p.name,
                    p.ms,
                    kib as f64 / 1024.0
                ),
                None => format!("{:<24} {:>8.1} ms", p.name, p.ms),
            })
            .collect()
    }
}

/// `VmHWM` from `/proc/self/status` (the kernel's own high-water mark of resident memory).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_phases_in_order() {
        let mut t = Timings::default();
        t.mark("one");
        t.mark("two");
        let names: Vec<_> = t.phases.iter().map(|p| p.name).collect();
        assert_eq!(names, ["one", "two"]);
        assert!(t.lines()[0].starts_with("one"));
        #[cfg(target_os = "linux")]
        assert!(t.phases[0].peak_rss_kib.is_some_and(|k| k > 0));
    }
}
