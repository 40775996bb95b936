//! Command-line interface: argument types and one runner per subcommand.

pub mod check;
pub mod compare;
pub mod config;
pub mod connect;
pub mod convert;
pub mod interactive;
pub mod man;
pub(crate) mod numbers;
pub mod printer;
pub mod proxy;
pub mod rules;
pub mod send;
pub mod serve;
pub(crate) mod token;
mod values;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use connect::ConnArgs;

pub use crate::exit;

/// A failure to report to the user in one line, with its exit code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CliError {
    pub code: u8,
    pub(crate) message: String,
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
    about = "An interactive POP3 session debugger and conformance checker",
    long_about = "An interactive POP3 session debugger and conformance checker.\n\n`popscope URL` opens the terminal UI on a server; the subcommands work headless.",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Open the terminal UI on this server: pop3://host[:port] or pop3s://host[:port].
    pub url: Option<String>,
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub ui: UiArgs,
}

#[derive(Clone, Debug, Default, Args)]
pub struct UiArgs {
    /// Colour theme: dark, light, high-contrast, or a .toml file (default: the config file's
    /// `theme`, else dark). NO_COLOR turns colours off.
    #[arg(long, value_name = "NAME|FILE")]
    pub(crate) theme: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the built-in POP3 server on loopback and run a session against it.
    Demo(DemoArgs),
    /// Check a server (URL or host) or a recorded session against the RFC rules.
    Check(CheckArgs),
    /// Send commands to a server and print the session with findings.
    Send(SendArgs),
    /// Run the built-in POP3 server on loopback (conformant, or with a quirk).
    Serve(ServeArgs),
    /// Relay mail clients to a server and judge both sides of each session.
    Proxy(ProxyArgs),
    /// Open a recorded session (JSON Lines or the text format) in the UI, step by step.
    Replay(ReplayArgs),
    /// Turn a curl log, an openssl s_client log or a pcap/pcapng capture into a transcript.
    Import(ImportArgs),
    /// Turn a recording into the text format or an evidence bundle for a bug report.
    Export(ExportArgs),
    /// List the rules popscope checks.
    Rules(RulesArgs),
    /// Print shell completions (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell to print completions for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or write one page per subcommand with --dir.
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Print this subcommand's page (popscope-NAME(1)) instead of popscope(1).
    #[arg(value_name = "SUBCOMMAND", conflicts_with = "dir")]
    pub(crate) subcommand: Option<String>,
    /// Write popscope.1 and one popscope-NAME.1 per subcommand into DIR (created 0700; the
    /// pages 0600 like every file popscope writes: install them with `install -m 644`).
    #[arg(long, value_name = "DIR")]
    pub(crate) dir: Option<PathBuf>,
    /// With --dir: replace pages that exist.
    #[arg(long, requires = "dir")]
    pub(crate) force: bool,
}

// Clone: a fleet run's checks each build their options from it, on tasks of their own.
#[derive(Clone, Debug, Args)]
pub struct CheckArgs {
    /// pop3://host[:port], pop3s://host[:port], or a bare host to check every transport it offers.
    #[arg(required_unless_present_any = ["transcript", "targets"], conflicts_with = "transcript")]
    pub(crate) url: Option<String>,
    /// Check a fleet: the targets of FILE (`-` reads standard input), one a line: a URL or a
    /// bare host, optionally followed by --starttls, --sni NAME, --user NAME; `# comments`;
    /// or nmap's greppable output (-oG), each open POP3 port a target. Logins come from
    /// --credentials FILE, never from the target file or the command line. With --record DIR,
    /// one recording per target in DIR (created 0700), named LINE-HOST-PORT-SCHEME.jsonl.
    #[arg(long, value_name = "FILE", conflicts_with_all = [
        "url", "transcript", "show_sessions", "starttls", "sni", "user", "password_env",
        "password_file", "token_env", "token_file", "token_command",
    ])]
    pub(crate) targets: Option<PathBuf>,
    /// With --targets: check only every N-th target starting at the K-th (1 <= K <= N), so
    /// that N machines split a list; the shards' --json output concatenates into one.
    #[arg(long, value_name = "K/N", requires = "targets", value_parser = crate::fleet::targets::Shard::parse)]
    pub(crate) shard: Option<crate::fleet::targets::Shard>,
    /// With --targets: checks at once (default: 4 per core, at most 64).
    #[arg(long, value_name = "N", requires = "targets", allow_hyphen_values = true,
          value_parser = numbers::in_range(1usize, 1024, "checks"))]
    pub(crate) jobs: Option<usize>,
    /// With --targets: checks at once of one host (by its name in the file).
    #[arg(long, value_name = "N", requires = "targets", default_value_t = 2, allow_hyphen_values = true,
          value_parser = numbers::in_range(1usize, 1024, "checks"))]
    pub(crate) per_host: usize,
    /// With --targets: seconds one target's check may take; past it the target is an error
    /// (exit 3) and its connections are dropped.
    #[arg(long, value_name = "SECONDS", requires = "targets", default_value_t = 120.0, allow_hyphen_values = true,
          value_parser = numbers::in_range(0.1f64, 86400.0, "seconds"))]
    pub(crate) target_timeout: f64,
    /// With --targets: who logs in where, one `PATTERN user NAME password-env VAR |
    /// token-env VAR | token-command CMD` a line (PATTERN a host, `*` for any run of
    /// characters; the first match wins); the file must be mode 0600 and not a symbolic link.
    #[arg(long, value_name = "FILE", requires = "targets")]
    pub(crate) credentials: Option<PathBuf>,
    /// With --targets: also write a JUnit XML report (a testsuite per target, a testcase per
    /// rule; violations are failures, unreachable targets errors), 0600, for CI dashboards.
    /// An existing file is refused unless --force.
    #[arg(long, value_name = "FILE", requires = "targets")]
    pub(crate) junit: Option<PathBuf>,
    /// With --targets: show the targets as a live table on the terminal (status, findings,
    /// transports, TLS, time; sortable), any one opened as its sessions are; it stays when
    /// the run ends, until q. The exit code is the run's, as without it.
    #[arg(long, requires = "targets", conflicts_with_all = ["json", "nagios"])]
    pub(crate) tui: bool,
    /// Re-check a recorded session offline instead: JSON Lines from --record, or the text
    /// format (C:/S: lines, -- events); `-` reads standard input.
    #[arg(long, value_name = "FILE")]
    pub(crate) transcript: Option<PathBuf>,
    /// Print one JSON object instead of the readable report.
    #[arg(long)]
    pub(crate) json: bool,
    /// Change a rule's severity, e.g. MSG-006=violation (repeatable).
    #[arg(long = "severity", value_name = "RULE=LEVEL")]
    pub(crate) severity: Vec<String>,
    /// Only watch the walk; send no active probe.
    #[arg(long)]
    pub(crate) passive: bool,
    /// Retrieve no message in the walk (TOP n 0 instead of RETR n).
    #[arg(long)]
    pub(crate) no_retr: bool,
    /// Allow DELE in the walk (undone by RSET; if RSET fails, the connection is closed without
    /// QUIT, so nothing is deleted).
    #[arg(long)]
    pub(crate) allow_delete: bool,
    /// For a bare host: log in on the plain leg too, although the host offers STLS or implicit
    /// TLS (the password goes in the clear); for a pop3:// URL: no warning before it does.
    #[arg(long)]
    pub(crate) allow_plaintext_login: bool,
    /// Also print every session of the walk as a transcript.
    #[arg(long)]
    pub(crate) show_sessions: bool,
    /// For a bare host: the implicit-TLS port (default 995).
    #[arg(long, value_name = "PORT", value_parser = numbers::port(), allow_hyphen_values = true)]
    pub(crate) tls_port: Option<u16>,
    /// Seconds probe P8 waits for replies to injected plaintext (0 to 60).
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0, allow_hyphen_values = true,
          value_parser = numbers::in_range(0.0f64, 60.0, "seconds"))]
    pub(crate) injection_wait: f64,
    /// Be a monitoring plugin (Nagios, Icinga): one status line with performance data, exit
    /// 0/1/2/3 = OK/WARNING/CRITICAL/UNKNOWN.
    #[arg(long, conflicts_with_all = ["json", "transcript", "show_sessions"])]
    pub(crate) nagios: bool,
    /// With --nagios: WARNING when the server certificate ends within DAYS.
    #[arg(long, value_name = "DAYS", default_value_t = 30, requires = "nagios")]
    pub(crate) warn_days: u32,
    /// With --nagios: CRITICAL when the server certificate ends within DAYS.
    #[arg(long, value_name = "DAYS", default_value_t = 7, requires = "nagios")]
    pub(crate) crit_days: u32,
    #[command(flatten)]
    pub(crate) conn: ConnArgs,
}

#[derive(Debug, Args)]
pub struct SendArgs {
    /// pop3://host[:port] or pop3s://host[:port].
    pub url: String,
    /// Commands to send in order (each one argument: "RETR 1").
    pub(crate) commands: Vec<String>,
    /// Read the commands from a file, one per line (# starts a comment).
    #[arg(long, value_name = "FILE")]
    pub(crate) script: Option<PathBuf>,
    /// Do not send QUIT at the end.
    #[arg(long)]
    pub(crate) no_quit: bool,
    /// Print one JSON object with the findings after the session.
    #[arg(long)]
    pub(crate) json: bool,
    /// Change a rule's severity, e.g. MSG-006=violation (repeatable).
    #[arg(long = "severity", value_name = "RULE=LEVEL")]
    pub(crate) severity: Vec<String>,
    #[command(flatten)]
    pub(crate) conn: ConnArgs,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Port on 127.0.0.1 and ::1 (0 picks a free one).
    #[arg(long, default_value_t = 1110, allow_hyphen_values = true,
          value_parser = numbers::in_range(0u16, u16::MAX, ""))]
    pub(crate) port: u16,
    /// How the port speaks.
    #[arg(long, value_enum, default_value_t = crate::server::TlsMode::Starttls)]
    pub(crate) tls: crate::server::TlsMode,
    /// Misbehave in one documented way: a server quirk, or a client case (CASE, or
    /// CASE=SECONDS for slow-replies and login-delay) that makes the conformant server
    /// misbehave toward the client to test it (see --list-quirks).
    #[arg(long, value_name = "NAME", value_parser = QuirkOrCase, hide_possible_values = true)]
    pub(crate) quirk: Option<String>,
    /// List the quirk profiles and the rules they break, then the client cases.
    #[arg(long)]
    pub(crate) list_quirks: bool,
    /// Write the sample maildrop as a Maildir into DIR (for another server, e.g. Dovecot) and exit.
    #[arg(long, value_name = "DIR")]
    pub(crate) write_maildir: Option<PathBuf>,
    /// Write a fresh CA, a server certificate for localhost/127.0.0.1/::1 and a client
    /// certificate (CN=demo), with their keys, into DIR and exit.
    #[arg(long, value_name = "DIR")]
    pub(crate) write_certs: Option<PathBuf>,
    /// With --write-certs or --write-maildir: replace files already there (a symbolic link is
    /// still refused).
    #[arg(long)]
    pub(crate) force: bool,
    /// Judge every client that connects by the client rules (CL-*): a report per connection
    /// when it ends, one line per finding.
    #[arg(long)]
    pub(crate) check_client: bool,
    /// With --check-client: serve one connection, then exit 1 when the client broke a rule at
    /// violation severity, 0 otherwise.
    #[arg(long, requires = "check_client")]
    pub(crate) once: bool,
    /// With --check-client: one JSON object per connection on stdout (the banner goes to stderr).
    #[arg(long, requires = "check_client")]
    pub(crate) json: bool,
    /// With --check-client: seconds a client may be silent on its turn, or leave the answers
    /// unread, before the server ends its connection (and says so in its report) [default:
    /// 600, RFC 1939's autologout].
    #[arg(long, value_name = "SECONDS", requires = "check_client",
          value_parser = numbers::timeout_seconds())]
    pub(crate) timeout: Option<u64>,
}

#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// Where mail clients connect: pop3://host[:port] (plain TCP, STLS with --offer-stls;
    /// port 1110 by default) or pop3s://host[:port] (TLS from the first byte; port 1995 by
    /// default); port 0 picks a free one. TLS toward clients shows --cert/--key, or a
    /// certificate of popscope's own CA (made once, kept; its path printed). Anything but
    /// loopback gets a warning.
    #[arg(long, value_name = "URL")]
    pub(crate) listen: String,
    /// The real server: pop3://host[:port] (upgraded by STLS with --upstream-starttls) or
    /// pop3s://host[:port].
    #[arg(long, value_name = "URL")]
    pub(crate) upstream: String,
    /// No connections view: print a report per connection as it ends (so without a terminal).
    #[arg(long)]
    pub(crate) headless: bool,
    /// One JSON object per connection, one per line.
    #[arg(long)]
    pub(crate) json: bool,
    /// Make the healthy upstream misbehave toward the client in one of the client-testing
    /// ways (CASE, or CASE=SECONDS for slow-replies and login-delay; `serve --list-quirks`
    /// lists them under "Client cases"): the engine judges what the client saw.
    #[arg(long, value_name = "CASE", value_parser = InjectCase, hide_possible_values = true)]
    pub(crate) inject: Option<popscope_core::inject::Fault>,
    #[command(flatten)]
    pub(crate) client_leg: proxy::ClientLegArgs,
    #[command(flatten)]
    pub(crate) conn: proxy::UpstreamArgs,
    #[command(flatten)]
    pub(crate) ui: UiArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ImportFormat {
    /// `curl -v` or `curl --trace-ascii` output.
    Curl,
    /// An `openssl s_client` terminal log.
    Openssl,
    /// A pcap or pcapng capture (plaintext POP3 only).
    Pcap,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The log or capture to import.
    pub file: PathBuf,
    /// What made FILE: curl (-v or --trace-ascii), openssl (s_client) or pcap (pcap/pcapng).
    #[arg(long, value_enum)]
    pub(crate) from: ImportFormat,
    /// For captures: the server's TCP port (default 110).
    #[arg(long, value_parser = numbers::port(), allow_hyphen_values = true)]
    pub(crate) port: Option<u16>,
    /// Write the transcript to this new file (0600) instead of to stdout.
    #[arg(short, long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// With -o: replace FILE if it exists.
    #[arg(long)]
    pub(crate) force: bool,
    /// Keep passwords, APOP digests and SASL responses in clear (masked by default).
    #[arg(long)]
    pub(crate) keep_secrets: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ExportFormat {
    /// The text format of `check --transcript` (C:/S: lines).
    Text,
    /// One Markdown file for a bug report: findings, TLS and certificates, capabilities,
    /// the transcript with exchange numbers and secrets always redacted, popscope's version.
    Bundle,
    /// The recording as format 1, pure JSON Lines (every octet in a JSON string), for tools
    /// such as jq; every record is kept.
    Jsonl,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// A JSON Lines recording.
    pub file: PathBuf,
    /// The text format, a Markdown evidence bundle for a bug report, or JSON Lines (format 1).
    #[arg(long, value_enum, default_value_t = ExportFormat::Text)]
    pub(crate) to: ExportFormat,
    /// Export only this session of a file that holds several (from 1; default: all).
    #[arg(long, value_name = "N", value_parser = numbers::session(), allow_hyphen_values = true)]
    pub(crate) session: Option<usize>,
    /// Write the export to this new file (0600) instead of to stdout.
    #[arg(short, long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// With -o: replace FILE if it exists.
    #[arg(long)]
    pub(crate) force: bool,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The recording: JSON Lines from --record, or the text format.
    pub file: PathBuf,
    /// Which session of a file that holds several (from 1).
    #[arg(long, default_value_t = 1, value_parser = numbers::session(), allow_hyphen_values = true)]
    pub(crate) session: usize,
    /// Print the report instead of opening the UI (automatic without a terminal).
    #[arg(long)]
    pub(crate) headless: bool,
    /// Send the recorded commands to this server and compare its replies with the recorded
    /// ones (log in with --user and a password given anew; never from the recording).
    #[arg(long, value_name = "URL")]
    pub(crate) against: Option<String>,
    /// With --against: also replay DELE (each one is undone by RSET before QUIT).
    #[arg(long, requires = "against")]
    pub(crate) allow_delete: bool,
    #[command(flatten)]
    pub(crate) ui: UiArgs,
    #[command(flatten)]
    pub(crate) conn: ConnArgs,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Run the demo server with this quirk (see `popscope serve --list-quirks`).
    #[arg(long, value_name = "NAME", value_parser = quirk_names(), hide_possible_values = true)]
    pub(crate) quirk: Option<String>,
    /// Walk a session and print it instead of opening the UI (automatic without a terminal).
    #[arg(long)]
    pub(crate) headless: bool,
    #[command(flatten)]
    pub(crate) ui: UiArgs,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Show only this rule (its ID in any case, e.g. OAUTH-003), with what provokes it.
    #[arg(value_name = "RULE")]
    pub(crate) rule: Option<String>,
    /// Print the catalog (or the one rule) as JSON.
    #[arg(long)]
    pub(crate) json: bool,
    /// Only the rules that judge this side: the server's, or the client's (CL-*).
    #[arg(long, value_enum)]
    pub(crate) side: Option<rules::Side>,
}

/// Parses `RULE=LEVEL` overrides into the engine's form.
pub(crate) fn severity_overrides(
    items: &[String],
) -> Result<Vec<(&'static str, popscope_core::Severity)>, CliError> {
    items
        .iter()
        .map(|item| {
            let (id, level) = item.split_once('=').ok_or_else(|| {
                CliError::usage(format!(
                    "--severity '{item}': expected RULE=LEVEL, e.g. MSG-006=violation"
                ))
            })?;
            let rule = popscope_core::rules::find(id.trim()).ok_or_else(|| {
                CliError::usage(format!(
                    "--severity '{item}': no rule '{id}' (see `popscope rules`)"
                ))
            })?;
            let sev = popscope_core::Severity::parse(level.trim()).ok_or_else(|| {
                CliError::usage(format!(
                    "--severity '{item}': level must be violation, warning or info"
                ))
            })?;
            Ok((rule.id, sev))
        })
        .collect()
}

/// The quirk names as clap's possible values (shell completion offers them, not file names).
fn quirk_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(
        popscope_core::server::Quirk::ALL
            .map(|q| clap::builder::PossibleValue::new(q.name()).help(q.description())),
    )
}

/// `serve --quirk`: a server quirk or a client case, `CASE=SECONDS` too; shell completion
/// offers the names of both.
#[derive(Clone, Copy, Debug)]
struct QuirkOrCase;

impl clap::builder::TypedValueParser for QuirkOrCase {
    type Value = String;

    fn parse_ref(
        &self,
        _cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        let invalid = |why: String| {
            let shown = value.to_string_lossy();
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("invalid value '{shown}' for '--quirk <NAME>': {why}\n"),
            )
        };
        let name = value.to_str().ok_or_else(|| invalid("not UTF-8".into()))?;
        quirk_or_case(name).map_err(invalid)
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        let quirks = popscope_core::server::Quirk::ALL
            .map(|q| clap::builder::PossibleValue::new(q.name()).help(q.description()));
        let cases = popscope_core::inject::CASES
            .iter()
            .filter(|c| popscope_core::server::Quirk::parse(c.name).is_none())
            .map(|c| clap::builder::PossibleValue::new(c.name).help(c.served));
        Some(Box::new(quirks.into_iter().chain(cases)))
    }
}

/// `proxy --inject`: a client case, `CASE=SECONDS` too; shell completion offers the names.
#[derive(Clone, Copy, Debug)]
struct InjectCase;

impl clap::builder::TypedValueParser for InjectCase {
    type Value = popscope_core::inject::Fault;

    fn parse_ref(
        &self,
        _cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Self::Value, clap::Error> {
        let shown = value.to_string_lossy();
        popscope_core::inject::Fault::parse(&shown).map_err(|why| {
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("invalid value '{shown}' for '--inject <CASE>': {why}\n"),
            )
        })
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(popscope_core::inject::CASES.iter().map(|c| {
            clap::builder::PossibleValue::new(c.name).help(c.served)
        })))
    }
}

/// A server quirk's name, or a client case (its number too).
fn quirk_or_case(name: &str) -> Result<String, String> {
    if popscope_core::server::Quirk::parse(name).is_some() {
        return Ok(name.to_owned());
    }
    popscope_core::inject::Fault::parse(name)
        .map(|_| name.to_owned())
        .map_err(|e| {
            if name.contains('=') {
                return e;
            }
            let quirks: Vec<&str> = popscope_core::server::Quirk::ALL
                .iter()
                .map(|q| q.name())
                .collect();
            format!("{e}; or a server quirk: {}", quirks.join(", "))
        })
}

/// Parses a quirk name, with the list in the error.
pub(crate) fn quirk(name: Option<&str>) -> Result<Option<popscope_core::server::Quirk>, CliError> {
    let Some(name) = name else { return Ok(None) };
    popscope_core::server::Quirk::parse(name)
        .map(Some)
        .ok_or_else(|| {
            let names: Vec<&str> = popscope_core::server::Quirk::ALL
                .iter()
                .map(|q| q.name())
                .collect();
            CliError::usage(format!(
                "unknown quirk '{name}' (one of: {})",
                names.join(", ")
            ))
        })
}

/// clap's rendered error as one line: the lines before its usage block, joined, without the
/// `error:` prefix.
pub fn one_line_usage_error(rendered: &str) -> String {
    rendered
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty())
        .map(|l| l.strip_prefix("error: ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A runtime for the async subcommands.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::usage(format!("cannot start the async runtime: {e}")))
}
