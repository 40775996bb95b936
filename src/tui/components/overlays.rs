//! The overlays that show one thing and take few keys: a finding's detail, and the dialog that
//! asks before a command is sent. Their keys are the `finding-detail` and `confirm` scopes.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use popscope_core::Finding;

use super::{View, block, centered, clock, safe, sev_style};
use crate::tui::keys::{self, Scope};
use crate::tui::transcript::Row;

/// The finding detail: the rule, its RFC, the message and where in the transcript it is.
pub(crate) fn finding(f: &mut Frame, area: Rect, v: &View, fd: &Finding, row: Option<&Row>) {
    let mut lines = vec![
        Line::from(vec![
            Span::styled(
                format!(
                    "{} {} {}",
                    fd.severity.marker(),
                    fd.rule.id,
                    fd.severity.as_str()
                ),
                sev_style(v.theme, fd.severity),
            ),
            Span::styled(format!("   {}", fd.rule.rfc), v.theme.title),
        ]),
        Line::styled(fd.rule.summary, v.theme.dim),
        Line::raw(""),
        Line::styled(safe(&fd.message), v.theme.server),
        Line::raw(""),
    ];
    if fd.suspected {
        lines.push(Line::styled(
            "suspected: the only evidence is reply text, which RFC 1939 §9 says is not significant",
            v.theme.warning,
        ));
    }
    match row {
        Some(r) => lines.push(Line::styled(
            format!(
                "exchange {} — {} {}",
                fd.at.exchange,
                clock(v.clock_base, r.time),
                r.text
            ),
            v.theme.dim,
        )),
        None => lines.push(Line::styled(
            format!(
                "exchange {} — its row was dropped (the oldest rows go past the cap)",
                fd.at.exchange
            ),
            v.theme.dim,
        )),
    }
    let closes = keys::said(
        &keys::keys_of(v.keys, Scope::FindingView, keys::Act::Close),
        1,
    );
    lines.push(Line::styled(
        format!("{closes} closes; the transcript is at the exchange"),
        v.theme.hint,
    ));
    let r = centered(area, 90, 14);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block(v.theme, "Finding", true)),
        r,
    );
}

/// Asks before sending `line` (shown masked), saying why.
pub(crate) fn confirm(f: &mut Frame, area: Rect, v: &View, line: &str, why: &str) {
    let confirm_key = |act| keys::said(&keys::keys_of(v.keys, Scope::Confirm, act), 1);
    let lines = vec![
        Line::styled(
            format!(
                "Send \"{}\"?",
                popscope_core::sanitize::display(
                    popscope_core::redact::typed_form(line).as_bytes(),
                    60
                )
            ),
            v.theme.title,
        ),
        Line::raw(""),
        Line::styled(why.to_owned(), v.theme.warning),
        Line::raw(""),
        Line::from(vec![
            Span::styled(confirm_key(keys::Act::Yes), v.theme.prompt),
            Span::styled(
                " send it (marked deliberate in the transcript)   ",
                v.theme.server,
            ),
            Span::styled(confirm_key(keys::Act::No), v.theme.prompt),
            Span::styled(" back to editing", v.theme.server),
        ]),
    ];
    let r = centered(area, 78, 8);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block(v.theme, "Confirm", true)),
        r,
    );
}
