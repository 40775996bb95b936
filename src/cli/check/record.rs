//! `check --targets … --record DIR`: one JSON Lines recording per target, the recorder of
//! `check URL --record FILE`, in a private directory. A target's file is named from its line
//! and what the line asked for, made safe: the target file is hostile input, and its host
//! must not pick where popscope writes.

use std::path::{Path, PathBuf};

use super::Watchers;
use crate::cli::connect::RecordFile;
use crate::exit;
use crate::fleet::run::TargetCheck;
use crate::fleet::targets::FleetTarget;
use crate::private_file;
use crate::transport::Scheme;

/// Octets of the host kept in a file name: a name stays far below NAME_MAX (255) whatever
/// the host, and the line number keeps two long hosts' names apart.
const MAX_HOST: usize = 64;

/// Where a fleet's recordings go, and how they are written.
pub(super) struct RecordDir {
    dir: PathBuf,
    force: bool,
    keep_secrets: bool,
    max_body: Option<u64>,
}

/// One target's recording, being written.
pub(super) struct TargetRecording {
    pub(super) file: RecordFile,
    /// The file's path, sanitized, for the target's JSON object.
    pub(super) shown: String,
}

impl RecordDir {
    /// The directory, created 0700 with its parents if missing; one that is a symbolic link
    /// or someone else's is refused before any target is checked.
    pub(super) fn open(
        dir: &Path,
        force: bool,
        keep_secrets: bool,
        max_body: Option<u64>,
    ) -> Result<RecordDir, String> {
        private_file::create_dir(dir).map_err(|e| {
            format!(
                "--record {}: {e}",
                popscope_core::sanitize::display(dir.as_os_str().as_encoded_bytes(), 200)
            )
        })?;
        Ok(RecordDir {
            dir: dir.to_path_buf(),
            force,
            keep_secrets,
            max_body,
        })
    }

    /// Creates the target's file (0600, never through a symbolic link, an existing file only
    /// replaced with --force). The error is one line naming the file.
    pub(super) fn create(&self, target: &FleetTarget) -> Result<TargetRecording, String> {
        let path = self.dir.join(file_name(target));
        let file = RecordFile::create(&path, self.force).map_err(|e| format!("--record: {e}"))?;
        Ok(TargetRecording {
            file,
            shown: popscope_core::sanitize::display(path.as_os_str().as_encoded_bytes(), 4096),
        })
    }

    /// The watchers of the target's walk: every connection recorded into its file.
    pub(super) fn watchers(&self, recording: &TargetRecording) -> Watchers {
        Watchers {
            show: None,
            record: Some(recording.file.clone()),
            record_secrets: self.keep_secrets,
            max_body: self.max_body,
        }
    }
}

/// The target's check with what became of its recording, once the file is synced: the file's
/// path in its JSON object (`recording`), and each trouble (a file that could not be made, a
/// write that failed, a full disk) in its `notes`, or in its error when it has no report. The
/// run goes on; the target exits 2 at least, as `check URL --record FILE` would: a recording
/// that silently stops short is worse than none. With `say` (the target, when the output is
/// text lines, which show no notes) each trouble is also one line on stderr.
pub(super) fn finish(
    mut check: TargetCheck,
    recording: Option<&TargetRecording>,
    mut troubles: Vec<String>,
    say: Option<&str>,
) -> TargetCheck {
    if let Some(Err(e)) = recording.map(|r| r.file.finish()) {
        troubles.push(format!("--record: {e}"));
    }
    if let Some(target) = say {
        for t in &troubles {
            eprintln!("popscope: {target}: {t}");
        }
    }
    check.recording = recording.map(|r| r.shown.clone());
    if let Some(serde_json::Value::Object(report)) = check.report.as_mut() {
        if !troubles.is_empty() {
            let notes = report
                .entry("notes")
                .or_insert_with(|| serde_json::json!([]));
            if !notes.is_array() {
                *notes = serde_json::json!([]);
            }
            if let Some(notes) = notes.as_array_mut() {
                notes.extend(troubles.iter().map(|t| serde_json::json!(t)));
            }
        }
    } else if let Some(e) = check.error.as_mut()
        && !troubles.is_empty()
    {
        e.message = format!("{}; and {}", e.message, troubles.join("; "));
    }
    if !troubles.is_empty() {
        check.exit = check.exit.max(exit::USAGE);
    }
    check
}

/// `LINE-HOST-PORT-SCHEME.jsonl`: only ASCII letters, digits, `-`, `_` and single dots (no
/// `/`, no control, no `..`), the host cut to [`MAX_HOST`]; the line number, first, makes it
/// unique within the run and keeps it from starting with a dot or a dash. A bare host is
/// `host` (every transport), at its plain port.
pub(super) fn file_name(target: &FleetTarget) -> String {
    let t = &target.target;
    let (scheme, label) = match t.scheme {
        Some(Scheme::Pop3) if target.starttls => (Scheme::Pop3, "pop3-starttls"),
        Some(Scheme::Pop3) => (Scheme::Pop3, "pop3"),
        Some(Scheme::Pop3s) => (Scheme::Pop3s, "pop3s"),
        None => (Scheme::Pop3, "host"),
    };
    let port = t.port.unwrap_or_else(|| scheme.default_port());
    format!(
        "{}-{}-{port}-{label}.jsonl",
        target.line,
        safe_host(&t.host)
    )
}

/// The host as a piece of a file name: anything but `[A-Za-z0-9._-]` becomes `_` (an IPv6
/// literal's colons, a stray character), a run of dots one dot.
fn safe_host(host: &str) -> String {
    let mut out = String::with_capacity(host.len().min(MAX_HOST));
    for c in host.chars() {
        if out.len() >= MAX_HOST {
            break;
        }
        let c = if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
            c
        } else {
            '_'
        };
        if !(c == '.' && out.ends_with('.')) {
            out.push(c);
        }
    }
    if out.is_empty() {
        out.push('_');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::Target;

    fn target(line: usize, url: &str, starttls: bool) -> FleetTarget {
        FleetTarget {
            line,
            shown: url.to_owned(),
            target: Target::parse(url).unwrap(),
            starttls,
            sni: None,
            user: None,
        }
    }

    fn checked(report: Option<serde_json::Value>) -> TargetCheck {
        TargetCheck {
            error: report.is_none().then(|| crate::report::fleet::TargetError {
                exit: exit::CONNECT,
                message: "connection refused".into(),
            }),
            exit: if report.is_some() { 1 } else { exit::CONNECT },
            recording: None,
            report,
        }
    }

    /// A recording on a full disk: every write fails.
    fn full_disk() -> TargetRecording {
        let file = RecordFile::create(Path::new("/dev/full"), true).unwrap();
        let _header = file.recorder_with("pop3://x", false, None);
        TargetRecording {
            file,
            shown: "/dev/full".into(),
        }
    }

    #[test]
    fn a_recording_that_stopped_short_is_in_the_targets_notes_and_exit() {
        let report = serde_json::json!({ "summary": {}, "notes": ["earlier"] });
        let done = finish(checked(Some(report)), Some(&full_disk()), Vec::new(), None);
        let notes = done.report.as_ref().unwrap()["notes"].to_string();
        assert!(
            notes.contains("earlier") && notes.contains("incomplete"),
            "{notes}"
        );
        assert_eq!(done.recording.as_deref(), Some("/dev/full"));
        assert_eq!(done.exit, exit::USAGE);
        assert!(done.error.is_none(), "the check itself reported");
        // A host's report has no notes of its own: they are added.
        let host = serde_json::json!({ "transports": [] });
        let done = finish(checked(Some(host)), Some(&full_disk()), Vec::new(), None);
        assert!(
            done.report.unwrap()["notes"][0]
                .as_str()
                .unwrap()
                .contains("--record")
        );
        // No report: the error says it, and keeps its own exit code.
        let done = finish(checked(None), Some(&full_disk()), Vec::new(), None);
        assert_eq!(done.recording.as_deref(), Some("/dev/full"));
        let e = done.error.unwrap();
        assert!(
            e.message.starts_with("connection refused; and --record: "),
            "{}",
            e.message
        );
        assert_eq!(done.exit, exit::CONNECT);
    }

    #[test]
    fn a_recording_that_went_well_changes_nothing_but_its_path() {
        let file = RecordFile::create(Path::new("/dev/null"), true).unwrap();
        let _header = file.recorder_with("pop3://x", false, None);
        let ok = TargetRecording {
            file,
            shown: "/dev/null".into(),
        };
        let report = serde_json::json!({ "summary": {}, "notes": [] });
        let done = finish(checked(Some(report)), Some(&ok), Vec::new(), None);
        assert_eq!(done.exit, 1);
        let report = done.report.unwrap();
        assert_eq!(report["notes"], serde_json::json!([]));
        assert_eq!(done.recording.as_deref(), Some("/dev/null"));
        // No --record: nothing added at all.
        let done = finish(checked(Some(serde_json::json!({}))), None, Vec::new(), None);
        assert!(done.recording.is_none());
        assert_eq!(done.report.unwrap(), serde_json::json!({}));
    }

    #[test]
    fn a_file_name_says_the_line_host_port_and_scheme() {
        assert_eq!(
            file_name(&target(3, "pop3s://mail.example.org", false)),
            "3-mail.example.org-995-pop3s.jsonl"
        );
        assert_eq!(
            file_name(&target(7, "pop3://h:1110", true)),
            "7-h-1110-pop3-starttls.jsonl"
        );
        assert_eq!(
            file_name(&target(9, "mail.example.org", false)),
            "9-mail.example.org-110-host.jsonl"
        );
    }

    #[test]
    fn a_hostile_host_makes_a_safe_bounded_name() {
        let v6 = file_name(&target(12, "pop3://[::1]:2110", false));
        assert_eq!(v6, "12-__1-2110-pop3.jsonl");
        for host in ["../../etc/passwd", "a..b", "..", "h\u{1b}[31m", "é/\u{0}x"] {
            let s = safe_host(host);
            assert!(!s.contains(".."), "{host:?}: {s}");
            assert!(
                s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)),
                "{host:?}: {s}"
            );
        }
        let long = "a".repeat(1000);
        assert_eq!(safe_host(&long).len(), MAX_HOST);
        assert_eq!(safe_host(""), "_");
    }
}
