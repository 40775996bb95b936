//! The one loop that runs the engine over a recorded session: `check --transcript`,
//! `replay --headless` and `export` (`transcript::replay`), the replay UI (`tui::offline`) and
//! `replay --against` (`cli::compare`) all drive the engine through here, each with its own
//! [`Drive`] sink, so they all see the same events at the same times.
//!
//! The clock: an entry happens at its recorded time (JSON Lines `t`); an entry without one
//! (the text format, an import) happens 1 ms after the one before it; `-- idle N` moves the
//! clock on by N seconds after its own step. Time-based rules (the autologout timer,
//! TMO-001/TMO-002) therefore judge a text transcript's `-- idle` the same way wherever it is
//! replayed.
//!
//! The engine's configuration is the caller's: the replay UI starts it in the TLS handshake
//! when the recording begins with one (implicit TLS, as the recording session did); the
//! re-check does not, so its `states:` line begins at the greeting.

use popscope_core::{Config, Engine, Event, EventSink, Session, Time, TransportEvent};

use super::text::{Entry, Item};

/// How far the clock moves for an entry without a recorded time, in microseconds.
const STEP: u64 = 1_000;

/// What a replay does with each step of the recording. Only [`Drive::event`] is required.
pub trait Drive {
    /// `entry` is about to be fed at `now` (every entry, `-- idle` included).
    fn entry(&mut self, now: Time, entry: &Entry) {
        let _ = (now, entry);
    }

    /// The recording's `n`-th TLS handshake (from 0) is about to be fed at `now`: a JSON Lines
    /// recording keeps its details in its n-th `tls` record.
    fn handshake(&mut self, now: Time, n: usize, cert_requested: bool, client_cert: bool) {
        let _ = (now, n, cert_requested, client_cert);
    }

    /// What the engine made of the entry fed at `now`, as it comes (a long body is never
    /// collected first).
    fn event(&mut self, now: Time, event: Event<'_>);

    /// The recording is over: what the engine made of the whole session.
    fn end(&mut self, session: &Session) {
        let _ = session;
    }
}

/// Feeds a recording entry by entry (so a file can be driven as it is read, in bounded memory).
pub struct Driver {
    engine: Engine,
    now: Time,
    handshakes: usize,
}

impl Driver {
    pub(crate) fn new(config: Config) -> Driver {
        Driver {
            engine: Engine::new(config),
            now: Time::default(),
            handshakes: 0,
        }
    }

    /// Feeds one entry at its time (see the module's clock) and hands each step to `sink`.
    pub(crate) fn feed<D: Drive + ?Sized>(&mut self, entry: &Entry, sink: &mut D) {
        let now = entry.at.unwrap_or(Time(self.now.0.saturating_add(STEP)));
        self.now = now;
        sink.entry(now, entry);
        let mut out = At { now, sink };
        match &entry.item {
            Item::Client(bytes) => self.engine.handle_client(now, bytes, &mut out),
            Item::Server(bytes) => self.engine.handle_server(now, bytes, &mut out),
            Item::Transport(ev) => {
                if let TransportEvent::TlsEstablished {
                    cert_requested,
                    client_cert,
                } = *ev
                {
                    out.sink
                        .handshake(now, self.handshakes, cert_requested, client_cert);
                    self.handshakes += 1;
                }
                self.engine.handle_transport(now, *ev, &mut out);
            }
            Item::Idle { seconds } => {
                self.now = Time(now.0.saturating_add((seconds * 1e6) as u64));
            }
        }
    }

    /// Ends the recording: tells `sink`, and hands back the session as the engine left it.
    pub(crate) fn finish<D: Drive + ?Sized>(self, sink: &mut D) -> Session {
        sink.end(self.engine.session());
        self.engine.into_session()
    }
}

/// Feeds every entry in order to a fresh engine, then ends the recording.
pub fn drive<D: Drive + ?Sized>(entries: &[Entry], config: Config, sink: &mut D) -> Session {
    let mut driver = Driver::new(config);
    for e in entries {
        driver.feed(e, sink);
    }
    driver.finish(sink)
}

/// The engine's events, stamped with the time of the entry that caused them.
struct At<'a, D: ?Sized> {
    now: Time,
    sink: &'a mut D,
}

impl<D: Drive + ?Sized> EventSink for At<'_, D> {
    fn event(&mut self, event: Event<'_>) {
        self.sink.event(self.now, event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The times each entry and each event were handed out at.
    #[derive(Default)]
    struct Clock {
        entries: Vec<u64>,
        events: Vec<u64>,
        handshakes: Vec<usize>,
        ended: bool,
    }

    impl Drive for Clock {
        fn entry(&mut self, now: Time, _: &Entry) {
            self.entries.push(now.0);
        }
        fn handshake(&mut self, _: Time, n: usize, _: bool, _: bool) {
            self.handshakes.push(n);
        }
        fn event(&mut self, now: Time, _: Event<'_>) {
            self.events.push(now.0);
        }
        fn end(&mut self, _: &Session) {
            self.ended = true;
        }
    }

    #[test]
    fn recorded_times_are_kept_and_the_rest_step_a_millisecond_and_idle_moves_on() {
        let e = |item, at: Option<u64>| Entry {
            line: 0,
            item,
            at: at.map(Time),
        };
        let entries = [
            e(Item::Server(b"+OK ready\r\n".to_vec()), None),
            e(Item::Client(b"NOOP\r\n".to_vec()), None),
            e(Item::Idle { seconds: 2.5 }, None),
            e(Item::Server(b"+OK\r\n".to_vec()), None),
            e(Item::Client(b"NOOP\r\n".to_vec()), Some(9_000_000)),
            e(Item::Server(b"+OK\r\n".to_vec()), None),
        ];
        let mut clock = Clock::default();
        drive(&entries, Config::default(), &mut clock);
        assert_eq!(
            clock.entries,
            [1_000, 2_000, 3_000, 2_504_000, 9_000_000, 9_001_000]
        );
        assert!(clock.events.contains(&2_504_000), "{:?}", clock.events);
        assert!(clock.ended);
    }

    #[test]
    fn handshakes_are_counted_in_order() {
        let tls = || Entry {
            line: 0,
            item: Item::Transport(TransportEvent::TlsEstablished {
                cert_requested: false,
                client_cert: false,
            }),
            at: None,
        };
        let mut clock = Clock::default();
        drive(&[tls(), tls()], Config::default(), &mut clock);
        assert_eq!(clock.handshakes, [0, 1]);
    }
}
