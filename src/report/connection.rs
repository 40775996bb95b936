//! What one judged connection produced — a client through `popscope proxy`, or one that
//! connected to `serve --check-client` — for programs (one JSON object) and for people (a
//! line and its findings).

use std::net::SocketAddr;

use serde_json::{Value, json};

use popscope_core::sanitize::display;
use popscope_core::{Finding, Severity, State, Tally};

/// The end of one client connection.
#[derive(Debug)]
pub struct ConnectionReport {
    /// From 1, in the order the clients connected.
    pub number: u64,
    pub client: SocketAddr,
    /// The server the proxy relayed to (None: the demo server itself answered).
    pub upstream: Option<String>,
    /// The upstream handshake in one line, under implicit TLS (made safe to show).
    pub(crate) upstream_tls: Option<String>,
    pub(crate) final_state: State,
    pub findings: Vec<Finding>,
    /// Findings beyond the ones kept (a flood of them).
    pub(crate) findings_left_out: usize,
    /// What the proxy did on its own (an STLS it answered).
    pub(crate) notes: Vec<String>,
    /// Why the connection ended, when it was not a close by either side.
    pub(crate) error: Option<String>,
}

impl ConnectionReport {
    /// The client broke a rule at violation severity (the server's findings do not count).
    pub fn client_violated(&self) -> bool {
        self.findings
            .iter()
            .any(|f| f.rule.judges_client() && f.severity == Severity::Violation)
    }

    pub fn json(&self) -> Value {
        let findings: Vec<Value> = self
            .findings
            .iter()
            .map(|f| super::finding_json(f, None))
            .collect();
        let mut v = json!({
            "connection": self.number,
            "client": self.client.to_string(),
            "final_state": self.final_state.name(),
            "summary": Tally::of(&self.findings),
            "findings": findings,
            "findings_left_out": self.findings_left_out,
            "notes": self.notes,
            "error": self.error,
        });
        if let (Some(upstream), Some(obj)) = (&self.upstream, v.as_object_mut()) {
            obj.insert("upstream".into(), json!(upstream));
            obj.insert("upstream_tls".into(), json!(self.upstream_tls));
        }
        v
    }

    /// Prints the report on stdout: its JSON object on one line, or its text.
    pub(crate) fn print(&self, json: bool) {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = if json {
            writeln!(out, "{}", self.json())
        } else {
            write!(out, "{}", self.text())
        };
        let _ = out.flush();
    }

    /// One line for the connection, then one per finding and per note.
    pub fn text(&self) -> String {
        let mut out = format!(
            "connection {} from {}{}: {}, ended in {}{}\n",
            self.number,
            self.client,
            self.upstream
                .as_deref()
                .map(|u| format!(" to {u}"))
                .unwrap_or_default(),
            Tally::of(&self.findings).counts(),
            self.final_state.name(),
            self.error
                .as_deref()
                .map(|e| format!(" ({})", display(e.as_bytes(), 200)))
                .unwrap_or_default(),
        );
        if let Some(tls) = &self.upstream_tls {
            out.push_str(&format!("  upstream TLS: {tls}\n"));
        }
        for f in &self.findings {
            out.push_str(&format!(
                "  {} {:<9} {:<6} {}\n",
                f.severity.marker(),
                f.rule.id,
                super::side(f.rule),
                display(f.message.as_bytes(), 300)
            ));
        }
        if self.findings_left_out > 0 {
            out.push_str(&format!(
                "  … and {} more findings\n",
                self.findings_left_out
            ));
        }
        for n in &self.notes {
            out.push_str(&format!("  note: {n}\n"));
        }
        out
    }
}
