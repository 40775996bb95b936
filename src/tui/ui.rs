//! Drawing: the layout, the header and the footer; each panel and overlay draws itself
//! ([`super::components`]). Rendering borrows the state and never changes it; what is drawn
//! depends only on the visible rows, not on how long the session was.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use popscope_core::Severity;

use super::app::{App, Focus, Link, Overlay};
use super::components::{View, overlays, safe, sev_style};
use super::keys;

pub fn draw(f: &mut Frame, app: &App) {
    let panes = Panes::of(f.area());
    draw_header(f, app, panes.header);
    draw_session_panes(f, app, &panes, &empty_transcript(app));
    app.session.draw(
        f,
        panes.session,
        &view(app, app.focus == Focus::Session),
        app.tls.as_ref(),
        &app.summary,
    );
    // The terminal cursor is on the line only when nothing covers it.
    let line_focused = app.focus == Focus::CommandLine && app.overlay.is_none();
    app.line
        .draw(f, panes.line, &view(app, line_focused), app.secret_prompt());
    draw_footer(f, app, panes.footer);
    draw_overlay(f, app);
}

/// Where the parts of a session's screen go: also the layout of a connection opened in the
/// proxy's connections view.
pub(crate) struct Panes {
    pub(crate) header: Rect,
    pub(crate) state: Rect,
    pub(crate) transcript: Rect,
    pub(crate) findings: Rect,
    pub(crate) session: Rect,
    pub(crate) line: Rect,
    pub(crate) footer: Rect,
}

impl Panes {
    pub(crate) fn of(area: Rect) -> Panes {
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
        let [state, transcript] =
            Layout::horizontal([Constraint::Length(state_w), Constraint::Min(10)]).areas(main);
        let [findings, session] =
            Layout::horizontal([Constraint::Percentage(56), Constraint::Percentage(44)])
                .areas(bottom);
        Panes {
            header,
            state,
            transcript,
            findings,
            session,
            line,
            footer,
        }
    }
}

pub(crate) fn view(app: &App, focused: bool) -> View<'_> {
    View {
        theme: &app.theme,
        keys: &app.keys,
        clock_base: app.clock_base,
        focused,
    }
}

/// The state panel, the transcript (saying `empty` before its first row) and the findings,
/// where `panes` puts them.
pub(crate) fn draw_session_panes(f: &mut Frame, app: &App, panes: &Panes, empty: &str) {
    app.state_panel.draw(
        f,
        panes.state,
        &view(app, false),
        app.state,
        app.tls.as_ref(),
    );
    app.transcript.draw(
        f,
        panes.transcript,
        &view(app, app.focus == Focus::Transcript),
        empty,
    );
    app.findings.draw(
        f,
        panes.findings,
        &view(app, app.focus == Focus::Findings),
        &app.counts,
    );
}

/// The overlay over the whole screen, if one is open.
pub(crate) fn draw_overlay(f: &mut Frame, app: &App) {
    let area = f.area();
    match &app.overlay {
        Some(Overlay::Help) => app.help.draw(f, area, &view(app, true)),
        Some(Overlay::Finding(i)) => {
            if let Some((fd, row)) = app.findings.list.get(*i) {
                let row = app
                    .transcript
                    .rows
                    .index_of(*row)
                    .and_then(|i| app.transcript.get(i));
                overlays::finding(f, area, &view(app, true), fd, row);
            }
        }
        Some(Overlay::Confirm { line, why }) => {
            overlays::confirm(f, area, &view(app, true), line, why)
        }
        None => {}
    }
}

/// What the transcript says before its first row.
fn empty_transcript(app: &App) -> String {
    match &app.link {
        Link::Failed(e) => format!(
            "not connected: {}   (:reconnect to try again, q to quit)",
            safe(e)
        ),
        _ => format!("connecting to {}…   (q or Ctrl-C cancels)", app.target),
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
        (_, Some(t)) if t.verdict.is_verified() => format!("  {} ✓ verified", t.version),
        (_, Some(t)) if t.verdict.is_recorded() => format!("  {} (recorded session)", t.version),
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
            sev_style(&app.theme, sev)
        } else {
            app.theme.dim
        };
        spans.push(Span::styled(format!("{lead}{} {n}", sev.marker()), style));
    }
    spans.push(Span::raw(" "));
    f.render_widget(Paragraph::new(Line::from(spans)), area);
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
