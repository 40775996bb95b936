//! `serve --quirk CASE` for a client case (rules.md §3.19): the conformant session's octets
//! pass through the core's [`Injector`] on their way to the client, and the client's on their
//! way to the session. The cross-connection memory `login-delay` needs (when did this client
//! last log in) is [`Logins`], shared with the proxy's `--inject`.

use std::net::IpAddr;

use popscope_core::inject::{Action, Fault, FromClient, Injector, Start};

use crate::session::logins::Logins;

/// One connection's injection; with no fault, everything passes unchanged.
pub(super) struct Faults<'a> {
    injector: Option<Injector>,
    logins: &'a Logins,
    peer: IpAddr,
    login_recorded: bool,
}

impl<'a> Faults<'a> {
    pub(super) fn new(
        fault: Option<Fault>,
        client_tls: bool,
        logins: &'a Logins,
        peer: IpAddr,
    ) -> Self {
        let injector = fault.map(|f| {
            Injector::new(
                f,
                Start {
                    client_tls,
                    since_last_login: logins.since(peer),
                },
            )
        });
        Faults {
            injector,
            logins,
            peer,
            login_recorded: false,
        }
    }

    /// The session's octets: what the client gets.
    pub(super) fn served(&mut self, bytes: Vec<u8>) -> Vec<Action> {
        let Some(injector) = &mut self.injector else {
            return vec![Action::Send(bytes)];
        };
        let actions = injector.handle_server(&bytes);
        if injector.logged_in() && !self.login_recorded {
            self.login_recorded = true;
            self.logins.record(self.peer);
        }
        actions
    }

    /// The client's octets: what the session gets, and the injector's own answers.
    pub(super) fn handle_client(&mut self, bytes: &[u8]) -> FromClient {
        match &mut self.injector {
            Some(injector) => injector.handle_client(bytes),
            None => FromClient {
                forward: bytes.to_vec(),
                to_client: Vec::new(),
            },
        }
    }

    pub(super) fn on_client_tls(&mut self) {
        if let Some(injector) = &mut self.injector {
            injector.on_client_tls();
        }
    }
}
