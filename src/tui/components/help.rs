//! The help overlay: every binding of the key table and every `:` command, grouped by where
//! they apply; it scrolls when the screen is too small for all of them.

use std::cell::Cell;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::{Component, Internal, View, block, centered};
use crate::tui::keys::{self, Act, Binding, Scope};

/// Lines a page key scrolls.
const PAGE: usize = 10;

#[derive(Debug, Default)]
pub struct HelpView {
    /// First line shown.
    pub scroll: usize,
    /// The most it can scroll, as last drawn (layout, not state).
    pub(crate) max_scroll: Cell<usize>,
}

impl Component for HelpView {
    fn act(&mut self, act: Act) -> Option<Internal> {
        let max = self.max_scroll.get();
        match act {
            Act::Up => self.scroll = self.scroll.saturating_sub(1),
            Act::Down => self.scroll = (self.scroll + 1).min(max),
            Act::PageUp => self.scroll = self.scroll.saturating_sub(PAGE),
            Act::PageDown => self.scroll = (self.scroll + PAGE).min(max),
            _ => {}
        }
        None
    }
}

/// Help entries: a title (scope) or a key column and its description. Every binding of the
/// table is here, and every `:` command.
pub fn entries(table: &[Binding]) -> Vec<(Option<&'static str>, String, &'static str)> {
    let panels = [Scope::Transcript, Scope::Findings, Scope::Session];
    // Bindings every panel has are listed once, under "panels".
    let common = |b: &keys::Binding| {
        panels.contains(&b.scope)
            && panels.iter().all(|s| {
                table.iter().any(|o| {
                    o.scope == *s && o.keys == b.keys && o.act == b.act && o.desc == b.desc
                })
            })
    };
    let of = |s: Scope| -> Vec<&keys::Binding> {
        table
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
            table
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
    for c in crate::tui::commands::COMMANDS {
        out.push((None, c.usage(), c.desc));
    }
    out
}

impl HelpView {
    /// Draws over `area`, in two columns when one does not fit, scrolling when two do not.
    pub(crate) fn draw(&self, f: &mut Frame, area: Rect, v: &View) {
        let entries = entries(v.keys);
        let two_columns = entries.len() + 1 >= area.height.saturating_sub(4) as usize;
        let key_w = if two_columns { 12 } else { 20 };
        let mut lines: Vec<Line> = entries
            .into_iter()
            .map(|(title, k, d)| match title {
                Some(t) => Line::styled(t, v.theme.title),
                None => Line::from(vec![
                    Span::styled(format!(" {k:<key_w$} "), v.theme.prompt),
                    Span::styled(d, v.theme.server),
                ]),
            })
            .collect();
        let closes = keys::said(&keys::keys_of(v.keys, Scope::HelpView, keys::Act::Close), 3);
        if !two_columns {
            self.max_scroll.set(0);
            lines.push(Line::styled(
                format!("{closes} closes this help"),
                v.theme.hint,
            ));
            let r = centered(area, 86, lines.len() as u16 + 2);
            f.render_widget(Clear, r);
            f.render_widget(Paragraph::new(lines).block(block(v.theme, "Help", true)), r);
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
        self.max_scroll.set(max_scroll);
        let scroll = self.scroll.min(max_scroll);
        let (column, mut lines) = if max_scroll > 0 {
            (column, lines.split_off(scroll))
        } else {
            (half, lines)
        };
        let mut right: Vec<Line> = lines.split_off(column.min(lines.len()));
        right.truncate(column);
        f.render_widget(Clear, r);
        let title = if max_scroll > 0 {
            let more = keys::said(&keys::keys_of(v.keys, Scope::HelpView, keys::Act::Down), 1);
            format!("Help — {closes} closes · {more} for more")
        } else {
            format!("Help — {closes} closes")
        };
        let outer = block(v.theme, &title, true);
        let inner = outer.inner(r);
        f.render_widget(outer, r);
        let [a, b] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
            .areas(inner);
        f.render_widget(Paragraph::new(lines), a);
        f.render_widget(Paragraph::new(right), b);
    }
}
