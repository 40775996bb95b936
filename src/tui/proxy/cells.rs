//! The pieces both the table ([`super::table`]) and an opened connection ([`super::opened`])
//! draw besides the shared cells ([`crate::tui::table::cells`]): counts by side, a
//! connection's status.

use ratatui::style::Style;
use ratatui::text::Span;

use popscope_core::Tally;

use super::connections::Connection;
use crate::tui::table::cells::counts;
use crate::tui::theme::Theme;

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
