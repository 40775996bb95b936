//! `check --targets FILE`: every target of a file checked as `check URL` or `check HOST`
//! would check it ([`crate::fleet`] runs them), each outcome handed to the outputs as it
//! finishes. Exits with the worst of the targets' codes.

use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::credentials::CredentialsFile;
use super::record::{self, RecordDir};
use crate::check;
use crate::fleet::run::{Limits, TargetCheck};
use crate::fleet::targets::{FleetTarget, Shard, Targets};
use crate::private_file::Existing;
use crate::report::fleet::junit::Junit;
use crate::report::fleet::nagios::{Nagios, Thresholds};
use crate::report::fleet::progress::Progress;
use crate::report::fleet::summary::Summary;
use crate::report::fleet::{
    FleetSink, TargetError, TargetOutcome, fields, jsonl::JsonLines, lines::Lines,
};

use super::super::{CheckArgs, CliError, exit, severity_overrides};
use super::{check_error, exit_code, json_report, live_options};

/// How long past --target-timeout the runner waits for a target that is ending.
const BACKSTOP: Duration = Duration::from_secs(5);

/// What every target's check reads.
struct Fleet {
    args: CheckArgs,
    credentials: CredentialsFile,
    /// --record DIR: where each target's recording goes.
    record: Option<RecordDir>,
    /// --tui: the view each target's walk feeds.
    view: Option<crate::tui::fleet::Hook>,
    /// True once the view quit: checks in flight end, the rest are not begun.
    stop: tokio::sync::watch::Receiver<bool>,
}

/// A target's outcome when the view quit before its check ended.
const STOPPED: &str = "stopped: the view was quit before this check ended";

pub(super) fn run(args: &CheckArgs, file: &Path) -> Result<u8, CliError> {
    use std::io::IsTerminal;
    if args.tui && !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
        return Err(CliError::usage(
            "--tui needs a terminal (standard input and output); without one, leave it out or use --json",
        ));
    }
    // Every mistake of the command line and the files before the first connection.
    severity_overrides(&args.severity)?;
    let credentials = match &args.credentials {
        Some(path) => CredentialsFile::load(path).map_err(CliError::usage)?,
        None => CredentialsFile::default(),
    };
    let name = file.display().to_string();
    let shard = args.shard.unwrap_or(Shard::ALL);
    // A typo on line 900 fails the run before line 1 is checked, and the progress bar knows
    // the total from the start (standard input cannot be read twice: there a bad line stops
    // the run where it is found, and the total is known at its end).
    let total = if name == "-" {
        None
    } else {
        let mut kept = 0;
        for (index, target) in Targets::new(open(file)?, &name, Shard::ALL).enumerate() {
            target.map_err(|e| CliError::usage(e.to_string()))?;
            kept += usize::from(shard.keeps(index));
        }
        Some(kept)
    };
    let record = args
        .conn
        .record
        .as_deref()
        .map(|dir| {
            let c = &args.conn;
            RecordDir::open(dir, c.force, c.record_secrets, c.max_body)
        })
        .transpose()
        .map_err(CliError::usage)?;
    let view = args
        .tui
        .then(|| view_template(name.clone()))
        .transpose()?
        .map(crate::tui::fleet::prepare);
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let stopped = stop.clone();
    // Once the view quit, no more of the file is read.
    let targets = Targets::new(open(file)?, &name, shard).take_while(move |_| !*stopped.borrow());
    let limits = Limits {
        jobs: args.jobs.unwrap_or_else(Limits::default_jobs),
        per_host: args.per_host,
        // The check keeps the deadline itself (check_target); the runner's is a backstop,
        // for a recording's last sync that hangs.
        target_timeout: Some(Duration::from_secs_f64(args.target_timeout) + BACKSTOP),
    };
    let (hook, waiting) = view.unzip();
    let fleet = Arc::new(Fleet {
        args: args.clone(),
        credentials,
        record,
        view: hook.clone(),
        stop,
    });
    let check = move |t: FleetTarget| check_target(fleet.clone(), t);
    let nagios = args.nagios.then(|| {
        let thresholds = Thresholds {
            warn_days: args.warn_days,
            crit_days: args.crit_days,
        };
        Arc::new(Mutex::new(Nagios::new(thresholds, fields::unix_now())))
    });
    let mut sinks = sinks(args, &nagios, hook.as_ref())?;
    if let Some(n) = total {
        sinks.iter_mut().for_each(|s| s.total(n));
    }
    let rt = super::super::runtime()?;
    let run = crate::fleet::run::run(targets, limits, check, &mut sinks);
    let ran = match waiting {
        Some(waiting) => rt.block_on(with_view(run, waiting, &stop_tx))?,
        None => rt.block_on(run),
    };
    let end = match ran {
        Ok(end) => end,
        // `| head`: nobody reads the rest.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(exit::OK),
        Err(e) => return Err(CliError::usage(format!("writing the results: {e}"))),
    };
    if let Some(e) = end.input_error {
        return Err(CliError::usage(e.to_string()));
    }
    match nagios
        .as_ref()
        .and_then(|n| n.lock().ok().map(|n| n.verdict()))
    {
        // A monitoring system reads one line and the plugin's code.
        Some((status, line)) => {
            let _ = writeln!(std::io::stdout(), "{line}");
            Ok(status.code())
        }
        None => Ok(end.worst_exit),
    }
}

/// The run and the view side by side until the user quits the view (the run's end leaves
/// it up); then the checks still in flight are stopped, and the run ends as it would. The
/// view has a thread of its own: drawing never holds up the run's outputs, whose queue of
/// outcomes (each with its report) would otherwise grow while the screen is busy.
async fn with_view(
    run: impl Future<Output = std::io::Result<crate::fleet::run::RunEnd>>,
    waiting: crate::tui::fleet::Waiting,
    stop: &tokio::sync::watch::Sender<bool>,
) -> Result<std::io::Result<crate::fleet::run::RunEnd>, CliError> {
    let (shown_tx, mut shown) = tokio::sync::oneshot::channel();
    let view = std::thread::spawn(move || {
        let result = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .and_then(|rt| rt.block_on(crate::tui::fleet::run(waiting)));
        let _ = shown_tx.send(result);
    });
    tokio::pin!(run);
    let mut ended = None;
    let result = loop {
        tokio::select! {
            end = &mut run, if ended.is_none() => ended = Some(end),
            result = &mut shown => break result,
        }
    };
    let _ = stop.send(true);
    let end = match ended {
        Some(end) => end,
        None => run.await,
    };
    let _ = view.join();
    match result {
        Ok(Ok(())) => Ok(end),
        Ok(Err(e)) => Err(CliError::usage(format!("terminal: {e}"))),
        Err(_) => Err(CliError::usage("terminal: the view ended without a word")),
    }
}

/// The view's start: its theme and keys as the session's.
fn view_template(file: String) -> Result<crate::tui::fleet::Template, CliError> {
    let config = super::super::config::theme(&super::super::UiArgs::default())?;
    Ok(crate::tui::fleet::Template {
        file,
        theme: config,
        keys: super::super::config::key_table()?,
        clock: crate::tui::clock_base,
    })
}

/// The outputs of a fleet run, each told of every target as it finishes: the progress bar (a
/// terminal only), JSON Lines or a line per target then the summary table, --junit; with
/// --nagios, the one status line alone; with --tui, the view and --junit.
fn sinks(
    args: &CheckArgs,
    nagios: &Option<Arc<Mutex<Nagios>>>,
    view: Option<&crate::tui::fleet::Hook>,
) -> Result<Vec<Box<dyn FleetSink>>, CliError> {
    let mut sinks: Vec<Box<dyn FleetSink>> = Vec::new();
    if let Some(n) = nagios {
        sinks.push(Box::new(Shared(n.clone())));
        return Ok(sinks);
    }
    if let Some(view) = view {
        sinks.push(view.sink());
    } else if args.json {
        sinks.push(Box::new(Progress::for_terminal(true)));
        sinks.push(Box::new(JsonLines::new(std::io::stdout())));
    } else {
        let progress = Progress::for_terminal(false);
        let above = progress.above();
        sinks.push(Box::new(progress));
        sinks.push(Box::new(Lines::new(std::io::stdout()).above(above)));
        sinks.push(Box::new(Printed(Summary::new(fields::unix_now()))));
    }
    if let Some(path) = &args.junit {
        let existing = if args.conn.force {
            Existing::Replace
        } else {
            Existing::Refuse
        };
        let junit =
            Junit::create(path, existing).map_err(|e| CliError::usage(format!("--junit: {e}")))?;
        sinks.push(Box::new(junit));
    }
    Ok(sinks)
}

/// The summary table, printed on stdout when the run ends.
struct Printed(Summary);

impl FleetSink for Printed {
    fn add(&mut self, outcome: &TargetOutcome) -> std::io::Result<()> {
        self.0.add(outcome)
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.0.finish()?;
        let mut out = std::io::stdout().lock();
        out.write_all(b"\n")?;
        out.write_all(self.0.text().as_bytes())?;
        out.flush()
    }
}

/// A sink the run shares with its caller, who reads it at the end (--nagios's verdict).
struct Shared<S>(Arc<Mutex<S>>);

impl<S: FleetSink> FleetSink for Shared<S> {
    fn add(&mut self, outcome: &TargetOutcome) -> std::io::Result<()> {
        match self.0.lock() {
            Ok(mut s) => s.add(outcome),
            Err(_) => Err(std::io::Error::other("poisoned")),
        }
    }

    fn finish(&mut self) -> std::io::Result<()> {
        match self.0.lock() {
            Ok(mut s) => s.finish(),
            Err(_) => Err(std::io::Error::other("poisoned")),
        }
    }
}

/// The watches of one walk, each seeing every connection (--record DIR and --tui).
struct Watches(Vec<Arc<dyn crate::check::Watch>>);

impl crate::check::Watch for Watches {
    fn observers(
        &self,
        index: usize,
        label: &str,
        url: &str,
    ) -> Vec<Box<dyn crate::session::Observer>> {
        self.0
            .iter()
            .flat_map(|w| w.observers(index, label, url))
            .collect()
    }
}

fn open(file: &Path) -> Result<Box<dyn BufRead + Send>, CliError> {
    if file.as_os_str() == "-" {
        return Ok(Box::new(std::io::BufReader::new(std::io::stdin())));
    }
    let f = std::fs::File::open(file)
        .map_err(|e| CliError::usage(format!("--targets {}: {e}", file.display())))?;
    Ok(Box::new(std::io::BufReader::new(f)))
}

/// One target, checked as `check` checks a URL or a host, with its line's options and the
/// credentials file's entry for it.
async fn check_target(fleet: Arc<Fleet>, t: FleetTarget) -> TargetCheck {
    let mut conn = fleet.args.conn.clone();
    conn.starttls = t.starttls;
    if t.sni.is_some() {
        conn.sni.clone_from(&t.sni);
    }
    let creds = match (
        fleet
            .credentials
            .for_target(&t.target.host, t.user.as_deref()),
        &t.user,
    ) {
        (Some(c), _) => Some(c.clone()),
        (None, Some(user)) => {
            return TargetCheck::failed(
                exit::USAGE,
                format!(
                    "--user {}: no --credentials entry for this user on this host",
                    popscope_core::sanitize::display(user.as_bytes(), 60)
                ),
            );
        }
        (None, None) => None,
    };
    if *fleet.stop.borrow() {
        return TargetCheck::failed(exit::CONNECT, STOPPED);
    }
    // A recording that cannot be made (a planted link, a file there without --force) is
    // that target's trouble alone: it is checked all the same, and its notes say why.
    let (recording, troubles) = match fleet.record.as_ref().map(|d| d.create(&t)) {
        Some(Ok(r)) => (Some(r), Vec::new()),
        Some(Err(e)) => (None, vec![e]),
        None => (None, Vec::new()),
    };
    let mut watches: Vec<Arc<dyn crate::check::Watch>> = Vec::new();
    if let Some((dir, r)) = fleet.record.as_ref().zip(recording.as_ref()) {
        watches.push(Arc::new(dir.watchers(r)));
    }
    if let Some(view) = &fleet.view {
        watches.push(view.watch(t.line));
    }
    let watch = match watches.len() {
        0 => None,
        1 => watches.pop(),
        _ => Some(Arc::new(Watches(watches)) as Arc<dyn crate::check::Watch>),
    };
    // The deadline is kept here, not only by the runner, so that a target stopped by it
    // still has its recording synced and named.
    let deadline = Duration::from_secs_f64(fleet.args.target_timeout);
    let mut stop = fleet.stop.clone();
    let stopped = async move {
        // A run without a view has nobody to stop it.
        if stop.wait_for(|s| *s).await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let checked = tokio::select! {
        checked = tokio::time::timeout(deadline, checked_target(&fleet, &conn, &t, creds, watch)) => {
            checked.unwrap_or_else(|_| TargetCheck::past_deadline(deadline))
        }
        () = stopped => TargetCheck::failed(exit::CONNECT, STOPPED),
    };
    // JSON Lines carry the notes; the text lines do not show them, nor does the view's screen.
    let a = &fleet.args;
    let say = (!a.json && !a.nagios && !a.tui).then_some(t.shown.as_str());
    record::finish(checked, recording.as_ref(), troubles, say)
}

/// The check of one target with its options and watchers, as a fleet's outcome.
async fn checked_target(
    fleet: &Fleet,
    conn: &super::super::ConnArgs,
    t: &FleetTarget,
    creds: Option<crate::session::login::Credentials>,
    watch: Option<Arc<dyn crate::check::Watch>>,
) -> TargetCheck {
    let opts = match live_options(&fleet.args, conn, &t.target, creds, watch) {
        Ok(o) => o,
        Err(e) => return TargetCheck::failed(e.code, e.message),
    };
    let checked = match check::transports::run(&t.target, opts).await {
        Ok(c) => c,
        Err(e) => {
            let e = check_error(e);
            return TargetCheck::failed(e.code, e.message);
        }
    };
    let report = Some(json_report(&checked));
    match exit_code(&checked) {
        Ok(code) => TargetCheck {
            report,
            error: None,
            exit: code,
            recording: None,
        },
        Err(f) => TargetCheck {
            report,
            error: Some(TargetError {
                exit: f.code,
                message: f.message,
            }),
            exit: f.code,
            recording: None,
        },
    }
}
