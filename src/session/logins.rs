//! What popscope remembers of a client across its connections, where a client is its IP
//! address (a mail client opens each connection from a new port): [`LastLogins`], its last
//! session that logged in, for the one client rule that spans connections (CL-016, a login
//! again sooner than the LOGIN-DELAY the server advertised,
//! [`popscope_core::rules::cross::login_delay`]); and [`Logins`], when it last logged in, for
//! the `login-delay` case that refuses such a login (`serve --quirk`, `proxy --inject`). The
//! proxy and the demo server keep one of each for a run.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use popscope_core::{Finding, Session, Time};

/// Clients remembered at most; beyond it the one seen longest ago is forgotten, so a run with
/// many clients stays bounded.
const MAX_CLIENTS: usize = 4096;

#[derive(Default)]
pub struct LastLogins {
    clients: HashMap<IpAddr, Seen>,
}

struct Seen {
    /// When the connection opened, on the driver's clock: its session's [`Time`] 0.
    opened: Instant,
    session: Session,
}

impl LastLogins {
    /// Judges a connection that opened at `opened` and has ended against the same client's
    /// last one that logged in, and keeps it (when its login was accepted) as the one the
    /// next is judged by: LOGIN-DELAY counts from a login that happened.
    pub fn judge(&mut self, client: IpAddr, opened: Instant, session: &Session) -> Option<Finding> {
        let finding = self.clients.get(&client).and_then(|earlier| {
            let after = opened.checked_duration_since(earlier.opened)?;
            let after = Time(u64::try_from(after.as_micros()).unwrap_or(u64::MAX));
            popscope_core::rules::cross::login_delay(&earlier.session, session, after)
        });
        if session.accepted_login.is_some() {
            if self.clients.len() >= MAX_CLIENTS && !self.clients.contains_key(&client) {
                self.forget_oldest();
            }
            let session = session.logins_only();
            self.clients.insert(client, Seen { opened, session });
        }
        finding
    }

    fn forget_oldest(&mut self) {
        let oldest = self
            .clients
            .iter()
            .min_by_key(|(_, s)| s.opened)
            .map(|(ip, _)| *ip);
        if let Some(ip) = oldest {
            self.clients.remove(&ip);
        }
    }
}

/// When each client (by address: its port changes with every connection) last logged in.
#[derive(Default)]
pub struct Logins(Mutex<HashMap<IpAddr, Instant>>);

/// Addresses remembered at most: a client that comes from everywhere cannot grow the map
/// without bound (the oldest half is forgotten).
const MAX_TIMES: usize = 4096;

impl Logins {
    pub(crate) fn since(&self, peer: IpAddr) -> Option<u64> {
        let map = self.0.lock().ok()?;
        map.get(&peer).map(|t| t.elapsed().as_secs())
    }

    pub(crate) fn record(&self, peer: IpAddr) {
        if let Ok(mut map) = self.0.lock() {
            if map.len() >= MAX_TIMES {
                let mut times: Vec<Instant> = map.values().copied().collect();
                times.sort();
                let cut = times[times.len() / 2];
                map.retain(|_, t| *t > cut);
            }
            map.insert(peer, Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use popscope_core::{Config, Engine, Event};
    use std::time::Duration;

    /// A session that takes CAPA (advertising LOGIN-DELAY `delay`) and logs in with a
    /// password, answered `answer`, at 1 s on its clock.
    fn logged_in(delay: u32, answer: &[u8]) -> Session {
        let mut e = Engine::new(Config {
            judge_client: true,
            ..Config::default()
        });
        let mut sink = |_: Event<'_>| {};
        let at = |s: u64| Time(s * 1_000_000);
        e.handle_server(at(0), b"+OK hi\r\n", &mut sink);
        e.handle_client(at(0), b"CAPA\r\n", &mut sink);
        let capa = format!("+OK\r\nUSER\r\nLOGIN-DELAY {delay}\r\n.\r\n");
        e.handle_server(at(0), capa.as_bytes(), &mut sink);
        e.handle_client(at(0), b"USER demo\r\n", &mut sink);
        e.handle_server(at(0), b"+OK\r\n", &mut sink);
        e.handle_client(at(1), b"PASS demo\r\n", &mut sink);
        e.handle_server(at(1), answer, &mut sink);
        e.session().clone()
    }

    #[test]
    fn a_login_again_within_the_delay_is_cl016_and_one_after_it_is_not() {
        let start = Instant::now();
        let ip: IpAddr = [127, 0, 0, 1].into();
        let mut last = LastLogins::default();
        assert_eq!(last.judge(ip, start, &logged_in(60, b"+OK in\r\n")), None);
        let soon = start + Duration::from_secs(10);
        let refused = logged_in(60, b"-ERR [LOGIN-DELAY] wait\r\n");
        let f = last.judge(ip, soon, &refused);
        let f = f.unwrap_or_else(|| panic!("no CL-016"));
        assert_eq!(f.rule.id, "CL-016");
        assert_eq!(f.severity, popscope_core::Severity::Warning);
        // Another client is not this one's second login; a login past the delay is fine.
        let other: IpAddr = [127, 0, 0, 2].into();
        assert_eq!(last.judge(other, soon, &logged_in(60, b"+OK in\r\n")), None);
        // The refused login is not the one the next is measured from: this is 61 s after
        // the accepted one, and no finding.
        let later = start + Duration::from_secs(61);
        assert_eq!(last.judge(ip, later, &logged_in(60, b"+OK in\r\n")), None);
    }

    #[test]
    fn memory_is_bounded_by_forgetting_the_oldest_client() {
        let start = Instant::now();
        let mut last = LastLogins::default();
        let s = logged_in(60, b"+OK in\r\n");
        for i in 0..(MAX_CLIENTS as u32 + 10) {
            let ip: IpAddr = std::net::Ipv4Addr::from(i).into();
            last.judge(ip, start + Duration::from_millis(u64::from(i)), &s);
        }
        assert_eq!(last.clients.len(), MAX_CLIENTS);
        assert!(!last.clients.contains_key(&IpAddr::from([0, 0, 0, 0])));
    }
}
