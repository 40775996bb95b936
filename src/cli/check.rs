//! `popscope check --transcript FILE`: re-check a recorded session offline.

use std::io::Write;

use crate::protocol::Config;
use crate::report;
use crate::transcript::{replay, text};

use super::{CheckArgs, CliError, exit, severity_overrides};

pub fn run(args: &CheckArgs) -> Result<u8, CliError> {
    let overrides = severity_overrides(&args.severity)?;
    let path = args.transcript.display().to_string();
    let bytes = std::fs::read(&args.transcript)
        .map_err(|e| CliError::usage(format!("cannot read transcript {path}: {e}")))?;
    let entries = text::parse(&bytes).map_err(|e| CliError::usage(format!("{path}: {e}")))?;
    let config = Config {
        severity_overrides: overrides,
        ..Config::default()
    };
    let replayed = replay(&entries, config);
    let rendered = if args.json {
        let mut s = serde_json::to_string_pretty(&report::transcript_json(&path, &replayed))
            .map_err(|e| CliError::usage(format!("cannot render JSON: {e}")))?;
        s.push('\n');
        s
    } else {
        report::transcript_text(&path, &replayed, &bytes)
    };
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (e.g. `| head`) is not an error worth a message.
    let _ = stdout.write_all(rendered.as_bytes());
    let violations = replayed
        .findings
        .iter()
        .any(|f| f.finding.severity == crate::protocol::Severity::Violation);
    Ok(if violations {
        exit::VIOLATIONS
    } else {
        exit::OK
    })
}
