//! The transcript panel: the rows, a cursor, following the end, and search.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Component, Internal, View, block, clock, sev_style};
use crate::tui::keys::Act;
use crate::tui::transcript::{Fold, Row, RowId, RowKind, Tag, Transcript};

/// Rows a page key moves.
const PAGE: isize = 20;

#[derive(Debug)]
pub struct TranscriptPanel {
    pub rows: Transcript,
    /// Cursor (a row index: it is moved when rows before it are dropped) and whether the view
    /// follows new rows.
    pub cursor: usize,
    pub follow: bool,
    /// The last search (`/`); matches are highlighted.
    pub(crate) search: Option<String>,
}

impl Default for TranscriptPanel {
    fn default() -> TranscriptPanel {
        TranscriptPanel {
            rows: Transcript::default(),
            cursor: 0,
            follow: true,
            search: None,
        }
    }
}

impl Component for TranscriptPanel {
    fn act(&mut self, act: Act) -> Option<Internal> {
        match act {
            Act::PageUp => self.move_cursor(-PAGE),
            Act::PageDown => self.move_cursor(PAGE),
            Act::Up => self.move_cursor(-1),
            Act::Down => self.move_cursor(1),
            Act::Top => {
                self.follow = false;
                self.cursor = 0;
            }
            Act::Bottom => self.follow_end(),
            Act::Open => {
                if let Some(f) = self.fold_at_cursor() {
                    f.expanded = !f.expanded;
                }
            }
            _ => {}
        }
        None
    }
}

impl TranscriptPanel {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn get(&self, i: usize) -> Option<&Row> {
        self.rows.get(i)
    }

    /// Appends a row; the cursor stays on its row when rows before it go.
    pub fn push(&mut self, row: Row) -> RowId {
        let dropped = self.rows.dropped();
        let id = self.rows.push(row);
        let cut = self.rows.dropped() - dropped;
        self.cursor = self
            .cursor
            .saturating_sub(usize::try_from(cut).unwrap_or(usize::MAX));
        id
    }

    /// The last fold of `exchange`'s reply.
    pub(crate) fn fold_of(&mut self, exchange: u32) -> Option<&mut Fold> {
        let i = self.rows.find_back(exchange, RowKind::Server)?;
        self.rows.get_mut(i)?.fold.as_deref_mut()
    }

    fn fold_at_cursor(&mut self) -> Option<&mut Fold> {
        self.rows.get_mut(self.cursor)?.fold.as_deref_mut()
    }

    /// Follows new rows again, from the last.
    pub(crate) fn follow_end(&mut self) {
        self.follow = true;
        self.cursor = self.rows.len().saturating_sub(1);
    }

    /// Puts the cursor on row `id`; false when that row was dropped (the cursor is then on
    /// the first row kept).
    pub(crate) fn go_to(&mut self, id: RowId) -> bool {
        self.follow = false;
        match self.rows.index_of(id) {
            Some(i) => {
                self.cursor = i;
                true
            }
            None => {
                self.cursor = 0;
                false
            }
        }
    }

    pub(crate) fn move_cursor(&mut self, by: isize) {
        let last = self.rows.len().saturating_sub(1);
        let c = (self.cursor as isize + by).clamp(0, last as isize) as usize;
        self.cursor = c;
        self.follow = c == last && by > 0;
    }

    /// Moves to the next (or previous) row that matches the search; the message to show when
    /// none does.
    pub(crate) fn search_step(&mut self, forward: bool) -> Option<String> {
        let q = self.search.clone().filter(|q| !q.is_empty())?;
        let q = q.to_lowercase();
        let n = self.rows.len();
        for step in 1..=n {
            let i = if forward {
                (self.cursor + step) % n
            } else {
                (self.cursor + n - step % n) % n
            };
            if self
                .rows
                .get(i)
                .is_some_and(|r| r.text.to_lowercase().contains(&q))
            {
                self.cursor = i;
                self.follow = false;
                return None;
            }
        }
        Some(format!("'{q}' not found"))
    }

    /// Draws the rows in view; `empty` is what an empty transcript says (connecting, failed).
    pub(crate) fn draw(&self, f: &mut Frame, area: Rect, v: &View, empty: &str) {
        let focused = v.focused;
        let inner_h = area.height.saturating_sub(2) as usize;
        let width = area.width.saturating_sub(2) as usize;
        let n = self.rows.len();
        let mut lines: Vec<Line> = Vec::with_capacity(inner_h);
        if n == 0 {
            let msg = empty.to_owned();
            lines.push(Line::styled(msg, v.theme.dim));
        } else {
            // Following: the last row at the bottom. Otherwise the cursor near the middle, but
            // never scrolled past the end (no blank rows below the last) and always on screen.
            let bottom = self.rows.top_for_bottom(n - 1, inner_h);
            let top = if self.follow {
                bottom
            } else {
                let cursor = self.cursor.min(n - 1);
                self.cursor
                    .saturating_sub(inner_h / 2)
                    .min(bottom)
                    .max(self.rows.top_for_bottom(cursor, inner_h))
            };
            let mut i = top;
            while lines.len() < inner_h && i < n {
                if let Some(row) = self.rows.get(i) {
                    let selected = focused && i == self.cursor;
                    lines.extend(row_lines(v, row, width, selected));
                }
                i += 1;
            }
            // Rows ran out before the panel did: fill from above, the tail of a taller row
            // included, so the last row sits on the bottom line.
            let mut above = top;
            while lines.len() < inner_h && above > 0 {
                above -= 1;
                if let Some(row) = self.rows.get(above) {
                    let selected = focused && above == self.cursor;
                    let mut earlier = row_lines(v, row, width, selected);
                    let keep = earlier.len().min(inner_h - lines.len());
                    earlier.drain(..earlier.len() - keep);
                    earlier.append(&mut lines);
                    lines = earlier;
                }
            }
            lines.truncate(inner_h.max(1));
            if let Some(q) = self.search.as_ref().filter(|q| !q.is_empty()) {
                let q = q.to_lowercase();
                lines = lines
                    .into_iter()
                    .map(|l| {
                        if l.to_string().to_lowercase().contains(&q) {
                            l.patch_style(v.theme.search)
                        } else {
                            l
                        }
                    })
                    .collect();
            }
        }
        let title = if self.rows.dropped() > 0 {
            format!("Transcript ({} oldest rows dropped)", self.rows.dropped())
        } else if self.follow {
            "Transcript".to_owned()
        } else {
            format!("Transcript — row {}/{} (End: follow)", self.cursor + 1, n)
        };
        f.render_widget(
            Paragraph::new(lines).block(block(v.theme, &title, focused)),
            area,
        );
    }
}

fn row_lines<'r>(v: &View, row: &'r Row, width: usize, selected: bool) -> Vec<Line<'r>> {
    let (dir, style) = match row.kind {
        RowKind::Client => ("C:", v.theme.client),
        RowKind::Server => ("S:", v.theme.server),
        RowKind::Note => ("──", v.theme.note),
        RowKind::Transition | RowKind::Annotation => ("  ", v.theme.dim),
    };
    let mut right = String::new();
    if let Some(sev) = row.severity {
        right.push_str(&format!(" {} {}", sev.marker(), row.rules.join(" ")));
    }
    if let Some(l) = row.latency_us {
        right.push_str(&format!("  {} ms", l / 1000));
    }
    let head = format!("{} {dir} ", clock(v.clock_base, row.time));
    let tag = row
        .tag
        .map(|t| format!(" ({})", t.label()))
        .unwrap_or_default();
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
    let tag_style = if row.tag.is_some_and(Tag::alarms) {
        v.theme.unlawful
    } else {
        v.theme.dim
    };
    let mut spans = vec![
        Span::styled(head, v.theme.time),
        Span::styled(
            text,
            if row.kind == RowKind::Transition && row.tag.is_some() {
                v.theme.unlawful
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
            sev_style(v.theme, sev),
        ));
        if let Some(l) = row.latency_us {
            spans.push(Span::styled(format!("  {} ms", l / 1000), v.theme.time));
        }
    } else if let Some(l) = row.latency_us {
        spans.push(Span::styled(format!("  {} ms", l / 1000), v.theme.time));
    }
    let mut line = Line::from(spans);
    if selected {
        line = line.patch_style(v.theme.selection);
    }
    let mut out = vec![line];
    if let Some(fold) = &row.fold {
        out.push(Line::styled(
            format!("{}    {}", " ".repeat(13), fold.summary()),
            v.theme.fold,
        ));
        if fold.expanded {
            for l in &fold.lines {
                let shown: String = l.chars().take(width.saturating_sub(20)).collect();
                out.push(Line::from(vec![
                    Span::raw(" ".repeat(17)),
                    Span::styled("│ ", v.theme.fold),
                    Span::styled(shown, v.theme.server),
                ]));
            }
        }
    }
    out
}
