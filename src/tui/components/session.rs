//! The session panel: TLS, the certificate chain and its verdict, the capabilities and the
//! maildrop; it scrolls when focused.

use std::cell::Cell;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Component, Internal, View, block, safe, wrap};
use crate::session::task::Summary;
use crate::transport::TlsDetails;
use crate::tui::keys::Act;

#[derive(Debug, Default)]
pub struct SessionPanel {
    /// First screen line shown.
    pub scroll: usize,
    /// The most it can scroll, as last drawn (layout, not state).
    pub max_scroll: Cell<usize>,
}

impl Component for SessionPanel {
    fn act(&mut self, act: Act) -> Option<Internal> {
        match act {
            Act::Up => self.scroll = self.scroll.saturating_sub(1),
            Act::Down => self.scroll = (self.scroll + 1).min(self.max_scroll.get()),
            _ => {}
        }
        None
    }
}

impl SessionPanel {
    pub(crate) fn draw(
        &self,
        f: &mut Frame,
        area: Rect,
        v: &View,
        tls: Option<&TlsDetails>,
        summary: &Summary,
    ) {
        let focused = v.focused;
        let inner_h = area.height.saturating_sub(2) as usize;
        let width = area.width.saturating_sub(2) as usize;
        // Entries: a key, its value (server text made safe) and the value's style.
        let mut entries: Vec<(&str, String, Style)> = Vec::new();
        match tls {
            Some(t) => {
                entries.push((
                    "TLS",
                    safe(&format!("{} {}", t.version, t.cipher)),
                    v.theme.server,
                ));
                // Every certificate of the chain: the leaf first, then each issuer as sent.
                const CERT_KEYS: [&str; 8] = [
                    "cert", "cert 1", "cert 2", "cert 3", "cert 4", "cert 5", "cert 6", "cert 7",
                ];
                for (c, key) in t.chain.iter().zip(CERT_KEYS) {
                    entries.push((
                        key,
                        safe(&format!("{} (until {})", c.subject, c.not_after)),
                        v.theme.server,
                    ));
                }
                if t.chain.len() > CERT_KEYS.len() {
                    entries.push((
                        "cert …",
                        format!("{} more", t.chain.len() - CERT_KEYS.len()),
                        v.theme.dim,
                    ));
                }
                let verdict = if t.insecure {
                    format!("{} — NOT VERIFIED (--insecure)", t.verdict)
                } else {
                    t.verdict.to_string()
                };
                entries.push((
                    "verdict",
                    safe(&verdict),
                    if t.verdict.is_verified() && !t.insecure {
                        v.theme.state_visited
                    } else {
                        v.theme.violation
                    },
                ));
            }
            None => entries.push(("TLS", "none".into(), v.theme.server)),
        }
        let caps = &summary.caps;
        for (k, c) in [
            ("CAPA before TLS", &caps.pre_tls),
            ("CAPA", &caps.auth),
            ("CAPA after login", &caps.trans),
        ] {
            if let Some(c) = c {
                // Already display text (escaped where CAPA was parsed): escaped once, not twice.
                entries.push((k, safe(&c.summary()), v.theme.server));
            }
        }
        if let Some((n, o)) = summary.stat {
            entries.push((
                "maildrop",
                format!(
                    "{}, {}",
                    popscope_core::plural(n, "message"),
                    popscope_core::plural(o, "octet")
                ),
                v.theme.server,
            ));
        }
        // Wrapped by hand so the panel knows its height and scrolls (↑↓ when focused).
        let mut lines: Vec<Line> = Vec::new();
        for (k, value, style) in entries {
            let key = format!("{k}: ");
            let first_room = width.saturating_sub(key.chars().count());
            for (i, piece) in wrap(&value, first_room, width.saturating_sub(2))
                .into_iter()
                .enumerate()
            {
                let lead = if i == 0 {
                    Span::styled(key.clone(), v.theme.dim)
                } else {
                    Span::raw("  ")
                };
                lines.push(Line::from(vec![lead, Span::styled(piece, style)]));
            }
        }
        let max_scroll = lines.len().saturating_sub(inner_h);
        self.max_scroll.set(max_scroll);
        let scroll = self.scroll.min(max_scroll);
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
            Paragraph::new(lines).block(block(v.theme, &title, focused)),
            area,
        );
    }
}
