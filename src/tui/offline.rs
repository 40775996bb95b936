//! The UI's state built from a recorded transcript, with no network: for `replay`, for tests
//! and for the render benchmark. The engine runs over the transcript exactly as it would live.

use crate::session::Note;
use crate::session::task::{Summary, Update};
use crate::transcript::{Entry, Item};
use crate::transport::TlsDetails;
use popscope_core::{Config, Engine, Event, Time, TransportEvent};

use super::App;

/// Feeds every entry to a fresh engine and the updates to `app`. Time advances 1 ms per entry
/// (plus `-- idle`).
pub fn load(app: &mut App, entries: &[Entry]) {
    load_with_tls(app, entries, &[]);
}

/// Like [`load`], with the TLS details a JSON Lines recording kept (its `tls` records, in
/// order): the n-th handshake shows the n-th record's version, cipher, chain and verdict. A
/// handshake without one (the text format keeps none) says it was recorded.
pub fn load_with_tls(app: &mut App, entries: &[Entry], tls: &[TlsDetails]) {
    let mut handshakes = 0usize;
    // A recording that begins with a handshake was implicit TLS (port 995).
    let implicit_tls = matches!(
        entries.first().map(|e| &e.item),
        Some(Item::Transport(TransportEvent::TlsEstablished { .. }))
    );
    let mut engine = Engine::new(Config {
        implicit_tls,
        ..Config::default()
    });
    let mut now = Time::default();
    app.apply(Update::Note(
        Time::default(),
        Note::Connected {
            addr: "(recorded session)".into(),
        },
    ));
    // Updates go to the app as they come: a recording with a 1 GB body must not become a
    // vector of a million owned events first.
    for e in entries {
        now = e.at.unwrap_or(Time(now.0.saturating_add(1_000)));
        let mut sink = |ev: Event<'_>| app.apply(Update::Event(now, ev.into_owned()));
        match &e.item {
            Item::Client(b) => engine.handle_client(now, b, &mut sink),
            Item::Server(b) => engine.handle_server(now, b, &mut sink),
            Item::Transport(ev) => {
                if let TransportEvent::TlsEstablished {
                    cert_requested,
                    client_cert,
                } = ev
                {
                    // Made safe once more (a no-op on a recording's already safe text): the
                    // header and the Session panel draw these fields as they are.
                    let details = tls
                        .get(handshakes)
                        .map(crate::transcript::jsonl::shown_tls)
                        .unwrap_or_else(|| TlsDetails {
                            version: "TLS".into(),
                            cipher: "(recorded)".into(),
                            cert_requested: *cert_requested,
                            client_cert_sent: *client_cert,
                            verdict: "recorded".into(),
                            ..TlsDetails::default()
                        });
                    handshakes += 1;
                    app.apply(Update::Note(now, Note::Tls(Box::new(details))));
                } else {
                    app.apply(Update::Note(now, Note::Transport(*ev)));
                }
                let mut sink = |ev: Event<'_>| app.apply(Update::Event(now, ev.into_owned()));
                engine.handle_transport(now, *ev, &mut sink);
            }
            Item::Idle { seconds } => now = Time(now.0.saturating_add((seconds * 1e6) as u64)),
        }
    }
    app.apply(Update::Snapshot(Box::new(Summary::of(
        engine.session(),
        false,
        false,
    ))));
}
