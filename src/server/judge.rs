//! `serve --check-client`: one engine per connection, fed what the client sent and what the
//! demo server answered, in the order they happened, with the client rules on. The report of
//! each connection goes out when it ends.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use popscope_core::{Config, Engine, Event, EventSink, Finding, State, Time, TransportEvent};

use crate::report::ConnectionReport;
use crate::session::logins::LastLogins;

/// Findings kept per connection: a client that floods cannot grow the report without bound.
const MAX_FINDINGS: usize = 1000;

/// The judge of one connection; `None` inside when the server is not judging.
pub(crate) struct Watch {
    inner: Option<Judging>,
}

struct Judging {
    number: u64,
    client: SocketAddr,
    engine: Engine,
    start: std::time::Instant,
    findings: Vec<Finding>,
    left_out: usize,
    /// The session is under TLS: a close by the server then sends close_notify.
    tls: bool,
    closed: bool,
    reports: tokio::sync::mpsc::UnboundedSender<ConnectionReport>,
    earlier: Option<Arc<Mutex<LastLogins>>>,
    /// Why the server ended the connection, when it was not the session's end.
    error: Option<String>,
}

impl Watch {
    pub(crate) fn off() -> Watch {
        Watch { inner: None }
    }

    pub(crate) fn on(
        number: u64,
        client: SocketAddr,
        implicit_tls: bool,
        reports: tokio::sync::mpsc::UnboundedSender<ConnectionReport>,
    ) -> Watch {
        let config = Config {
            judge_client: true,
            implicit_tls,
            ..Config::default()
        };
        Watch {
            inner: Some(Judging {
                number,
                client,
                engine: Engine::new(config),
                start: std::time::Instant::now(),
                findings: Vec::new(),
                left_out: 0,
                tls: false,
                closed: false,
                reports,
                earlier: None,
                error: None,
            }),
        }
    }

    /// Judges logins across this client's connections too (CL-016), with `earlier`'s memory.
    pub(crate) fn remembering(mut self, earlier: Arc<Mutex<LastLogins>>) -> Watch {
        if let Some(j) = &mut self.inner {
            j.earlier = Some(earlier);
        }
        self
    }

    /// The server ends the connection for `why` (the client's silence): for the report.
    pub(crate) fn ended(&mut self, why: String) {
        if let Some(j) = &mut self.inner {
            j.error.get_or_insert(why);
        }
    }

    pub(crate) fn client(&mut self, bytes: &[u8]) {
        self.feed(|engine, at, sink| engine.handle_client(at, bytes, sink));
    }

    pub(crate) fn server(&mut self, bytes: &[u8]) {
        self.feed(|engine, at, sink| engine.handle_server(at, bytes, sink));
    }

    pub(crate) fn transport(&mut self, ev: TransportEvent) {
        if let Some(j) = &mut self.inner {
            j.tls |= matches!(ev, TransportEvent::TlsEstablished { .. });
            if matches!(
                ev,
                TransportEvent::ServerClosed { .. } | TransportEvent::ClientClosed
            ) {
                if j.closed {
                    return;
                }
                j.closed = true;
            }
        }
        self.feed(|engine, at, sink| engine.handle_transport(at, ev, sink));
    }

    /// The server closed the connection (under TLS with close_notify: tokio-rustls sends it
    /// on shutdown).
    pub(crate) fn server_closed(&mut self) {
        let close_notify = self.inner.as_ref().is_some_and(|j| j.tls);
        self.transport(TransportEvent::ServerClosed { close_notify });
    }

    fn feed(&mut self, f: impl FnOnce(&mut Engine, Time, &mut dyn EventSink)) {
        let Some(j) = &mut self.inner else { return };
        if j.engine.state() == State::Closed {
            return;
        }
        let at = Time(j.start.elapsed().as_micros() as u64);
        let findings = &mut j.findings;
        let left_out = &mut j.left_out;
        let mut keep = |ev: Event<'_>| {
            if let Event::Finding(f) = ev {
                if findings.len() < MAX_FINDINGS {
                    findings.push(f.as_ref().clone());
                } else {
                    *left_out += 1;
                }
            }
        };
        f(&mut j.engine, at, &mut keep);
    }
}

impl Drop for Watch {
    /// The connection is over, however it ended (an error included): its report goes out.
    fn drop(&mut self) {
        // A connection that ended without a close seen (a reset, an error) ends here.
        self.transport(TransportEvent::ClientClosed);
        let Some(mut j) = self.inner.take() else {
            return;
        };
        if let Some(earlier) = &j.earlier
            && let Ok(mut last) = earlier.lock()
            && let Some(f) = last.judge(j.client.ip(), j.start, j.engine.session())
        {
            j.findings.push(f);
        }
        let _ = j.reports.send(ConnectionReport {
            number: j.number,
            client: j.client,
            upstream: None,
            upstream_tls: None,
            final_state: j.engine.state(),
            findings: j.findings,
            findings_left_out: j.left_out,
            notes: Vec::new(),
            error: j.error,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judged(client: &[&[u8]], server: &[&[u8]]) -> ConnectionReport {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut w = Watch::on(1, "127.0.0.1:9".parse().unwrap(), false, tx);
        w.server(b"+OK hi\r\n");
        for (c, s) in client.iter().zip(server) {
            w.client(c);
            w.server(s);
        }
        drop(w);
        rx.try_recv().unwrap()
    }

    #[test]
    fn stls_pipelined_with_user_is_a_client_violation() {
        let r = judged(&[b"STLS\r\nUSER demo\r\n"], &[b"+OK go ahead\r\n"]);
        assert!(r.client_violated(), "{}", r.text());
        assert!(r.text().contains("CL-006"), "{}", r.text());
    }

    #[test]
    fn a_plain_capa_and_quit_break_no_client_rule() {
        // The control of the test above: the same STLS answered before USER is sent.
        let r = judged(
            &[b"CAPA\r\n", b"STLS\r\n", b"QUIT\r\n"],
            &[
                b"+OK\r\nUSER\r\nSTLS\r\n.\r\n",
                b"-ERR not now\r\n",
                b"+OK bye\r\n",
            ],
        );
        assert!(!r.client_violated(), "{}", r.text());
        assert!(!r.text().contains("CL-006"), "{}", r.text());
    }
}
