//! Command-line interface: argument types and one runner per subcommand.

pub mod check;
pub mod rules;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Exit codes, the same for every subcommand.
pub mod exit {
    /// Done; no violation found.
    pub const OK: u8 = 0;
    /// At least one violation was found.
    pub const VIOLATIONS: u8 = 1;
    /// Bad usage or unreadable input.
    pub const USAGE: u8 = 2;
}

/// A failure to report to the user in one line, with its exit code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    pub fn usage(message: impl Into<String>) -> Self {
        CliError {
            code: exit::USAGE,
            message: message.into(),
        }
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "popscope",
    version,
    about = "An interactive POP3 session debugger and conformance checker"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a recorded session against the RFC rules.
    Check(CheckArgs),
    /// List the rules popscope checks.
    Rules(RulesArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// A transcript to re-check offline (the text format: C:/S: lines, -- events).
    #[arg(long, value_name = "FILE")]
    pub transcript: PathBuf,
    /// Print one JSON object instead of the readable report.
    #[arg(long)]
    pub json: bool,
    /// Change a rule's severity, e.g. MSG-006=violation (repeatable).
    #[arg(long = "severity", value_name = "RULE=LEVEL")]
    pub severity: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Print the catalog as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Parses `RULE=LEVEL` overrides into the engine's form.
pub fn severity_overrides(
    items: &[String],
) -> Result<Vec<(&'static str, crate::protocol::Severity)>, CliError> {
    items
        .iter()
        .map(|item| {
            let (id, level) = item.split_once('=').ok_or_else(|| {
                CliError::usage(format!(
                    "--severity '{item}': expected RULE=LEVEL, e.g. MSG-006=violation"
                ))
            })?;
            let rule = crate::protocol::rules::find(id.trim()).ok_or_else(|| {
                CliError::usage(format!(
                    "--severity '{item}': no rule '{id}' (see `popscope rules`)"
                ))
            })?;
            let sev = crate::protocol::Severity::parse(level.trim()).ok_or_else(|| {
                CliError::usage(format!(
                    "--severity '{item}': level must be violation, warning or info"
                ))
            })?;
            Ok((rule.id, sev))
        })
        .collect()
}
