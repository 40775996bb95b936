//! A transcript fed to a session view's observer as a live connection feeds it: the octets of
//! each side, the transport events, and what the engine made of them (tests/tui_proxy.rs,
//! tests/tui_fleet.rs).

use popscope::session::{Note, Observer};
use popscope::transcript::{Drive, Entry, Item, drive, text};
use popscope_core::{Config, Direction, Event, Time, TransportEvent};

/// Feeds `entries` to `observer`, the engine judging the client too when `judge_client` (the
/// proxy's judge does; a check judges the server).
pub fn feed(observer: &mut dyn Observer, entries: &[Entry], judge_client: bool) {
    struct Relay<'a>(&'a mut dyn Observer);
    impl Drive for Relay<'_> {
        fn entry(&mut self, now: Time, entry: &Entry) {
            match &entry.item {
                Item::Client(b) => self.0.wire(now, Direction::Client, b),
                Item::Server(b) => self.0.wire(now, Direction::Server, b),
                Item::Transport(TransportEvent::TlsEstablished { .. }) => {}
                Item::Transport(ev) => self.0.note(now, &Note::Transport(*ev)),
                Item::Idle { .. } => {}
            }
        }
        fn event(&mut self, now: Time, event: Event<'_>) {
            self.0.event(now, &event);
        }
    }
    let config = Config {
        judge_client,
        ..Config::default()
    };
    drive(entries, config, &mut Relay(observer));
}

/// [`feed`] of a transcript in the text format (C:/S: lines, -- events).
pub fn feed_text(observer: &mut dyn Observer, trace: &str, judge_client: bool) {
    let entries = text::parse(trace.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    feed(observer, &entries, judge_client);
}
