//! Exports of a recording: the text format (C:/S: lines), and an evidence bundle for a bug
//! report (one Markdown file: the redacted transcript, TLS details and certificate chain,
//! capabilities before and after TLS, findings with their RFC references, popscope's version).

use std::fmt::Write as _;
use std::io::Write;

use crate::transport::TlsDetails;
use popscope_core::TransportEvent;

use super::lines::LineWalker;
use super::source::Checked;
use super::text::{Entry, Item, escape};

/// The text format, byte for byte: client and server octets cut into lines at LF.
pub(crate) fn to_text(entries: &[Entry]) -> String {
    let mut out = Vec::new();
    for e in entries {
        // Writing into memory cannot fail.
        let _ = write_entry(&mut out, e, None);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Writes one entry as lines of the text format. With a walker (the bundle), each line begins
/// with its exchange number and client lines have their secrets masked.
pub(crate) fn write_entry(
    out: &mut dyn Write,
    e: &Entry,
    mut walker: Option<&mut LineWalker>,
) -> std::io::Result<()> {
    let pad = if walker.is_some() { "     " } else { "" };
    // One write per entry: formatting into a writer piece by piece is slow.
    let mut s = String::new();
    match &e.item {
        Item::Client(b) | Item::Server(b) => {
            let client = matches!(e.item, Item::Client(_));
            let tag = if client { "C:" } else { "S:" };
            for line in b.split_inclusive(|&c| c == b'\n') {
                match walker.as_deref_mut() {
                    Some(w) => {
                        let shown = w.line(client, line);
                        let _ = writeln!(s, "{:>4} {tag} {}", shown.exchange, escape(&shown.bytes));
                    }
                    None => {
                        s.push_str(tag);
                        s.push(' ');
                        s.push_str(&escape(line));
                        s.push('\n');
                    }
                }
            }
        }
        Item::Transport(ev) => {
            if let Some(w) = walker {
                w.transport(*ev);
            }
            let _ = writeln!(s, "{pad}{}", directive(ev));
        }
        Item::Idle { seconds } => {
            let _ = writeln!(s, "{pad}-- idle {seconds}");
        }
    }
    out.write_all(s.as_bytes())
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
                popscope_core::TlsFailure::PlaintextFromServer => "plaintext",
                popscope_core::TlsFailure::ServerAlert => "alert",
                popscope_core::TlsFailure::ClientAborted => "client",
            }
        ),
        TransportEvent::ServerClosed { close_notify: true } => "-- closed".into(),
        TransportEvent::ServerClosed {
            close_notify: false,
        } => "-- closed no-close-notify".into(),
        TransportEvent::ClientClosed => "-- client-closed".into(),
        TransportEvent::Timeout => "-- timeout".into(),
        TransportEvent::ClientLegStls { .. }
        | TransportEvent::ClientLegTls { .. }
        | TransportEvent::ClientStlsRefused => client_leg_directive(ev).unwrap_or_default(),
    }
}

/// What a proxy did on the client's leg, as a directive: `-- client-stls N` (or
/// `-- client-stls-failed N`; then ` cert` when the client showed a certificate, ` injected=K`
/// for reply lines served behind the `+OK`): the proxy answered the client's STLS, dropping N
/// octets sent behind it; `-- client-tls [cert]`: TLS with the client from its first octet;
/// `-- client-stls-refused`. None for the other events.
pub(crate) fn client_leg_directive(ev: &TransportEvent) -> Option<String> {
    Some(match *ev {
        TransportEvent::ClientLegStls {
            dropped_octets,
            established,
            client_cert,
            injected_replies,
        } => {
            let failed = if established { "" } else { "-failed" };
            let mut s = format!("-- client-stls{failed} {dropped_octets}");
            if client_cert {
                s.push_str(" cert");
            }
            if injected_replies > 0 {
                s.push_str(&format!(" injected={injected_replies}"));
            }
            s
        }
        TransportEvent::ClientLegTls { client_cert: true } => "-- client-tls cert".into(),
        TransportEvent::ClientLegTls { client_cert: false } => "-- client-tls".into(),
        TransportEvent::ClientStlsRefused => "-- client-stls-refused".into(),
        _ => return None,
    })
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

/// Which session of how many a bundle section describes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Part {
    /// From 1.
    pub(crate) number: usize,
    /// Sessions in the recording.
    pub(crate) of: usize,
    /// The first section of the bundle (it carries the title).
    pub(crate) first: bool,
}

/// The evidence bundle's sections for one recorded session, up to the opening of its
/// transcript (written next, line by line, by [`write_entry`] with a [`LineWalker`] that
/// masks secrets: a bundle is made to be shared, so it never holds one, whatever the
/// recording kept), and the closing of the transcript.
pub(crate) fn bundle_head(source: &str, s: &Checked, part: Part) -> String {
    let r = &s.replayed;
    let target = s.target.as_deref().unwrap_or("(unknown)");
    let mut out = String::new();
    if part.first {
        let _ = writeln!(out, "# POP3 session evidence\n");
    } else {
        let _ = writeln!(out, "\n---\n");
    }
    if part.of > 1 {
        let _ = writeln!(out, "# Session {} of {}\n", part.number, part.of);
    }
    let _ = writeln!(out, "- server: {}", target);
    let _ = writeln!(
        out,
        "- recording: {} (secrets {} in the recording; always redacted in this bundle)",
        popscope_core::sanitize::display(source.as_bytes(), 200),
        s.secrets.as_deref().unwrap_or("redacted")
    );
    let _ = writeln!(
        out,
        "- checked by popscope {} against its rule catalog\n",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(out, "## Findings: {}\n", r.tally().counts());
    if r.left_out.findings.total() > 0 {
        let _ = writeln!(
            out,
            "The first {} findings are listed; {} more ({}) are not.\n",
            r.findings.len(),
            r.left_out.findings.total(),
            r.left_out.findings.counts()
        );
    }
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
        // The reader made them safe; a no-op then, and a guard for any other source.
        tls_section(&mut out, &super::jsonl::shown_tls(t));
    }
    let _ = writeln!(out, "\n## Capabilities\n");
    let caps = |c: &Option<popscope_core::capability::Capabilities>| {
        c.as_ref().map_or("(not asked)".into(), |c| c.summary())
    };
    let _ = writeln!(out, "- before TLS: {}", caps(&r.session.caps.pre_tls));
    let _ = writeln!(out, "- before login: {}", caps(&r.session.caps.auth));
    let _ = writeln!(out, "- after login: {}", caps(&r.session.caps.trans));
    let _ = writeln!(
        out,
        "\n## Transcript (secrets redacted; each line begins with its exchange number)\n\n```"
    );
    out
}

/// Closes the transcript a [`bundle_head`] opened.
pub(crate) const BUNDLE_TAIL: &str = "```\n";

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
