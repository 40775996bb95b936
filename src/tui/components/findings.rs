//! The findings panel: every finding of the session, one selected; Enter explains it and
//! puts the transcript at its row.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use popscope_core::{Finding, Tally};

use super::{Component, Internal, View, block, safe, sev_style, wrap};
use crate::tui::keys::Act;
use crate::tui::transcript::RowId;

#[derive(Debug, Default)]
pub struct FindingsPanel {
    /// Each finding with the row it is shown on (an id: rows move when the oldest go).
    pub list: Vec<(Finding, RowId)>,
    pub selected: usize,
    /// Each finding says whose behaviour it judges (the proxy sees both sides).
    pub(crate) sides: bool,
}

impl Component for FindingsPanel {
    fn act(&mut self, act: Act) -> Option<Internal> {
        match act {
            Act::Up => self.selected = self.selected.saturating_sub(1),
            Act::Down => self.selected = (self.selected + 1).min(self.list.len().saturating_sub(1)),
            Act::Open => {
                let (_, row) = self.list.get(self.selected)?;
                return Some(Internal::OpenFinding {
                    index: self.selected,
                    row: *row,
                });
            }
            _ => {}
        }
        None
    }
}

impl FindingsPanel {
    /// Draws the list under its title with the counts.
    pub(crate) fn draw(&self, f: &mut Frame, area: Rect, v: &View, counts: &Tally) {
        let focused = v.focused;
        let inner_h = area.height.saturating_sub(2) as usize;
        let width = area.width.saturating_sub(2) as usize;
        // Each finding wraps onto lines indented under its message.
        let finding_lines = |i: usize| -> Vec<Line> {
            let Some((fd, _)) = self.list.get(i) else {
                return Vec::new();
            };
            let side = match (self.sides, fd.rule.judges_client()) {
                (false, _) => "",
                (true, true) => "client ",
                (true, false) => "server ",
            };
            let head = format!("{} {side}{:<9} ", fd.severity.marker(), fd.rule.id);
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
            let pieces = if focused && i == self.selected {
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
                        Span::styled(head.clone(), sev_style(v.theme, fd.severity))
                    } else {
                        Span::raw(" ".repeat(indent))
                    };
                    Line::from(vec![lead, Span::styled(piece, v.theme.server)])
                })
                .collect();
            if focused && i == self.selected {
                out = out
                    .into_iter()
                    .map(|l| l.patch_style(v.theme.selection))
                    .collect();
            }
            out
        };
        let lines: Vec<Line> = if self.list.is_empty() {
            vec![Line::styled("no findings yet", v.theme.dim)]
        } else {
            // The selected finding is on screen, whole when it fits; earlier ones fill above it.
            let selected = self.selected.min(self.list.len() - 1);
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
            for i in first..self.list.len() {
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
            counts.violation, counts.warning, counts.info
        );
        f.render_widget(
            Paragraph::new(lines).block(block(v.theme, &title, focused)),
            area,
        );
    }
}
