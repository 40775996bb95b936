//! What one proxied connection produced, for programs (one JSON object) and for people (a
//! line and its findings).

use std::net::SocketAddr;

use serde_json::{Value, json};

use popscope_core::sanitize::display;
use popscope_core::{Finding, State, Tally};

/// The end of one client connection.
#[derive(Debug)]
pub struct ConnectionReport {
    /// From 1, in the order the clients connected.
    pub number: u64,
    pub client: SocketAddr,
    pub upstream: String,
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

/// Which side a rule judges.
fn side(f: &Finding) -> &'static str {
    if f.rule.judges_client() {
        "client"
    } else {
        "server"
    }
}

impl ConnectionReport {
    pub fn json(&self) -> Value {
        let findings: Vec<Value> = self
            .findings
            .iter()
            .map(|f| {
                let mut v = crate::report::finding_json(f, None);
                if let Some(obj) = v.as_object_mut() {
                    obj.insert("side".into(), json!(side(f)));
                }
                v
            })
            .collect();
        json!({
            "connection": self.number,
            "client": self.client.to_string(),
            "upstream": self.upstream,
            "upstream_tls": self.upstream_tls,
            "final_state": self.final_state.name(),
            "summary": Tally::of(&self.findings),
            "findings": findings,
            "findings_left_out": self.findings_left_out,
            "notes": self.notes,
            "error": self.error,
        })
    }

    /// One line for the connection, then one per finding and per note.
    pub fn text(&self) -> String {
        let mut out = format!(
            "connection {} from {} to {}: {}, ended in {}{}\n",
            self.number,
            self.client,
            self.upstream,
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
                side(f),
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
