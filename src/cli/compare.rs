//! `popscope replay FILE --against URL`: the recorded commands sent to another server, and the
//! two servers' replies and findings side by side, for upgrades and migrations.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use crate::session::login;
use crate::session::{Connection, Outcome};
use crate::transcript::{Drive, Entry, drive};
use crate::transport::{Target, TransportError};
use crate::tui::Theme;
use popscope_core::command::Keyword;
use popscope_core::sanitize::{display, is_clean};
use popscope_core::{Command, Config, Event, Finding, Severity, Time};

use super::connect::{Warnings, finish_record, transport_error};
use super::printer::{Gathered, Printer};
use super::{CliError, ReplayArgs, exit};
use crate::session::secure::prepare;

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

/// A reply as the table shows it: its status line (made safe) and, for a listing or a
/// message, its shape, `+OK 2 messages ▸ 3 lines, 20 octets`.
#[derive(Clone, Debug, PartialEq)]
struct Summary {
    text: String,
    /// Lines and octets of the data block, when there was one.
    shape: Option<(u64, u64)>,
}

impl Summary {
    fn of(raw: &[u8], shape: Option<(u64, u64)>) -> Summary {
        Summary {
            text: display(raw, 60),
            shape,
        }
    }

    /// The tool's own words where a reply would be: `(no reply)`, `(closed)`.
    fn text(text: &str) -> Summary {
        Summary {
            text: text.to_owned(),
            shape: None,
        }
    }

    /// The status indicator (`+OK`, `-ERR`), or the first word of the tool's own words.
    fn status(&self) -> &str {
        self.text.split(' ').next().unwrap_or_default()
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)?;
        match self.shape {
            Some((n, o)) => write!(f, " ▸ {n} lines, {o} octets"),
            None => Ok(()),
        }
    }
}

/// A finding's message, safe to print (sanitized once, not escaped twice).
fn message(f: &Finding) -> String {
    if is_clean(&f.message) {
        f.message.clone()
    } else {
        display(f.message.as_bytes(), 400)
    }
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
            Event::BodyEnd {
                exchange,
                lines,
                octets,
                ..
            } => {
                if let Some(reply) = self.exchange(exchange).and_then(|x| x.reply.as_mut()) {
                    reply.shape = Some((lines, octets));
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

/// Only the status indicator and, for listings and messages, the shape are compared: the text
/// after +OK differs between servers by design (RFC 1939 §9).
fn same(a: &Summary, b: &Summary) -> bool {
    a.status() == b.status() && a.shape == b.shape
}

/// One row of the table: the command, both replies, and the exchanges the findings hang on.
struct Row {
    command: String,
    old: Summary,
    new: Summary,
    /// Compared (the login row and a row cut short by a timeout are not).
    compare: bool,
    old_exchange: Option<u32>,
    new_exchange: Option<u32>,
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

pub fn against(args: &ReplayArgs, url: &str, entries: &[Entry]) -> Result<u8, CliError> {
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
                c.sasl_response(out.exchange, b"*").await?;
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
        .map(|g| g.findings.iter().map(|(_, f)| f.clone()).collect())
        .unwrap_or_default();
    // With a terminal (and without --headless) the same report opens in a scrollable view,
    // its columns as wide as the terminal allows.
    let ui = !args.headless && super::config::require_terminal().is_ok();
    let w = match crossterm::terminal::size() {
        Ok((cols, _)) if ui => (usize::from(cols).saturating_sub(26) / 2).max(W),
        _ => W,
    };
    let url = target.url(scheme);
    let (mut report, differences) = render(&args.file, &url, &rows, &rec, &findings, w);
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

const W: usize = 44;

fn cut(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n <= w {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(w.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// How a line of the report is drawn in the view.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Look {
    Plain,
    /// The title and the column heads.
    Header,
    /// A row whose replies differ.
    Differs,
    /// Findings: the gravest on the line.
    Finding(Severity),
}

/// The report, line by line, each line with how it is drawn.
#[derive(Default)]
struct Report(Vec<(Look, String)>);

impl Report {
    fn line(&mut self, look: Look, line: String) {
        self.0.push((look, line));
    }

    fn plain(&mut self, text: String) {
        for l in text.lines() {
            self.line(Look::Plain, l.to_owned());
        }
    }

    /// A line of the table (blanks that pad the last column are dropped).
    fn cells(&mut self, look: Look, line: &str) {
        self.line(look, line.trim_end().to_owned());
    }

    fn text(&self) -> String {
        self.0.iter().map(|(_, l)| format!("{l}\n")).collect()
    }
}

/// The findings of one exchange, as short cells: `✖ MSG-010`.
fn cells(findings: &[Finding], exchange: Option<u32>) -> Vec<(Severity, String)> {
    let Some(x) = exchange else {
        return Vec::new();
    };
    findings
        .iter()
        .filter(|f| f.at.exchange == x)
        .map(|f| {
            let cell = format!("{} {} {}", f.severity.marker(), f.rule.id, message(f));
            (f.severity, cell)
        })
        .collect()
}

/// The table (with each row's findings under it on both sides) and the findings by rule.
fn render(
    file: &std::path::Path,
    url: &str,
    rows: &[Row],
    rec: &Recording,
    findings: &[Finding],
    w: usize,
) -> (Report, usize) {
    let mut out = Report::default();
    out.cells(
        Look::Header,
        &format!(
            "replay of {} against {url}",
            display(file.display().to_string().as_bytes(), 200)
        ),
    );
    out.cells(
        Look::Header,
        &format!(
            "{:<18} {:<w$} {:<w$}",
            "command",
            "recorded server",
            cut(url, w)
        ),
    );
    let mut differences = 0;
    for row in rows {
        let (look, mark) = if !row.compare || same(&row.old, &row.new) {
            (Look::Plain, "")
        } else {
            differences += 1;
            (Look::Differs, "  ≠")
        };
        out.cells(
            look,
            &format!(
                "{:<18} {:<w$} {:<w$}{mark}",
                cut(&row.command, 18),
                cut(&row.old.to_string(), w),
                cut(&row.new.to_string(), w)
            ),
        );
        let old = cells(&rec.findings, row.old_exchange);
        let new = cells(findings, row.new_exchange);
        for i in 0..old.len().max(new.len()) {
            let (l, r) = (old.get(i), new.get(i));
            let gravest = l.into_iter().chain(r).map(|(sev, _)| *sev).max();
            let cell =
                |c: Option<&(Severity, String)>| c.map(|(_, s)| cut(s, w)).unwrap_or_default();
            out.cells(
                gravest.map_or(Look::Plain, Look::Finding),
                &format!("{:<18} {:<w$} {}", "", cell(l), cell(r)),
            );
        }
    }
    by_rule(&mut out, url, &rec.findings, findings);
    (out, differences)
}

/// One rule on both sides: its first finding and how often it was found.
#[derive(Default)]
struct Side<'a> {
    first: Option<&'a Finding>,
    count: usize,
}

impl<'a> Side<'a> {
    fn add(&mut self, f: &'a Finding) {
        self.first.get_or_insert(f);
        self.count += 1;
    }
}

/// Every rule either server broke, with how often on each side and the first message of each.
fn by_rule(out: &mut Report, url: &str, old: &[Finding], new: &[Finding]) {
    let mut rules: BTreeMap<&'static str, (Side<'_>, Side<'_>)> = BTreeMap::new();
    for f in old {
        rules.entry(f.rule.id).or_default().0.add(f);
    }
    for f in new {
        rules.entry(f.rule.id).or_default().1.add(f);
    }
    let count = |fs: &[Finding]| {
        let s = popscope_core::Tally::of(fs);
        format!(
            "{} violation(s), {} warning(s), {} info",
            s.violation, s.warning, s.info
        )
    };
    out.cells(
        Look::Plain,
        &format!(
            "findings: recorded server {}; {} {}",
            count(old),
            cut(url, 60),
            count(new)
        ),
    );
    for (id, (o, n)) in &rules {
        let Some(first) = o.first.or(n.first) else {
            continue;
        };
        let side = match (o.count, n.count) {
            (_, 0) => "only on the recorded server",
            (0, _) => "only on the new server",
            _ => "on both",
        };
        out.cells(
            Look::Finding(first.severity),
            &format!(
                "  {} {id:<9} recorded {:>3} × · new {:>3} ×  {side}",
                first.severity.marker(),
                o.count,
                n.count
            ),
        );
        if let Some(f) = o.first {
            out.cells(
                Look::Plain,
                &format!("      recorded: {}", cut(&message(f), 200)),
            );
        }
        if let Some(f) = n.first {
            out.cells(
                Look::Plain,
                &format!("      new:      {}", cut(&message(f), 200)),
            );
        }
    }
}

/// The report in a scrollable full-screen view: ↑/↓, PgUp/PgDn, Home/End, q or Esc to leave.
/// Rows whose replies differ and findings take the theme's colours.
async fn view(title: &str, report: &Report, theme: &Theme) -> std::io::Result<()> {
    use crossterm::event::{Event as TermEvent, EventStream, KeyCode, KeyEventKind};
    use futures_util::StreamExt;
    use ratatui::text::{Line, Span};
    use ratatui::widgets::{Block, Borders, Paragraph};

    let lines: Vec<Line<'_>> = report
        .0
        .iter()
        .map(|(look, l)| {
            let style = match look {
                Look::Header => theme.header,
                Look::Differs => theme.unlawful,
                Look::Finding(Severity::Violation) => theme.violation,
                Look::Finding(Severity::Warning) => theme.warning,
                Look::Finding(Severity::Info) => theme.info,
                Look::Plain => ratatui::style::Style::default(),
            };
            Line::from(Span::styled(l.as_str(), style))
        })
        .collect();
    let mut top = 0usize;
    let mut page = 10usize;
    let mut terminal = crate::tui::terminal::enter()?;
    let mut events = EventStream::new();
    let result = loop {
        let drawn = terminal.draw(|f| {
            let area = f.area();
            page = usize::from(area.height.saturating_sub(3)).max(1);
            top = top.min(lines.len().saturating_sub(page));
            let block = Block::default()
                .borders(Borders::ALL)
                .border_style(theme.border)
                .title(Span::styled(format!(" {title} "), theme.title))
                .title_bottom(Span::styled(
                    " ↑↓ PgUp PgDn Home End scroll · q quit ",
                    theme.hint,
                ));
            let p = Paragraph::new(lines.clone())
                .block(block)
                .scroll((u16::try_from(top).unwrap_or(u16::MAX), 0));
            f.render_widget(p, area);
        });
        if let Err(e) = drawn {
            break Err(e);
        }
        let Some(Ok(ev)) = events.next().await else {
            break Ok(());
        };
        let TermEvent::Key(k) = ev else { continue };
        if k.kind == KeyEventKind::Release {
            continue;
        }
        match k.code {
            KeyCode::Char('q') | KeyCode::Esc => break Ok(()),
            KeyCode::Up | KeyCode::Char('k') => top = top.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => top += 1,
            KeyCode::PageUp => top = top.saturating_sub(page),
            KeyCode::PageDown | KeyCode::Char(' ') => top += page,
            KeyCode::Home | KeyCode::Char('g') => top = 0,
            KeyCode::End | KeyCode::Char('G') => top = lines.len(),
            _ => {}
        }
    };
    crate::tui::terminal::leave();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_that_says_the_shape_marker_itself_is_still_compared_by_status_and_shape() {
        // The shape once came back from the shown text split at '▸': a server whose reply
        // text held one made a difference out of nothing.
        let old = Summary::of("+OK a ▸ 2 lines, 9 octets".as_bytes(), None);
        let new = Summary::of(b"+OK c", None);
        assert!(old.to_string().contains('▸'), "{old}");
        assert!(same(&old, &new));
        assert!(!same(&old, &Summary::of(b"+OK c", Some((2, 9)))));
        assert!(!same(&new, &Summary::of(b"-ERR c", None)));
    }

    #[test]
    fn a_findings_line_takes_the_look_of_its_gravest_finding() {
        let rows = [Row {
            command: "NOOP".into(),
            old: Summary::text("+OK"),
            new: Summary::text("-ERR"),
            compare: true,
            old_exchange: Some(1),
            new_exchange: Some(1),
        }];
        let finding = |id, severity| Finding {
            rule: popscope_core::rules::find(id).unwrap(),
            severity,
            message: "m".into(),
            at: popscope_core::Location {
                exchange: 1,
                ..Default::default()
            },
            suspected: false,
        };
        let rec = Recording {
            exchanges: Vec::new(),
            findings: vec![finding("GEN-003", Severity::Info)],
            greeting: Summary::text("+OK"),
        };
        let new = [finding("ST-001", Severity::Violation)];
        let file = std::path::Path::new("x.trace");
        let (report, differences) = render(file, "pop3://h", &rows, &rec, &new, W);
        assert_eq!(differences, 1);
        let looks: Vec<Look> = report.0.iter().map(|(l, _)| *l).collect();
        assert_eq!(
            &looks[..4],
            [
                Look::Header,
                Look::Header,
                Look::Differs,
                Look::Finding(Severity::Violation)
            ]
        );
    }
}
