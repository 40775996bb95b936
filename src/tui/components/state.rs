//! The state panel: the RFC 1939 state diagram, the current state highlighted, the visited ones
//! marked, and why the session is where it is.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use popscope_core::State;

use super::sasl::SaslExchange;
use super::{View, block, safe};
use crate::transport::TlsDetails;

/// States kept in the path; the first (the greeting) always stays.
const MAX_PATH: usize = 64;

#[derive(Debug)]
pub(crate) struct StatePanel {
    /// States the session has been in, in order, and whether each entry was lawful.
    pub(crate) path: Vec<(State, bool)>,
    /// The session began with a TLS handshake (port 995): the diagram shows that step.
    pub(crate) implicit_tls: bool,
    pub(crate) last_reason: String,
    /// The last SASL exchange (AUTH with a mechanism), open or ended.
    pub(crate) sasl: Option<SaslExchange>,
}

impl Default for StatePanel {
    fn default() -> StatePanel {
        StatePanel {
            path: vec![(State::Greeting, true)],
            implicit_tls: false,
            last_reason: "connecting".into(),
            sasl: None,
        }
    }
}

impl StatePanel {
    /// A transition happened.
    pub(crate) fn entered(&mut self, t: &popscope_core::Transition) {
        self.implicit_tls |= t.from == State::TlsHandshake;
        self.path.push((t.to, t.lawful));
        if self.path.len() > MAX_PATH {
            self.path.remove(1);
        }
        self.last_reason = t.reason.clone();
    }

    /// The diagram: the canonical states, the current one highlighted, the visited ones marked.
    pub(crate) fn draw(
        &self,
        f: &mut Frame,
        area: Rect,
        v: &View,
        current: State,
        tls: Option<&TlsDetails>,
    ) {
        let visited = |pred: &dyn Fn(State) -> bool| self.path.iter().any(|(s, _)| pred(*s));
        let skipped = self
            .path
            .iter()
            .any(|(s, lawful)| *s == State::Transaction && !lawful);
        let mut nodes: Vec<(String, bool, bool, Option<&str>)> =
            vec![("connect".into(), false, true, None)];
        if self.implicit_tls || current == State::TlsHandshake {
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
                v.theme.state_current
            } else if seen {
                v.theme.state_visited
            } else {
                v.theme.state_pending
            };
            let mut spans = vec![
                Span::raw(if is_current { "▶" } else { " " }),
                Span::styled(name, style),
            ];
            if let Some(n) = note {
                spans.push(Span::styled(format!(" {n}"), v.theme.unlawful));
            }
            lines.push(Line::from(spans));
            if i != last && area.height as usize > 16 {
                lines.push(Line::styled("   │", v.theme.state_pending));
            }
        }
        let security = match (
            tls,
            self.path
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
        lines.push(Line::styled(security, v.theme.dim));
        if let Some(sasl) = &self.sasl {
            lines.extend(sasl.lines(v));
        }
        lines.push(Line::styled("why:", v.theme.dim));
        lines.push(Line::styled(safe(&self.last_reason), v.theme.server));
        let p = Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block(v.theme, "State", false));
        f.render_widget(p, area);
    }
}
