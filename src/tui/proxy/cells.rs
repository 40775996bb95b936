//! The pieces both the table ([`super::table`]) and an opened connection ([`super::opened`])
//! draw: counts by side, a connection's status and age, a header line, the key hints.

use std::time::Duration;

use ratatui::style::Style;
use ratatui::text::{Line, Span};

use popscope_core::{Severity, Tally};

use super::connections::Connection;
use crate::tui::components::sev_style;
use crate::tui::theme::Theme;

/// `left`, then `right` against the right edge when there is room.
pub(super) fn padded<'a>(mut left: Vec<Span<'a>>, right: Vec<Span<'a>>, width: u16) -> Line<'a> {
    let used = |s: &[Span]| s.iter().map(|s| s.content.chars().count()).sum::<usize>();
    let (l, r) = (used(&left), used(&right));
    if l + r <= width as usize {
        left.push(Span::raw(" ".repeat(width as usize - l - r)));
        left.extend(right);
    }
    Line::from(left)
}

pub(super) fn add(total: &mut Tally, t: &Tally) {
    total.violation += t.violation;
    total.warning += t.warning;
    total.info += t.info;
}

/// `✖1 ⚠0 ℹ2`, a count coloured when it is not zero.
pub(super) fn counts(theme: &Theme, t: &Tally) -> Vec<Span<'static>> {
    [Severity::Violation, Severity::Warning, Severity::Info]
        .into_iter()
        .enumerate()
        .map(|(i, sev)| {
            let n = t.get(sev);
            let style = if n > 0 {
                sev_style(theme, sev)
            } else {
                theme.dim
            };
            let lead = if i == 0 { "" } else { " " };
            Span::styled(format!("{lead}{}{n}", sev.marker()), style)
        })
        .collect()
}

/// `client ✖0 ⚠1 ℹ0   server ✖1 ⚠0 ℹ0`: the counts of each side, for a header's right.
pub(super) fn sides(theme: &Theme, client: &Tally, server: &Tally) -> Vec<Span<'static>> {
    let mut spans = vec![Span::styled("client ", theme.dim)];
    spans.extend(counts(theme, client));
    spans.push(Span::styled("   server ", theme.dim));
    spans.extend(counts(theme, server));
    spans.push(Span::raw(" "));
    spans
}

pub(super) fn status(theme: &Theme, c: &Connection) -> (&'static str, Style) {
    match &c.ending {
        None => ("live", theme.state_current),
        Some(e) if e.error.is_some() => ("error", theme.violation),
        Some(_) => ("closed", theme.dim),
    }
}

pub(super) fn duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{}.{} s", s, d.subsec_millis() / 100),
        60..3600 => format!("{} m {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} m", s / 3600, (s / 60) % 60),
    }
}

pub(super) fn hints<'a>(theme: &Theme, keys: &[(&'a str, &'a str)]) -> Line<'a> {
    let mut spans = vec![Span::raw(" ")];
    for (i, (k, d)) in keys.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" · ", theme.hint));
        }
        spans.push(Span::styled(*k, theme.prompt));
        spans.push(Span::styled(format!(" {d}"), theme.hint));
    }
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration(Duration::from_millis(3_450)), "3.4 s");
        assert_eq!(duration(Duration::from_secs(65)), "1 m 05 s");
        assert_eq!(duration(Duration::from_secs(7_300)), "2 h 01 m");
    }
}
