//! The UI's state built from a recorded transcript, with no network: for `replay`, for tests
//! and for the render benchmark. The engine runs over the transcript exactly as it would live.

use crate::session::Note;
use crate::session::task::{SaslSeen, Summary, Update};
use crate::transcript::jsonl::ClientSide;
use crate::transcript::{Drive, Entry, Item, drive};
use crate::transport::TlsDetails;
use crate::transport::tls::Verdict;
use popscope_core::{Config, Event, Session, Time, TransportEvent};

use super::App;

/// Feeds every entry to a fresh engine and the updates to `app`, on the clock of
/// [`crate::transcript::Driver`].
pub fn load(app: &mut App, entries: &[Entry]) {
    load_with_tls(app, entries, &[], ClientSide::default());
}

/// Like [`load`], with the TLS details a JSON Lines recording kept (its `tls` records, in
/// order): the n-th handshake shows the n-th record's version, cipher, chain and verdict. A
/// handshake without one (the text format keeps none) says it was recorded. `client`: how
/// the client rules judge the recorded client (as `check --transcript` does).
pub(crate) fn load_with_tls(
    app: &mut App,
    entries: &[Entry],
    tls: &[TlsDetails],
    client: ClientSide,
) {
    // A recording that begins with a handshake was implicit TLS (port 995).
    let implicit_tls = matches!(
        entries.first().map(|e| &e.item),
        Some(Item::Transport(TransportEvent::TlsEstablished { .. }))
    );
    app.apply(Update::Note(
        Time::default(),
        Note::Connected {
            addr: "(recorded session)".into(),
        },
    ));
    let config = client.configure(&Config {
        implicit_tls,
        ..Config::default()
    });
    let sasl = SaslSeen::default();
    drive(entries, config, &mut Loader { app, tls, sasl });
}

/// Hands the replay's updates to the app as they come: a recording with a 1 GB body must not
/// become a vector of a million owned events first.
struct Loader<'a> {
    app: &'a mut App,
    tls: &'a [TlsDetails],
    /// Response lines are shown as in a live session (a dummy as sent).
    sasl: SaslSeen,
}

impl Drive for Loader<'_> {
    fn entry(&mut self, now: Time, entry: &Entry) {
        match entry.item {
            // Told by `handshake`, with the recorded details.
            Item::Transport(TransportEvent::TlsEstablished { .. }) => {}
            Item::Transport(ev) => self.app.apply(Update::Note(now, Note::Transport(ev))),
            Item::Client(ref bytes) => self.sasl.client_wrote(bytes),
            _ => {}
        }
    }

    fn handshake(&mut self, now: Time, n: usize, cert_requested: bool, client_cert: bool) {
        // Made safe once more (a no-op on a recording's already safe text): the header and
        // the Session panel draw these fields as they are.
        let details = self
            .tls
            .get(n)
            .map(crate::transcript::jsonl::shown_tls)
            .unwrap_or_else(|| TlsDetails {
                version: "TLS".into(),
                cipher: "(recorded)".into(),
                cert_requested,
                client_cert_sent: client_cert,
                verdict: Verdict::Recorded,
                ..TlsDetails::default()
            });
        self.app
            .apply(Update::Note(now, Note::Tls(Box::new(details))));
    }

    fn event(&mut self, now: Time, event: Event<'_>) {
        match self.sasl.saw(now, &event) {
            Some(shown) => self.app.apply(shown),
            None => self.app.apply(Update::Event(now, event.into_owned())),
        }
    }

    fn end(&mut self, session: &Session) {
        self.app.apply(Update::Snapshot(Box::new(Summary::of(
            session, false, false,
        ))));
    }
}
