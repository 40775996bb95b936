//! What a fleet run (`check --targets`) reports: each target's outcome as it finishes, to
//! every output at once (JSON Lines, JUnit, the summary, Nagios), none of which keeps more
//! than it must, so memory does not grow with the number of targets.

pub(crate) mod fields;
pub mod jsonl;
pub(crate) mod junit;
pub mod lines;
pub(crate) mod nagios;
pub(crate) mod progress;
pub(crate) mod summary;

use std::time::Duration;

/// One target of a fleet, checked or failed: a failure (refused, DNS, TLS, the deadline) is a
/// result like any other.
#[derive(Clone, Debug)]
pub struct TargetOutcome {
    /// The target as its line gave it (sanitized: a target file is user input, shown back).
    pub target: String,
    /// The line of the target file it came from (from 1).
    pub line: usize,
    /// The object `check --json` prints for this target (with `findings`, `summary`, `tls`,
    /// …); none when the check did not get that far.
    pub report: Option<serde_json::Value>,
    /// Why the target could not be checked, as `check` would have said it and exited.
    pub error: Option<TargetError>,
    /// From the start of its check to its end.
    pub elapsed: Duration,
    /// The target's recording (--record DIR), as shown: a failed target has one too, with
    /// what was recorded before it failed.
    pub recording: Option<String>,
}

/// A target that could not be checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetError {
    /// The exit code `check` alone would have given (README "Exit codes").
    pub exit: u8,
    pub message: String,
}

/// An output of a fleet run: told of each target as it finishes, in the order they finish,
/// then of the end of the run.
pub trait FleetSink {
    fn add(&mut self, outcome: &TargetOutcome) -> std::io::Result<()>;
    fn finish(&mut self) -> std::io::Result<()>;
    /// The check of the target of `line` began (it had its turn under --jobs and --per-host).
    fn started(&mut self, _line: usize, _target: &str) {}
    /// The target file was read to its end: it holds `targets` targets (after --shard).
    fn total(&mut self, _targets: usize) {}
}
