//! The comparison's report: each reply as the table shows it, the table with both servers'
//! findings under each row, the findings by rule, and the scrollable view that draws it.

use std::collections::BTreeMap;

use crate::tui::Theme;
use popscope_core::sanitize::{display, is_clean};
use popscope_core::{Finding, Severity};

/// A reply as the table shows it: its status line (made safe) and, for a listing or a
/// message, its shape, `+OK 2 messages ▸ 3 lines, 20 octets`.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Summary {
    pub(super) text: String,
    /// Lines and octets of the data block, when there was one.
    pub(super) shape: Option<(u64, u64)>,
}

impl Summary {
    pub(super) fn of(raw: &[u8], shape: Option<(u64, u64)>) -> Summary {
        Summary {
            text: display(raw, 60),
            shape,
        }
    }

    /// The tool's own words where a reply would be: `(no reply)`, `(closed)`.
    pub(super) fn text(text: &str) -> Summary {
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
pub(super) fn message(f: &Finding) -> String {
    if is_clean(&f.message) {
        f.message.clone()
    } else {
        display(f.message.as_bytes(), 400)
    }
}

/// Only the status indicator and, for listings and messages, the shape are compared: the text
/// after +OK differs between servers by design (RFC 1939 §9).
pub(super) fn same(a: &Summary, b: &Summary) -> bool {
    a.status() == b.status() && a.shape == b.shape
}

/// One row of the table: the command, both replies, and the exchanges the findings hang on.
pub(super) struct Row {
    pub(super) command: String,
    pub(super) old: Summary,
    pub(super) new: Summary,
    /// Compared (the login row and a row cut short by a timeout are not).
    pub(super) compare: bool,
    pub(super) old_exchange: Option<u32>,
    pub(super) new_exchange: Option<u32>,
}

pub(super) const W: usize = 44;

pub(super) fn cut(s: &str, w: usize) -> String {
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
pub(super) enum Look {
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
pub(super) struct Report(pub(super) Vec<(Look, String)>);

impl Report {
    fn line(&mut self, look: Look, line: String) {
        self.0.push((look, line));
    }

    pub(super) fn plain(&mut self, text: String) {
        for l in text.lines() {
            self.line(Look::Plain, l.to_owned());
        }
    }

    /// A line of the table (blanks that pad the last column are dropped).
    fn cells(&mut self, look: Look, line: &str) {
        self.line(look, line.trim_end().to_owned());
    }

    pub(super) fn text(&self) -> String {
        self.0.iter().map(|(_, l)| format!("{l}\n")).collect()
    }
}

/// The findings of one exchange, as short cells: `✖ MSG-010`.
pub(super) fn cells(findings: &[Finding], exchange: Option<u32>) -> Vec<(Severity, String)> {
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
pub(super) fn render(
    file: &std::path::Path,
    url: &str,
    rows: &[Row],
    recorded: &[Finding],
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
        let old = cells(recorded, row.old_exchange);
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
    by_rule(&mut out, url, recorded, findings);
    (out, differences)
}

/// One rule on both sides: its first finding and how often it was found.
#[derive(Default)]
pub(super) struct Side<'a> {
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
pub(super) fn by_rule(out: &mut Report, url: &str, old: &[Finding], new: &[Finding]) {
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
pub(super) async fn view(title: &str, report: &Report, theme: &Theme) -> std::io::Result<()> {
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
        let recorded = [finding("GEN-003", Severity::Info)];
        let new = [finding("ST-001", Severity::Violation)];
        let file = std::path::Path::new("x.trace");
        let (report, differences) = render(file, "pop3://h", &rows, &recorded, &new, W);
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
