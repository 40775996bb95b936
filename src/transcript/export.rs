//! Exports of a recording: the text format (C:/S: lines), and an evidence bundle for a bug
//! report (one Markdown file: the redacted transcript, TLS details and certificate chain,
//! capabilities before and after TLS, findings with their RFC references, popscope's version).

use std::fmt::Write as _;

use crate::protocol::{Config, TransportEvent};
use crate::transport::TlsDetails;

use super::jsonl::Session;
use super::text::{Entry, Item, escape};

/// The text format, byte for byte: client and server octets cut into lines at LF.
pub fn to_text(entries: &[Entry]) -> String {
    let mut out = String::new();
    for e in entries {
        match &e.item {
            Item::Client(b) | Item::Server(b) => {
                let tag = if matches!(e.item, Item::Client(_)) {
                    "C:"
                } else {
                    "S:"
                };
                for line in b.split_inclusive(|&c| c == b'\n') {
                    let _ = writeln!(out, "{tag} {}", escape(line));
                }
            }
            Item::Transport(ev) => {
                let _ = writeln!(out, "{}", directive(ev));
            }
            Item::Idle { seconds } => {
                let _ = writeln!(out, "-- idle {seconds}");
            }
        }
    }
    out
}

fn directive(ev: &TransportEvent) -> String {
    match ev {
        TransportEvent::TlsEstablished {
            cert_requested,
            client_cert,
        } => {
            let mut s = "-- tls".to_owned();
            if *client_cert {
                s.push_str(" client-cert");
            } else if *cert_requested {
                s.push_str(" cert-requested");
            }
            s
        }
        TransportEvent::TlsFailed { reason } => format!(
            "-- tls-failed {}",
            match reason {
                crate::protocol::TlsFailure::PlaintextFromServer => "plaintext",
                crate::protocol::TlsFailure::ServerAlert => "alert",
                crate::protocol::TlsFailure::ClientAborted => "client",
            }
        ),
        TransportEvent::ServerClosed { close_notify: true } => "-- closed".into(),
        TransportEvent::ServerClosed {
            close_notify: false,
        } => "-- closed no-close-notify".into(),
        TransportEvent::ClientClosed => "-- client-closed".into(),
        TransportEvent::Timeout => "-- timeout".into(),
    }
}

fn tls_section(out: &mut String, t: &TlsDetails) {
    let _ = writeln!(
        out,
        "- {} {} {}",
        t.version,
        t.cipher,
        t.group.clone().unwrap_or_default()
    );
    let _ = writeln!(
        out,
        "- verification: {}{}",
        t.verdict,
        if t.insecure {
            " (--insecure: NOT VERIFIED)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "- client certificate: {}",
        if t.client_cert_sent {
            "sent"
        } else if t.cert_requested {
            "requested, none sent"
        } else {
            "not requested"
        }
    );
    for (i, c) in t.chain.iter().enumerate() {
        let _ = writeln!(
            out,
            "- certificate {i}: {} (issuer {}), valid {} to {}",
            c.subject, c.issuer, c.not_before, c.not_after
        );
        if !c.sans.is_empty() {
            let _ = writeln!(out, "  - names: {}", c.sans.join(", "));
        }
        let _ = writeln!(out, "  - SHA-256 {}", c.sha256);
    }
}

/// The evidence bundle for one recorded session.
pub fn bundle(source: &str, s: &Session) -> String {
    let r = super::replay(&s.entries, Config::default());
    let mut out = String::new();
    let _ = writeln!(out, "# POP3 session evidence\n");
    let _ = writeln!(out, "- server: {}", s.target);
    let _ = writeln!(out, "- recording: {source} (secrets {})", s.secrets);
    let _ = writeln!(
        out,
        "- checked by popscope {} against its rule catalog\n",
        env!("CARGO_PKG_VERSION")
    );
    let summary = crate::report::Summary::of(r.findings.iter().map(|f| &f.finding));
    let _ = writeln!(out, "## Findings: {}\n", summary.counts());
    for lf in &r.findings {
        let f = &lf.finding;
        let _ = writeln!(
            out,
            "- **{} {}** ({}; exchange {}){}: {}",
            f.rule.id,
            f.severity.as_str(),
            f.rule.rfc,
            f.at.exchange,
            if f.suspected { " — suspected" } else { "" },
            f.message
        );
    }
    let _ = writeln!(out, "\n## State transitions\n");
    for t in &r.transitions {
        let _ = writeln!(
            out,
            "- {} → {}{}: {}",
            t.from.name(),
            t.to.name(),
            if t.lawful {
                ""
            } else {
                " (not allowed by the RFC)"
            },
            t.reason
        );
    }
    let _ = writeln!(out, "\n## TLS\n");
    if s.tls.is_empty() {
        let _ = writeln!(out, "- none (plaintext session)");
    }
    for t in &s.tls {
        tls_section(&mut out, t);
    }
    let _ = writeln!(out, "\n## Capabilities\n");
    let caps = |c: &Option<crate::protocol::capability::Capabilities>| {
        c.as_ref().map_or("(not asked)".into(), |c| c.summary())
    };
    let _ = writeln!(out, "- before TLS: {}", caps(&r.session.caps.pre_tls));
    let _ = writeln!(out, "- before login: {}", caps(&r.session.caps.auth));
    let _ = writeln!(out, "- after login: {}", caps(&r.session.caps.trans));
    let _ = writeln!(out, "\n## Transcript (secrets redacted)\n\n```");
    out.push_str(&to_text(&s.entries));
    let _ = writeln!(out, "```");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::text;

    #[test]
    fn text_export_reimports_to_identical_bytes() {
        let entries = vec![
            Entry {
                line: 1,
                item: Item::Server(b"+OK ready\r\n".to_vec()),
                at: None,
            },
            Entry {
                line: 2,
                item: Item::Client(b"CAPA\r\nNOOP\r\n".to_vec()),
                at: None,
            },
            Entry {
                line: 3,
                item: Item::Server(b"+OK\r\nTOP\r\n.\r\n+ok \x1b[2J\n+OK partial".to_vec()),
                at: None,
            },
            Entry {
                line: 4,
                item: Item::Transport(TransportEvent::ServerClosed {
                    close_notify: false,
                }),
                at: None,
            },
        ];
        let back = text::parse(to_text(&entries).as_bytes()).unwrap_or_default();
        let bytes = |es: &[Entry], client: bool| -> Vec<u8> {
            es.iter()
                .filter_map(|e| match (&e.item, client) {
                    (Item::Client(b), true) | (Item::Server(b), false) => Some(b.clone()),
                    _ => None,
                })
                .flatten()
                .collect()
        };
        assert_eq!(bytes(&back, true), bytes(&entries, true));
        assert_eq!(bytes(&back, false), bytes(&entries, false));
        assert!(back.iter().any(|e| e.item
            == Item::Transport(TransportEvent::ServerClosed {
                close_notify: false
            })));
    }
}
