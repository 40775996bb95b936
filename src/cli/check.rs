//! `popscope check`: a recorded session offline, or a live server (one URL, or every transport
//! of a bare host). The check itself is [`crate::check`]; this maps the arguments to its
//! options and prints its result through [`crate::report`].

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::check::{self, CheckError, CheckOptions, Checked, PlaintextLogin, Watch};
use crate::report::{self, LiveRun};
use crate::session::Observer;
use crate::transport::Target;
use popscope_core::{Config, Tally};

use super::connect::{RecordFile, transport_error};
use super::printer::{Printer, Shared};
use super::{CheckArgs, CliError, exit, severity_overrides};

mod credentials;
mod fleet;
mod record;

pub fn run(args: &CheckArgs) -> Result<u8, CliError> {
    args.conn
        .force_needs("--record or --junit", args.junit.is_some())?;
    if let Some(file) = &args.targets {
        return fleet::run(args, file);
    }
    match (&args.transcript, &args.url) {
        (Some(_), _) => run_transcript(args),
        (None, Some(url)) if args.nagios => Ok(nagios::run(args, url)),
        (None, Some(url)) => run_live(args, url),
        (None, None) => Err(CliError::usage("give a URL, a host, or --transcript FILE")),
    }
}

fn print(s: &str) {
    // A closed pipe (e.g. `| head`) is not an error worth a message.
    let _ = std::io::stdout().lock().write_all(s.as_bytes());
}

fn run_transcript(args: &CheckArgs) -> Result<u8, CliError> {
    let overrides = severity_overrides(&args.severity)?;
    let Some(file) = &args.transcript else {
        return Err(CliError::usage("--transcript needs a file"));
    };
    let config = Config {
        severity_overrides: overrides,
        ..Config::default()
    };
    // Every session of the file, re-checked as it is read (bounded memory).
    super::convert::recheck(file, &config, None, args.json)
}

/// Where the walk's sessions are printed as transcripts.
pub(crate) type SharedOut = Arc<Mutex<Box<dyn Write + Send>>>;

/// The CLI's watchers of a walk's connections: each printed as a transcript
/// (`--show-sessions`, the demo) and recorded (`--record`).
pub(crate) struct Watchers {
    pub(crate) show: Option<SharedOut>,
    pub(crate) record: Option<RecordFile>,
    pub(crate) record_secrets: bool,
    pub(crate) max_body: Option<u64>,
}

impl Watch for Watchers {
    fn observers(&self, index: usize, label: &str, url: &str) -> Vec<Box<dyn Observer>> {
        let mut observers: Vec<Box<dyn Observer>> = Vec::new();
        if let Some(out) = &self.show {
            let out = Box::new(SharedWriter(out.clone()));
            // The walk gathers the findings itself: the printer's are not read.
            observers.push(Box::new(Printer::new(
                Some(out),
                index,
                label,
                Shared::default(),
            )));
        }
        if let Some(rec) = &self.record {
            observers.push(rec.recorder_with(
                &format!("{url} ({label})"),
                self.record_secrets,
                self.max_body,
            ));
        }
        observers
    }
}

struct SharedWriter(SharedOut);

impl Write for SharedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .flush()
    }
}

fn run_live(args: &CheckArgs, url: &str) -> Result<u8, CliError> {
    let (checked, record) = walk_live(args, url)?;
    print_report(args, &checked)?;
    super::connect::finish_record(record.as_ref(), exit_code(&checked))
}

/// Walks one URL, or every transport of a bare host, as the command line asks.
fn walk_live(args: &CheckArgs, url: &str) -> Result<(Checked, Option<RecordFile>), CliError> {
    let target = Target::parse(url).map_err(CliError::usage)?;
    let creds = args.conn.credentials()?;
    let record = args.conn.record_file()?;
    let watchers = Watchers {
        show: args.show_sessions.then(|| {
            Arc::new(Mutex::new(
                Box::new(std::io::stdout()) as Box<dyn Write + Send>
            ))
        }),
        record: record.clone(),
        record_secrets: args.conn.record_secrets,
        max_body: args.conn.max_body,
    };
    let opts = live_options(args, &args.conn, &target, creds, Some(Arc::new(watchers)))?;
    let rt = super::runtime()?;
    let checked = rt
        .block_on(check::transports::run(&target, opts))
        .map_err(check_error)?;
    Ok((checked, record))
}

/// The options of the check of `target` (one URL or every transport of a host) with these
/// arguments and connection options (the command line's, or a fleet target's).
fn live_options(
    args: &CheckArgs,
    conn: &super::ConnArgs,
    target: &Target,
    creds: Option<crate::session::login::Credentials>,
    watch: Option<Arc<dyn Watch>>,
) -> Result<CheckOptions, CliError> {
    let engine = Config {
        severity_overrides: severity_overrides(&args.severity)?,
        ..Config::default()
    };
    let scheme = target.scheme.unwrap_or(crate::transport::Scheme::Pop3);
    let walk = check::WalkOptions {
        passive: args.passive,
        no_retr: args.no_retr,
        allow_delete: args.allow_delete,
        injection_wait: Duration::from_secs_f64(args.injection_wait.clamp(0.0, 60.0)),
        watch,
        ..conn.walk(target, scheme, engine, creds)
    };
    Ok(CheckOptions {
        walk,
        tls_port: args.tls_port.unwrap_or(995),
        allow_plaintext_login: args.allow_plaintext_login,
        // A URL without --starttls is the user's choice (said aloud when STLS was on offer); a
        // bare host is walked on transports popscope picked, so its plain leg keeps the password.
        explicit_login: if args.allow_plaintext_login {
            PlaintextLogin::Allow
        } else {
            // A fleet's warnings go into each target's JSON `notes`: stderr would mix them.
            PlaintextLogin::Warn {
                stderr: !args.json && args.targets.is_none(),
            }
        },
    })
}

/// Why a check had nothing to report, as `check` exits with it.
fn check_error(e: CheckError) -> CliError {
    match e {
        CheckError::Transport(e) => transport_error(e),
        e @ CheckError::NoTransport { .. } => CliError {
            code: exit::CONNECT,
            message: e.to_string(),
        },
    }
}

/// The exit code of a check that reported: its failure's, or the verdict of its findings and
/// login.
fn exit_code(checked: &Checked) -> Result<u8, CliError> {
    if let Some(f) = failure(checked) {
        return Err(f);
    }
    let all = checked
        .walked()
        .fold(Tally::default(), |t, (_, r)| t.and(&r.tally()));
    Ok(exit::verdict(&all).max(exit::login(
        checked.walked().any(|(_, r)| r.login_refused()),
    )))
}

fn print_report(args: &CheckArgs, checked: &Checked) -> Result<(), CliError> {
    if !args.json {
        print(&report::live_text(&live_runs(checked), &checked.comparison));
        return Ok(());
    }
    let value = json_report(checked);
    let s = serde_json::to_string_pretty(&value).map_err(|e| CliError::usage(e.to_string()))?;
    print(&format!("{s}\n"));
    Ok(())
}

fn live_runs(checked: &Checked) -> Vec<LiveRun<'_>> {
    checked
        .walked()
        .map(|(leg, result)| LiveRun {
            url: leg.url.clone(),
            transport: leg.transport,
            result,
        })
        .collect()
}

/// The object `check --json` prints.
fn json_report(checked: &Checked) -> serde_json::Value {
    let live = live_runs(checked);
    let mut value = match live.as_slice() {
        [one] if !checked.bare => report::live_json(one),
        _ => report::host_json(&checked.legs, &checked.comparison),
    };
    if let Some(f) = failure(checked) {
        // As `send --json`: the report, and what stopped the run.
        value["error"] = serde_json::json!({ "message": f.message, "exit": f.code });
    }
    value
}

/// A check that walked nothing ([`Checked::failure`]) fails with its transport's exit code.
fn failure(checked: &Checked) -> Option<CliError> {
    checked.failure().map(|f| CliError {
        code: exit::of_failure(f.error),
        message: f.message,
    })
}

/// `check URL --nagios` (issue 15): the check as a monitoring plugin. Every way out is one
/// status line on stdout and a plugin exit code, a failure to connect included.
mod nagios {
    use std::time::Instant;

    use super::{CheckArgs, exit, failure, json_report, walk_live};
    use crate::report::fleet::nagios::{Nagios, Thresholds};
    use crate::report::fleet::{FleetSink, TargetError, TargetOutcome, fields};

    pub(super) fn run(args: &CheckArgs, url: &str) -> u8 {
        let thresholds = Thresholds {
            warn_days: args.warn_days,
            crit_days: args.crit_days,
        };
        let mut nagios = Nagios::new(thresholds, fields::unix_now());
        let outcome = if args.crit_days > args.warn_days {
            TargetOutcome {
                target: url.to_owned(),
                line: 1,
                report: None,
                error: Some(TargetError {
                    exit: exit::USAGE,
                    message: "--crit-days must not be more than --warn-days".into(),
                }),
                elapsed: std::time::Duration::ZERO,
                recording: None,
            }
        } else {
            check(args, url)
        };
        let _ = nagios.add(&outcome);
        let (status, line) = nagios.verdict();
        super::print(&format!("{line}\n"));
        status.code()
    }

    fn check(args: &CheckArgs, url: &str) -> TargetOutcome {
        let started = Instant::now();
        let (report, error) = match walk_live(args, url) {
            Err(e) => (
                None,
                Some(TargetError {
                    exit: e.code,
                    message: e.message,
                }),
            ),
            Ok((checked, record)) => {
                let refused = checked
                    .walked()
                    .any(|(_, r)| r.login_refused())
                    .then(|| "the login was refused".to_owned());
                let stopped = failure(&checked).map(|f| (f.code, f.message));
                let recorded = super::super::connect::finish_record(record.as_ref(), Ok(0))
                    .err()
                    .map(|e| (e.code, e.message));
                let error = stopped
                    .or(refused.map(|m| (exit::LOGIN_REFUSED, m)))
                    .or(recorded)
                    .map(|(exit, message)| TargetError { exit, message });
                (Some(json_report(&checked)), error)
            }
        };
        TargetOutcome {
            target: url.to_owned(),
            line: 1,
            report,
            error,
            elapsed: started.elapsed(),
            recording: None,
        }
    }
}
