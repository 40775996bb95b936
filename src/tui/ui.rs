//! Drawing. Rendering borrows the state and never changes it; what is drawn depends only on
//! the visible rows, not on how long the session was.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use popscope_core::{Severity, State};

use super::app::{App, Focus, Link, Overlay};
use super::keys::{self, Scope};
use super::transcript::{Row, RowKind};

fn sev_style(app: &App, s: Severity) -> Style {
    match s {
        Severity::Violation => app.theme.violation,
        Severity::Warning => app.theme.warning,
        Severity::Info => app.theme.info,
    }
}

/// Longest text drawn for one entry of a panel (a finding, a capability list); the rest is
/// cut with `…`, so a hostile 20,000-line CAPA costs a frame no more than a normal one.
const PANEL_TEXT: usize = 8192;

/// Text that may hold server bytes (a finding's message, a capability, a certificate name),
/// made safe to draw: control and invisible characters become visible escapes (`\x1b`),
/// never dropped. Text that is already clean is drawn as it is (not escaped twice).
fn safe(text: &str) -> String {
    if popscope_core::sanitize::is_clean(text) {
        if text.len() <= PANEL_TEXT {
            return text.to_owned();
        }
        let mut cut: String = text.chars().take(PANEL_TEXT).collect();
        if cut.len() < text.len() {
            cut.push('…');
        }
        cut
    } else {
        popscope_core::sanitize::display(text.as_bytes(), PANEL_TEXT)
    }
}

/// Wraps `text` at spaces into lines of at most `first` characters for the first line and
/// `rest` for the others; a word longer than a line is cut. At least one line.
fn wrap(text: &str, first: usize, rest: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut line = String::new();
    let mut len = 0usize;
    let room = |out: &Vec<String>| if out.is_empty() { first } else { rest }.max(1);
    for word in text.split_inclusive(' ') {
        if len == 0 && word.trim().is_empty() {
            continue;
        }
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let r = room(&out);
            // The word's trailing space may hang past the edge.
            let visible = word.len() - usize::from(word.last() == Some(&' '));
            if len + visible <= r {
                len += word.len();
                line.extend(word);
                break;
            }
            if len > 0 {
                out.push(std::mem::take(&mut line).trim_end().to_owned());
                len = 0;
                continue;
            }
            let tail = word.split_off(r.min(word.len()));
            out.push(word.into_iter().collect());
            word = tail;
            if word.is_empty() {
                break;
            }
        }
        if len >= room(&out) {
            out.push(std::mem::take(&mut line).trim_end().to_owned());
            len = 0;
        }
    }
    if !line.is_empty() || out.is_empty() {
        out.push(line.trim_end().to_owned());
    }
    out
}

fn block<'a>(app: &App, title: &'a str, focused: bool) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(if focused {
            app.theme.border_focused
        } else {
            app.theme.border
        })
        .title(Span::styled(format!(" {title} "), app.theme.title))
}

pub fn draw(f: &mut Frame, app: &App) {
    let area = f.area();
    let bottom_h = match area.height {
        h if h >= 40 => 12,
        h if h >= 28 => 9,
        h if h >= 20 => 7,
        _ => 5,
    };
    let [header, main, bottom, line, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(bottom_h),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let state_w = if area.width >= 110 {
        30
    } else if area.width >= 90 {
        26
    } else {
        22
    };
    let [state_area, transcript_area] =
        Layout::horizontal([Constraint::Length(state_w), Constraint::Min(10)]).areas(main);
    let [findings_area, session_area] =
        Layout::horizontal([Constraint::Percentage(56), Constraint::Percentage(44)]).areas(bottom);
    draw_header(f, app, header);
    draw_state(f, app, state_area);
    draw_transcript(f, app, transcript_area);
    draw_findings(f, app, findings_area);
    draw_session(f, app, session_area);
    draw_line(f, app, line);
    draw_footer(f, app, footer);
    match &app.overlay {
        Some(Overlay::Help) => draw_help(f, app, area),
        Some(Overlay::Finding(i)) => draw_finding(f, app, area, *i),
        Some(Overlay::Confirm { line, why }) => draw_confirm(f, app, area, line, why),
        None => {}
    }
}

fn draw_header(f: &mut Frame, app: &App, area: Rect) {
    let mut spans = vec![
        Span::styled(" popscope ", app.theme.header),
        Span::raw(" "),
        Span::styled(app.target.clone(), app.theme.title),
    ];
    let link = match (&app.link, &app.tls) {
        (Link::Connecting, _) => "  connecting…".to_owned(),
        (Link::Failed(_), _) => "  not connected".to_owned(),
        (_, Some(t)) if t.insecure => format!("  {} ✗ NOT VERIFIED (--insecure)", t.version),
        (_, Some(t)) if t.verdict == "verified" => format!("  {} ✓ verified", t.version),
        (_, Some(t)) if t.verdict == "recorded" => format!("  {} (recorded session)", t.version),
        (_, Some(t)) => format!("  {} ✗ {}", t.version, t.verdict),
        (_, None) => "  plaintext".to_owned(),
    };
    let insecure = app.tls.as_ref().is_some_and(|t| t.insecure);
    spans.push(Span::styled(
        link,
        if insecure {
            app.theme.violation
        } else {
            app.theme.dim
        },
    ));
    if let Some(t) = &app.tls
        && t.client_cert_sent
    {
        spans.push(Span::styled("  client cert sent", app.theme.dim));
    }
    let counts = format!(
        "✖ {}  ⚠ {}  ℹ {} ",
        app.counts.violation, app.counts.warning, app.counts.info
    );
    let used: usize = spans.iter().map(|s| s.content.chars().count()).sum();
    let pad = (area.width as usize).saturating_sub(used + counts.chars().count());
    spans.push(Span::raw(" ".repeat(pad)));
    for (i, sev) in [Severity::Violation, Severity::Warning, Severity::Info]
        .into_iter()
        .enumerate()
    {
        let lead = if i == 0 { "" } else { "  " };
        let n = app.counts.get(sev);
        let style = if n > 0 || sev == Severity::Info {
            sev_style(app, sev)
        } else {
            app.theme.dim
        };
        spans.push(Span::styled(format!("{lead}{} {n}", sev.marker()), style));
    }
    spans.push(Span::raw(" "));
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The diagram: the canonical states, the current one highlighted, the visited ones marked.
fn draw_state(f: &mut Frame, app: &App, area: Rect) {
    let visited = |pred: &dyn Fn(State) -> bool| app.path.iter().any(|(s, _)| pred(*s));
    let current = app.state;
    let skipped = app
        .path
        .iter()
        .any(|(s, lawful)| *s == State::Transaction && !lawful);
    let mut nodes: Vec<(String, bool, bool, Option<&str>)> =
        vec![("connect".into(), false, true, None)];
    if app.implicit_tls || current == State::TlsHandshake {
        nodes.push((
            "TLS handshake".into(),
            current == State::TlsHandshake,
            true,
            None,
        ));
    }
    nodes.push(("greeting".into(), current == State::Greeting, true, None));
    let auth_name = if current.is_authorization() {
        current.name().to_owned()
    } else {
        "AUTHORIZATION".to_owned()
    };
    nodes.push((
        auth_name,
        current.is_authorization(),
        visited(&|s| s.is_authorization()),
        None,
    ));
    nodes.push((
        "TRANSACTION".into(),
        current == State::Transaction,
        visited(&|s| s == State::Transaction),
        skipped.then_some("← login skipped"),
    ));
    nodes.push((
        "UPDATE".into(),
        current == State::Update,
        visited(&|s| s == State::Update),
        None,
    ));
    nodes.push((
        "closed".into(),
        current == State::Closed,
        visited(&|s| s == State::Closed),
        None,
    ));
    let mut lines: Vec<Line> = Vec::new();
    let last = nodes.len() - 1;
    for (i, (name, is_current, seen, note)) in nodes.into_iter().enumerate() {
        let style = if is_current {
            app.theme.state_current
        } else if seen {
            app.theme.state_visited
        } else {
            app.theme.state_pending
        };
        let mut spans = vec![
            Span::raw(if is_current { "▶" } else { " " }),
            Span::styled(name, style),
        ];
        if let Some(n) = note {
            spans.push(Span::styled(format!(" {n}"), app.theme.unlawful));
        }
        lines.push(Line::from(spans));
        if i != last && area.height as usize > 16 {
            lines.push(Line::styled("   │", app.theme.state_pending));
        }
    }
    let security = match (
        &app.tls,
        app.path
            .iter()
            .any(|(s, _)| *s == State::Authorization(popscope_core::AuthStep::StlsHandshake)),
    ) {
        (Some(t), true) => format!("TLS: STLS {}", if t.insecure { "✗ insecure" } else { "✓" }),
        (Some(t), false) => format!(
            "TLS: implicit {}",
            if t.insecure { "✗ insecure" } else { "✓" }
        ),
        (None, _) => "TLS: none".into(),
    };
    lines.push(Line::raw(""));
    lines.push(Line::styled(security, app.theme.dim));
    lines.push(Line::styled("why:", app.theme.dim));
    lines.push(Line::styled(safe(&app.last_reason), app.theme.server));
    let p = Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(block(app, "State", false));
    f.render_widget(p, area);
}

fn clock(app: &App, t: popscope_core::Time) -> String {
    let secs = app.clock_base + t.as_secs_f64();
    let ms = (secs.fract() * 1000.0) as u32;
    let s = secs as u64;
    format!(
        "{:02}:{:02}:{:02}.{ms:03}",
        (s / 3600) % 24,
        (s / 60) % 60,
        s % 60
    )
}

fn row_lines<'a>(app: &'a App, row: &'a Row, width: usize, selected: bool) -> Vec<Line<'a>> {
    let (dir, style) = match row.kind {
        RowKind::Client => ("C:", app.theme.client),
        RowKind::Server => ("S:", app.theme.server),
        RowKind::Note => ("──", app.theme.note),
        RowKind::Transition => ("  ", app.theme.dim),
    };
    let mut right = String::new();
    if let Some(sev) = row.severity {
        right.push_str(&format!(" {} {}", sev.marker(), row.rules.join(" ")));
    }
    if let Some(l) = row.latency_us {
        right.push_str(&format!("  {} ms", l / 1000));
    }
    let head = format!("{} {dir} ", clock(app, row.time));
    let tag = row.tag.map(|t| format!(" ({t})")).unwrap_or_default();
    let room = width
        .saturating_sub(head.chars().count() + right.chars().count() + tag.chars().count() + 1);
    let text: String = if row.text.chars().count() > room {
        let mut t: String = row.text.chars().take(room.saturating_sub(1)).collect();
        t.push('…');
        t
    } else {
        row.text.clone()
    };
    let pad = room.saturating_sub(text.chars().count());
    let tag_style =
        if row.tag == Some("unlawful") || row.tag == Some("plaintext before TLS, discarded") {
            app.theme.unlawful
        } else {
            app.theme.dim
        };
    let mut spans = vec![
        Span::styled(head, app.theme.time),
        Span::styled(
            text,
            if row.kind == RowKind::Transition && row.tag.is_some() {
                app.theme.unlawful
            } else {
                style
            },
        ),
        Span::styled(tag, tag_style),
        Span::raw(" ".repeat(pad + 1)),
    ];
    if let Some(sev) = row.severity {
        spans.push(Span::styled(
            format!(" {} {}", sev.marker(), row.rules.join(" ")),
            sev_style(app, sev),
        ));
        if let Some(l) = row.latency_us {
            spans.push(Span::styled(format!("  {} ms", l / 1000), app.theme.time));
        }
    } else if let Some(l) = row.latency_us {
        spans.push(Span::styled(format!("  {} ms", l / 1000), app.theme.time));
    }
    let mut line = Line::from(spans);
    if selected {
        line = line.patch_style(app.theme.selection);
    }
    let mut out = vec![line];
    if let Some(fold) = &row.fold {
        out.push(Line::styled(
            format!("{}    {}", " ".repeat(13), fold.summary()),
            app.theme.fold,
        ));
        if fold.expanded {
            for l in &fold.lines {
                let shown: String = l.chars().take(width.saturating_sub(20)).collect();
                out.push(Line::from(vec![
                    Span::raw(" ".repeat(17)),
                    Span::styled("│ ", app.theme.fold),
                    Span::styled(shown, app.theme.server),
                ]));
            }
        }
    }
    out
}

fn draw_transcript(f: &mut Frame, app: &App, area: Rect) {
    let focused = app.focus == Focus::Transcript;
    let inner_h = area.height.saturating_sub(2) as usize;
    let width = area.width.saturating_sub(2) as usize;
    let n = app.transcript.len();
    let mut lines: Vec<Line> = Vec::with_capacity(inner_h);
    if n == 0 {
        let msg = match &app.link {
            Link::Failed(e) => format!(
                "not connected: {}   (:reconnect to try again, q to quit)",
                safe(e)
            ),
            _ => format!("connecting to {}…   (q or Ctrl-C cancels)", app.target),
        };
        lines.push(Line::styled(msg, app.theme.dim));
    } else {
        // Following: the last row at the bottom. Otherwise the cursor near the middle, but
        // never scrolled past the end (no blank rows below the last) and always on screen.
        let bottom = app.transcript.top_for_bottom(n - 1, inner_h);
        let top = if app.follow {
            bottom
        } else {
            let cursor = app.cursor.min(n - 1);
            app.cursor
                .saturating_sub(inner_h / 2)
                .min(bottom)
                .max(app.transcript.top_for_bottom(cursor, inner_h))
        };
        let mut i = top;
        while lines.len() < inner_h && i < n {
            if let Some(row) = app.transcript.get(i) {
                let selected = focused && i == app.cursor;
                lines.extend(row_lines(app, row, width, selected));
            }
            i += 1;
        }
        // Rows ran out before the panel did: fill from above, the tail of a taller row
        // included, so the last row sits on the bottom line.
        let mut above = top;
        while lines.len() < inner_h && above > 0 {
            above -= 1;
            if let Some(row) = app.transcript.get(above) {
                let selected = focused && above == app.cursor;
                let mut earlier = row_lines(app, row, width, selected);
                let keep = earlier.len().min(inner_h - lines.len());
                earlier.drain(..earlier.len() - keep);
                earlier.append(&mut lines);
                lines = earlier;
            }
        }
        lines.truncate(inner_h.max(1));
        if let Some(q) = app.search.as_ref().filter(|q| !q.is_empty()) {
            let q = q.to_lowercase();
            lines = lines
                .into_iter()
                .map(|l| {
                    if l.to_string().to_lowercase().contains(&q) {
                        l.patch_style(app.theme.search)
                    } else {
                        l
                    }
                })
                .collect();
        }
    }
    let title = if app.transcript.dropped() > 0 {
        format!(
            "Transcript ({} oldest rows dropped)",
            app.transcript.dropped()
        )
    } else if app.follow {
        "Transcript".to_owned()
    } else {
        format!("Transcript — row {}/{} (End: follow)", app.cursor + 1, n)
    };
    f.render_widget(
        Paragraph::new(lines).block(block(app, &title, focused)),
        area,
    );
}

fn draw_findings(f: &mut Frame, app: &App, area: Rect) {
    let focused = app.focus == Focus::Findings;
    let inner_h = area.height.saturating_sub(2) as usize;
    let width = area.width.saturating_sub(2) as usize;
    // Each finding wraps onto lines indented under its message.
    let finding_lines = |i: usize| -> Vec<Line> {
        let Some((fd, _)) = app.findings.get(i) else {
            return Vec::new();
        };
        let head = format!("{} {:<9} ", fd.severity.marker(), fd.rule.id);
        let section = fd.rule.rfc.split(',').next().unwrap_or_default();
        let rest = format!(
            "{section:<14} {}{}",
            if fd.suspected { "(suspected) " } else { "" },
            safe(&fd.message)
        );
        let indent = head.chars().count();
        let room = width.saturating_sub(indent).max(8);
        // In the focused panel the selected finding is wrapped whole; the others take a line
        // each, so the panel still gives the overview.
        let pieces = if focused && i == app.selected_finding {
            wrap(&rest, room, room)
        } else if rest.chars().count() > room {
            let mut cut: String = rest.chars().take(room.saturating_sub(1)).collect();
            cut.push('…');
            vec![cut]
        } else {
            vec![rest]
        };
        let mut out: Vec<Line> = pieces
            .into_iter()
            .enumerate()
            .map(|(k, piece)| {
                let lead = if k == 0 {
                    Span::styled(head.clone(), sev_style(app, fd.severity))
                } else {
                    Span::raw(" ".repeat(indent))
                };
                Line::from(vec![lead, Span::styled(piece, app.theme.server)])
            })
            .collect();
        if focused && i == app.selected_finding {
            out = out
                .into_iter()
                .map(|l| l.patch_style(app.theme.selection))
                .collect();
        }
        out
    };
    let lines: Vec<Line> = if app.findings.is_empty() {
        vec![Line::styled("no findings yet", app.theme.dim)]
    } else {
        // The selected finding is on screen, whole when it fits; earlier ones fill above it.
        let selected = app.selected_finding.min(app.findings.len() - 1);
        let mut first = selected;
        let mut used = finding_lines(selected).len();
        while first > 0 {
            let h = finding_lines(first - 1).len();
            if used + h > inner_h {
                break;
            }
            used += h;
            first -= 1;
        }
        let mut lines = Vec::with_capacity(inner_h);
        for i in first..app.findings.len() {
            if lines.len() >= inner_h {
                break;
            }
            lines.extend(finding_lines(i));
        }
        lines.truncate(inner_h.max(1));
        lines
    };
    let title = format!(
        "Findings ✖{} ⚠{} ℹ{}",
        app.counts.violation, app.counts.warning, app.counts.info
    );
    f.render_widget(
        Paragraph::new(lines).block(block(app, &title, focused)),
        area,
    );
}

fn draw_session(f: &mut Frame, app: &App, area: Rect) {
    let focused = app.focus == Focus::Session;
    let inner_h = area.height.saturating_sub(2) as usize;
    let width = area.width.saturating_sub(2) as usize;
    // Entries: a key, its value (server text made safe) and the value's style.
    let mut entries: Vec<(&str, String, Style)> = Vec::new();
    match &app.tls {
        Some(t) => {
            entries.push((
                "TLS",
                safe(&format!("{} {}", t.version, t.cipher)),
                app.theme.server,
            ));
            // Every certificate of the chain: the leaf first, then each issuer as sent.
            const CERT_KEYS: [&str; 8] = [
                "cert", "cert 1", "cert 2", "cert 3", "cert 4", "cert 5", "cert 6", "cert 7",
            ];
            for (c, key) in t.chain.iter().zip(CERT_KEYS) {
                entries.push((
                    key,
                    safe(&format!("{} (until {})", c.subject, c.not_after)),
                    app.theme.server,
                ));
            }
            if t.chain.len() > CERT_KEYS.len() {
                entries.push((
                    "cert …",
                    format!("{} more", t.chain.len() - CERT_KEYS.len()),
                    app.theme.dim,
                ));
            }
            let verdict = if t.insecure {
                format!("{} — NOT VERIFIED (--insecure)", t.verdict)
            } else {
                t.verdict.clone()
            };
            entries.push((
                "verdict",
                safe(&verdict),
                if t.verdict == "verified" && !t.insecure {
                    app.theme.state_visited
                } else {
                    app.theme.violation
                },
            ));
        }
        None => entries.push(("TLS", "none".into(), app.theme.server)),
    }
    let caps = &app.summary.caps;
    for (k, c) in [
        ("CAPA before TLS", &caps.pre_tls),
        ("CAPA", &caps.auth),
        ("CAPA after login", &caps.trans),
    ] {
        if let Some(c) = c {
            // Already display text (escaped where CAPA was parsed): escaped once, not twice.
            entries.push((k, safe(&c.summary()), app.theme.server));
        }
    }
    if let Some((n, o)) = app.summary.stat {
        entries.push((
            "maildrop",
            format!(
                "{}, {}",
                popscope_core::plural(n, "message"),
                popscope_core::plural(o, "octet")
            ),
            app.theme.server,
        ));
    }
    // Wrapped by hand so the panel knows its height and scrolls (↑↓ when focused).
    let mut lines: Vec<Line> = Vec::new();
    for (k, v, style) in entries {
        let key = format!("{k}: ");
        let first_room = width.saturating_sub(key.chars().count());
        for (i, piece) in wrap(&v, first_room, width.saturating_sub(2))
            .into_iter()
            .enumerate()
        {
            let lead = if i == 0 {
                Span::styled(key.clone(), app.theme.dim)
            } else {
                Span::raw("  ")
            };
            lines.push(Line::from(vec![lead, Span::styled(piece, style)]));
        }
    }
    let max_scroll = lines.len().saturating_sub(inner_h);
    app.session_max_scroll.set(max_scroll);
    let scroll = app.session_scroll.min(max_scroll);
    let title = if max_scroll > 0 {
        format!(
            "Session {}-{}/{}{}",
            scroll + 1,
            (scroll + inner_h).min(lines.len()),
            lines.len(),
            if focused {
                " ↑↓"
            } else {
                " (Tab here, ↑↓)"
            }
        )
    } else {
        "Session".to_owned()
    };
    let lines: Vec<Line> = lines.into_iter().skip(scroll).take(inner_h).collect();
    f.render_widget(
        Paragraph::new(lines).block(block(app, &title, focused)),
        area,
    );
}

fn draw_line(f: &mut Frame, app: &App, area: Rect) {
    let focused = app.focus == Focus::CommandLine;
    let prompt = if app.line.searching {
        "/ "
    } else if app.secret_mode() {
        "SASL › "
    } else {
        "› "
    };
    let text = app.masked_input();
    let mut spans = vec![
        Span::styled(prompt, app.theme.prompt),
        Span::styled(text.clone(), app.theme.input),
    ];
    if !app.line.completions.is_empty() {
        let c: Vec<String> = app.line.completions.iter().take(8).cloned().collect();
        spans.push(Span::styled(
            format!("   [{}]", c.join(" ")),
            app.theme.hint,
        ));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
    if focused && app.overlay.is_none() {
        let x = area.x
            + prompt.chars().count() as u16
            + text.chars().take(app.line.cursor).count() as u16;
        f.set_cursor_position((x.min(area.right().saturating_sub(1)), area.y));
    }
}

fn draw_footer(f: &mut Frame, app: &App, area: Rect) {
    let line = if let Some((m, err)) = &app.message {
        Line::styled(
            safe(m),
            if *err {
                app.theme.violation
            } else {
                app.theme.state_visited
            },
        )
    } else {
        let hints = keys::hints(&app.keys, app.focus.scope());
        let mut spans = Vec::new();
        for (i, (k, d)) in hints.iter().enumerate() {
            if i > 0 {
                spans.push(Span::styled(" · ", app.theme.hint));
            }
            spans.push(Span::styled(
                k.replace("backtab", "shift-tab"),
                app.theme.prompt,
            ));
            spans.push(Span::styled(format!(" {d}"), app.theme.hint));
        }
        if app.focus == Focus::CommandLine {
            spans.push(Span::styled(" · :help", app.theme.hint));
        }
        Line::from(spans)
    };
    f.render_widget(Paragraph::new(line), area);
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width.saturating_sub(2));
    let h = h.min(area.height.saturating_sub(2));
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// Help entries: a title (scope) or a key column and its description. Every binding of the
/// table is here, and every `:` command.
pub fn help_entries(app: &App) -> Vec<(Option<&'static str>, String, &'static str)> {
    let panels = [Scope::Transcript, Scope::Findings, Scope::Session];
    // Bindings every panel has are listed once, under "panels".
    let common = |b: &keys::Binding| {
        panels.contains(&b.scope)
            && panels.iter().all(|s| {
                app.keys.iter().any(|o| {
                    o.scope == *s && o.keys == b.keys && o.act == b.act && o.desc == b.desc
                })
            })
    };
    let of = |s: Scope| -> Vec<&keys::Binding> {
        app.keys
            .iter()
            .filter(|b| b.scope == s && !common(b))
            .collect()
    };
    let mut groups: Vec<(&'static str, Vec<&keys::Binding>)> = vec![
        (Scope::Global.title(), of(Scope::Global)),
        (Scope::CommandLine.title(), of(Scope::CommandLine)),
        (Scope::Editor.title(), of(Scope::Editor)),
        (
            "panels",
            app.keys
                .iter()
                .filter(|b| b.scope == Scope::Transcript && common(b))
                .collect(),
        ),
    ];
    for s in panels.into_iter().chain([
        Scope::HelpView,
        Scope::FindingView,
        Scope::Confirm,
        Scope::Replay,
    ]) {
        groups.push((s.title(), of(s)));
    }
    let mut out = Vec::new();
    for (title, bindings) in groups {
        if bindings.is_empty() {
            continue;
        }
        out.push((Some(title), String::new(), ""));
        // Bindings that do the same thing share a line: "up, k / down, j  move".
        let mut merged: Vec<(String, &'static str)> = Vec::new();
        for b in bindings {
            let k = b
                .keys
                .iter()
                .map(|k| if k == " " { "space" } else { k.as_str() })
                .collect::<Vec<_>>()
                .join(", ")
                .replace("backtab", "shift-tab");
            match merged.iter_mut().find(|(_, d)| *d == b.desc) {
                Some((keys, _)) => {
                    keys.push_str(" / ");
                    keys.push_str(&k);
                }
                None => merged.push((k, b.desc)),
            }
        }
        out.extend(merged.into_iter().map(|(k, d)| (None, k, d)));
    }
    out.push((Some("app commands"), String::new(), ""));
    out.push((None, "POP3 commands".to_owned(), "sent as typed"));
    for c in super::commands::COMMANDS {
        out.push((None, c.usage(), c.desc));
    }
    out
}

fn draw_help(f: &mut Frame, app: &App, area: Rect) {
    let entries = help_entries(app);
    let two_columns = entries.len() + 1 >= area.height.saturating_sub(4) as usize;
    let key_w = if two_columns { 12 } else { 20 };
    let mut lines: Vec<Line> = entries
        .into_iter()
        .map(|(title, k, d)| match title {
            Some(t) => Line::styled(t, app.theme.title),
            None => Line::from(vec![
                Span::styled(format!(" {k:<key_w$} "), app.theme.prompt),
                Span::styled(d, app.theme.server),
            ]),
        })
        .collect();
    let closes = keys::said(
        &keys::keys_of(&app.keys, Scope::HelpView, keys::Act::Close),
        3,
    );
    if !two_columns {
        app.help_max_scroll.set(0);
        lines.push(Line::styled(
            format!("{closes} closes this help"),
            app.theme.hint,
        ));
        let r = centered(area, 86, lines.len() as u16 + 2);
        f.render_widget(Clear, r);
        f.render_widget(Paragraph::new(lines).block(block(app, "Help", true)), r);
        return;
    }
    let half = lines.len().div_ceil(2);
    let r = centered(
        area,
        area.width.saturating_sub(2),
        (half as u16 + 2).min(area.height.saturating_sub(1)),
    );
    // Too many for both columns: they scroll together, a line at a time.
    let column = r.height.saturating_sub(2) as usize;
    let max_scroll = lines.len().saturating_sub(2 * column);
    app.help_max_scroll.set(max_scroll);
    let scroll = app.help_scroll.min(max_scroll);
    let (column, mut lines) = if max_scroll > 0 {
        (column, lines.split_off(scroll))
    } else {
        (half, lines)
    };
    let mut right: Vec<Line> = lines.split_off(column.min(lines.len()));
    right.truncate(column);
    f.render_widget(Clear, r);
    let title = if max_scroll > 0 {
        let more = keys::said(
            &keys::keys_of(&app.keys, Scope::HelpView, keys::Act::Down),
            1,
        );
        format!("Help — {closes} closes · {more} for more")
    } else {
        format!("Help — {closes} closes")
    };
    let outer = block(app, &title, true);
    let inner = outer.inner(r);
    f.render_widget(outer, r);
    let [a, b] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(inner);
    f.render_widget(Paragraph::new(lines), a);
    f.render_widget(Paragraph::new(right), b);
}

fn draw_finding(f: &mut Frame, app: &App, area: Rect, i: usize) {
    let Some((fd, row)) = app.findings.get(i) else {
        return;
    };
    let mut lines = vec![
        Line::from(vec![
            Span::styled(
                format!(
                    "{} {} {}",
                    fd.severity.marker(),
                    fd.rule.id,
                    fd.severity.as_str()
                ),
                sev_style(app, fd.severity),
            ),
            Span::styled(format!("   {}", fd.rule.rfc), app.theme.title),
        ]),
        Line::styled(fd.rule.summary, app.theme.dim),
        Line::raw(""),
        Line::styled(safe(&fd.message), app.theme.server),
        Line::raw(""),
    ];
    if fd.suspected {
        lines.push(Line::styled(
            "suspected: the only evidence is reply text, which RFC 1939 §9 says is not significant",
            app.theme.warning,
        ));
    }
    match app
        .transcript
        .index_of(*row)
        .and_then(|i| app.transcript.get(i))
    {
        Some(r) => lines.push(Line::styled(
            format!(
                "exchange {} — {} {}",
                fd.at.exchange,
                clock(app, r.time),
                r.text
            ),
            app.theme.dim,
        )),
        None => lines.push(Line::styled(
            format!(
                "exchange {} — its row was dropped (the oldest rows go past the cap)",
                fd.at.exchange
            ),
            app.theme.dim,
        )),
    }
    lines.push(Line::styled(
        "Esc closes; the transcript is at the exchange",
        app.theme.hint,
    ));
    let r = centered(area, 90, 14);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block(app, "Finding", true)),
        r,
    );
}

fn draw_confirm(f: &mut Frame, app: &App, area: Rect, line: &str, why: &str) {
    let confirm_key = |act| keys::said(&keys::keys_of(&app.keys, Scope::Confirm, act), 1);
    let lines = vec![
        Line::styled(
            format!(
                "Send \"{}\"?",
                popscope_core::sanitize::display(
                    popscope_core::redact::typed_form(line).as_bytes(),
                    60
                )
            ),
            app.theme.title,
        ),
        Line::raw(""),
        Line::styled(why.to_owned(), app.theme.warning),
        Line::raw(""),
        Line::from(vec![
            Span::styled(confirm_key(keys::Act::Yes), app.theme.prompt),
            Span::styled(
                " send it (marked deliberate in the transcript)   ",
                app.theme.server,
            ),
            Span::styled(confirm_key(keys::Act::No), app.theme.prompt),
            Span::styled(" back to editing", app.theme.server),
        ]),
    ];
    let r = centered(area, 78, 8);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block(app, "Confirm", true)),
        r,
    );
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wrap_breaks_at_spaces_and_cuts_long_words() {
        assert_eq!(wrap("aa bb cc", 5, 5), vec!["aa bb", "cc"]);
        assert_eq!(wrap("aa bb cc", 2, 8), vec!["aa", "bb cc"]);
        assert_eq!(wrap("abcdefgh", 3, 3), vec!["abc", "def", "gh"]);
        assert_eq!(wrap("", 3, 3), vec![""]);
        assert_eq!(wrap("x abcdefg", 4, 4), vec!["x", "abcd", "efg"]);
        assert_eq!(wrap("aa  bb", 3, 3), vec!["aa", "bb"]);
        for w in 1..12 {
            for l in wrap("TLS TLSv1.3 AES_256_GCM_SHA384  CAPA  X", w, w) {
                assert!(l.chars().count() <= w, "{w}: {l:?}");
            }
        }
    }
}
