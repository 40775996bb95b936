//! `popscope replay FILE --against URL`: the recorded commands sent to another server, and the
//! two servers' replies and findings side by side, for upgrades and migrations.

use std::io::Write;
use std::sync::{Arc, Mutex};

use crate::session::login;
use crate::session::{Connection, Outcome};
use crate::transcript::{Drive, Entry, drive};
use crate::transport::{Target, TransportError};
use popscope_core::command::Keyword;
use popscope_core::sanitize::display;
use popscope_core::{Command, Config, Event, Finding, Time};

use super::connect::{Warnings, finish_record, transport_error};
use super::printer::{Gathered, Printer};
use super::{CliError, ReplayArgs, exit};
use crate::session::secure::prepare;

mod report;
use report::{Report, Row, Summary, W, render, view};

/// One recorded exchange: the command as it may be shown and sent, and the reply summary.
struct Recorded {
    exchange: u32,
    /// Judged on the line trimmed of blanks (` DELE 2` is a DELE).
    keyword: Keyword,
    /// The command line with any secret masked (redact::command_line).
    line: Vec<u8>,
    /// The line holds a control character (TAB, a bare CR…): a server may split it into two
    /// commands (`NOOP\rDELE 4`), so it is never replayed.
    control: bool,
    /// None until the reply came.
    reply: Option<Summary>,
}

/// What the recording shows: its exchanges and the findings the engine makes of them today.
struct Recording {
    exchanges: Vec<Recorded>,
    findings: Vec<Finding>,
    greeting: Summary,
}

/// Runs the engine over the recording, keeping each exchange's command and reply summary
/// and every finding (events are handled as they come: a long body costs no memory).
fn recording(entries: &[Entry]) -> Recording {
    let mut rec = Recording {
        exchanges: Vec::new(),
        findings: Vec::new(),
        greeting: Summary::text("(no greeting)"),
    };
    drive(entries, Config::default(), &mut rec);
    rec
}

impl Drive for Recording {
    fn event(&mut self, _: Time, ev: Event<'_>) {
        match ev {
            Event::Command { exchange, command } => {
                let line = popscope_core::redact::command_line(&command);
                let control = line.iter().any(|&b| b < 0x20 || b == 0x7f);
                let trimmed = line.trim_ascii();
                self.exchanges.push(Recorded {
                    exchange,
                    keyword: Command::parse(trimmed, 0).keyword,
                    line,
                    control,
                    reply: None,
                });
            }
            Event::Reply(r) if r.exchange == 0 => self.greeting = Summary::of(&r.raw, None),
            Event::Reply(r) => {
                if let Some(x) = self.exchange(r.exchange) {
                    x.reply = Some(Summary::of(&r.raw, None));
                }
            }
            Event::BodyEnd(end) => {
                if let Some(reply) = self.exchange(end.exchange).and_then(|x| x.reply.as_mut()) {
                    reply.shape = Some((end.lines, end.octets));
                }
            }
            Event::Finding(f) => self.findings.push(*f),
            _ => {}
        }
    }
}

impl Recording {
    fn exchange(&mut self, exchange: u32) -> Option<&mut Recorded> {
        self.exchanges
            .iter_mut()
            .rev()
            .find(|x| x.exchange == exchange)
    }
}

/// Why a recorded command is not sent, if it is not.
fn refusal(r: &Recorded, allow_delete: bool) -> Option<&'static str> {
    if r.control {
        Some("control characters")
    } else if r.keyword.is_session_control() {
        Some("session control")
    } else if r.keyword == Keyword::Dele && !allow_delete {
        Some("DELE needs --allow-delete")
    } else {
        None
    }
}

/// How the replayed session ended, when that is worth saying.
#[derive(Default)]
struct Ending {
    /// The replay stopped early (timeout, close) at this command.
    stopped: Option<String>,
    /// It stopped because an answer did not come in time: the rest was never compared.
    timed_out: bool,
    /// DELE was replayed and could not be undone: closed without QUIT.
    undo_failed: Option<String>,
}

pub(crate) fn against(args: &ReplayArgs, url: &str, entries: &[Entry]) -> Result<u8, CliError> {
    let target = Target::parse(url).map_err(CliError::usage)?;
    let Some(scheme) = target.scheme else {
        return Err(CliError::usage(format!(
            "'{url}': --against needs pop3:// or pop3s://"
        )));
    };
    let rec = recording(entries);
    let creds = args.conn.credentials()?;
    let options = args.conn.options(&target, scheme, Config::default());
    let gathered = Arc::new(Mutex::new(Gathered::default()));
    let mut rows: Vec<Row> = Vec::new();
    let mut skipped: Vec<(String, &'static str)> = Vec::new();
    let mut ending = Ending::default();
    let warnings = Warnings::new(true);
    let mut observers: Vec<Box<dyn crate::session::Observer>> = vec![
        Box::new(Printer::new(None, 0, "replay", gathered.clone())),
        Box::new(warnings.clone()),
    ];
    // The new session is recorded like `send --record` records (the file is opened before
    // anything is sent: a bad path costs no connection).
    let record = args.conn.record_file()?;
    if let Some(r) = &record {
        observers.push(r.recorder_with(
            &target.url(scheme),
            args.conn.record_secrets,
            args.conn.max_body,
        ));
    }
    let rt = super::runtime()?;
    let session = rt.block_on(async {
        let observer = crate::session::Tee(observers);
        let (mut c, greeting) = Connection::open(&options, Box::new(observer)).await?;
        rows.push(Row {
            command: "(greeting)".into(),
            old: rec.greeting.clone(),
            new: Summary::of(&greeting.reply.map(|r| r.raw).unwrap_or_default(), None),
            compare: true,
            old_exchange: Some(0),
            new_exchange: Some(0),
        });
        prepare(&mut c, args.conn.starttls, creds.is_some()).await?;
        if let Some(creds) = &creds {
            let out = login::login(&mut c, args.conn.login, creds).await?;
            rows.push(Row {
                command: "(login)".into(),
                old: Summary::text("(recorded login, not replayed)"),
                new: Summary::of(&out.reply.map(|r| r.raw).unwrap_or_default(), None),
                compare: false,
                old_exchange: None,
                new_exchange: Some(out.exchange),
            });
        }
        let mut deleted = false;
        for r in &rec.exchanges {
            let shown = display(&r.line, 60);
            if let Some(why) = refusal(r, args.allow_delete) {
                skipped.push((shown, why));
                continue;
            }
            deleted |= r.keyword == Keyword::Dele;
            let out = c.command(&r.line, 0).await?;
            if out.challenge.is_some() {
                c.cancel_sasl(out.exchange).await?;
            }
            let lines =
                (out.line_count > 0 || out.complete).then_some((out.line_count, out.octets));
            let mut new = reply_of(&out, lines);
            if out.timed_out {
                new.text.insert_str(0, "(timeout) ");
            }
            rows.push(Row {
                command: shown.clone(),
                old: r
                    .reply
                    .clone()
                    .unwrap_or_else(|| Summary::text("(no reply)")),
                new,
                compare: !out.timed_out,
                old_exchange: Some(r.exchange),
                new_exchange: Some(out.exchange),
            });
            if out.timed_out {
                // A late answer would be taken for the next command's: stop here.
                ending.stopped = Some(format!("no whole answer to {shown} in time"));
                ending.timed_out = true;
                break;
            }
            if c.is_closed() {
                ending.stopped = Some(format!("the server closed the connection after {shown}"));
                break;
            }
        }
        ending.undo_failed = finish(&mut c, deleted, ending.stopped.is_some()).await?;
        Ok::<(), TransportError>(())
    });
    if let Err(e) = session {
        return finish_record(record.as_ref(), Err(transport_error(e)));
    }
    let findings: Vec<Finding> = gathered
        .lock()
        .map(|g| g.findings.kept.iter().map(|(_, f)| f.clone()).collect())
        .unwrap_or_default();
    // With a terminal (and without --headless) the same report opens in a scrollable view,
    // its columns as wide as the terminal allows.
    let ui = !args.headless && super::config::require_terminal().is_ok();
    let w = match crossterm::terminal::size() {
        Ok((cols, _)) if ui => (usize::from(cols).saturating_sub(26) / 2).max(W),
        _ => W,
    };
    let url = target.url(scheme);
    let (mut report, differences) = render(&args.file, &url, &rows, &rec.findings, &findings, w);
    if !skipped.is_empty() {
        let list: Vec<String> = skipped
            .iter()
            .map(|(l, why)| format!("{l} ({why})"))
            .collect();
        report.plain(format!(
            "not replayed: {} (login, STLS and QUIT are the session's own; DELE needs --allow-delete; a line with a control character is never sent)",
            list.join(", ")
        ));
    }
    if let Some(s) = &ending.stopped {
        report.plain(format!("replay stopped: {s}"));
    }
    if let Some(u) = &ending.undo_failed {
        report.plain(u.clone());
    }
    if ui {
        // Said on stderr as it happened, which the view covers: said in the view too.
        for w in warnings.said() {
            report.plain(format!("warning: {w}"));
        }
    }
    report.plain(format!(
        "{differences} difference(s) in status or shape (reply text is not compared: RFC 1939 §9)"
    ));
    let verdict = match (ending.undo_failed, &ending.stopped) {
        (Some(u), _) => Err(CliError {
            code: exit::VIOLATIONS,
            message: u,
        }),
        // The rest was never sent: "no difference" would claim a comparison that did not happen.
        (None, Some(s)) if ending.timed_out => Err(CliError {
            code: exit::CONNECT,
            message: format!("replay stopped: {s}"),
        }),
        (None, _) if differences > 0 => Ok(exit::VIOLATIONS),
        (None, _) => Ok(exit::OK),
    };
    let result = show(args, &url, &report, ui, &rt).and(verdict);
    finish_record(record.as_ref(), result)
}

/// The report: in the scrollable view (the verdict line stays in the shell), or on stdout.
fn show(
    args: &ReplayArgs,
    url: &str,
    report: &Report,
    ui: bool,
    rt: &tokio::runtime::Runtime,
) -> Result<(), CliError> {
    if ui {
        let theme = super::config::theme(&args.ui)?;
        rt.block_on(view(&format!("replay --against {url}"), report, &theme))
            .map_err(|e| CliError::usage(format!("terminal: {e}")))?;
        // What the view showed last stays in the shell: the verdict line.
        let last = report.0.last().map(|(_, l)| l.as_str()).unwrap_or_default();
        let _ = writeln!(std::io::stdout().lock(), "{last}");
    } else {
        let _ = std::io::stdout().lock().write_all(report.text().as_bytes());
    }
    Ok(())
}

fn reply_of(out: &Outcome, lines: Option<(u64, u64)>) -> Summary {
    match &out.reply {
        Some(r) => Summary::of(&r.raw, lines),
        None if out.closed => Summary::text("(closed)"),
        None => Summary::text("(no reply)"),
    }
}

/// Ends the replayed session. DELE is only undone by RSET: when RSET is not answered `+OK`
/// (or the session is out of step), QUIT would commit the deletions (UPDATE, RFC 1939 §6), so
/// the connection is closed without it and the returned text says so.
async fn finish(
    c: &mut Connection,
    deleted: bool,
    out_of_step: bool,
) -> Result<Option<String>, TransportError> {
    if c.is_closed() {
        return Ok(None);
    }
    if out_of_step {
        c.close().await;
        return Ok(deleted.then(|| {
            "DELE was replayed and the session went out of step before RSET: closed without QUIT, so the server does not enter UPDATE and deletes nothing (RFC 1939 §6)".to_owned()
        }));
    }
    if deleted {
        let rset = c.command(b"RSET", 0).await?;
        if !rset.ok() {
            let why = match &rset.reply {
                Some(r) => format!("answered \"{}\"", display(&r.raw, 60)),
                None if rset.timed_out => "not answered in time".into(),
                None => "not answered".into(),
            };
            c.close().await;
            return Ok(Some(format!(
                "RSET was {why}: the replayed DELE could not be undone, so the connection was closed without QUIT (no UPDATE: nothing deleted, RFC 1939 §6)"
            )));
        }
    }
    c.quit().await?;
    Ok(None)
}
