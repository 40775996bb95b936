//! Testing clients on purpose (rules.md §3.19), sans-IO: an [`Injector`] sits between a
//! healthy server and the client and makes the server misbehave toward the client in the way
//! one [`Case`] says. The demo server (`serve --quirk CASE`) runs its conformant session
//! through it, the proxy (`proxy --inject CASE`) its upstream.
//!
//! The injector is fed both directions and never touches a socket or a clock:
//!
//! - [`Injector::handle_client`]: the client's octets; returns what to forward to the server
//!   and what the client gets at once (the injector answers some commands itself);
//! - [`Injector::handle_server`]: the server's octets; returns what the client gets, in order:
//!   octets, a pause, a close ([`Action`]);
//! - [`Injector::on_client_tls`]: the client's leg became TLS (after STLS).
//!
//! It follows the replies as the engine does: one per command, in order, multi-line when the
//! command's positive reply is ([`Command::expects_multiline`](crate::Command::expects_multiline)),
//! a SASL exchange's lines being responses, not commands. An answer of its own waits for the
//! replies to the commands the client pipelined before it.

mod cases;
mod commands;
mod lines;
mod replies;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;

pub use cases::{
    CASES, Case, CaseInfo, Fault, LOGIN_DELAY_DEFAULT, LONG_UID_LEN, Leg, SLOW_REPLIES_DEFAULT,
};

use crate::command::Keyword;
use crate::oauth::Mechanism;

/// What the client gets next. The caller carries out a call's actions in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Write these octets to the client (one write: what must share a segment is in one).
    Send(Vec<u8>),
    /// Wait this many seconds before the next action.
    Pause(u32),
    /// Close the connection toward the client; nothing more goes either way.
    Close,
}

/// The client's octets, handled: what goes on to the server, what goes back to the client.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FromClient {
    /// Forward these octets to the server (the lines the injector did not answer itself).
    pub forward: Vec<u8>,
    /// Carry these out toward the client now (answers of the injector's own).
    pub to_client: Vec<Action>,
}

/// What the injector is told when the connection opens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Start {
    /// The client's leg is TLS from its first octet (implicit TLS).
    pub client_tls: bool,
    /// Seconds since this client's last successful login on an earlier connection, as the
    /// IO layer remembers it (`login-delay` refuses a login sooner than its LOGIN-DELAY);
    /// none when it has not logged in before.
    pub since_last_login: Option<u64>,
}

/// Whose reply the client is waiting for, in the order the client sent the commands.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Pending {
    /// The server's reply to a forwarded line.
    Server(Awaited),
    /// The injector's own reply, sent when its turn comes.
    Local(Vec<u8>),
}

/// A forwarded line whose reply the server owes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Awaited {
    /// The command's keyword; [`Keyword::Other`] for the greeting and SASL responses.
    keyword: Keyword,
    /// A positive reply is multi-line.
    multiline: bool,
    /// The greeting (no command asked for it).
    greeting: bool,
    /// A login (PASS, APOP, AUTH or a SASL response): a `+OK` means logged in.
    login: bool,
}

/// A bearer-token exchange the injector runs itself (`oauth-error`): what it waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LocalOauth {
    /// The client's message, after the empty `+ ` to an AUTH without initial response.
    Message(Mechanism),
    /// The dummy response, after the error challenge.
    Dummy,
}

/// Where the server's octets are in the reply being read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reading {
    /// The next line is a status line (or unsolicited).
    Status,
    /// Data lines of a multi-line reply to `keyword`.
    Body {
        keyword: Keyword,
        /// A CAPA: its SASL line was seen (`capa-differs-after-tls` adds one when not).
        sasl_seen: bool,
    },
}

/// Octets beyond this without a line end (either side) are not held further: the rest of
/// the line goes through as it is.
const MAX_LINE: usize = 64 << 10;

/// Commands awaiting a reply at most: a client that pipelines more without reading is
/// flooding, and the injector closes its connection (memory stays bounded).
const MAX_PENDING: usize = 4096;

/// One connection's fault injection: see the module docs for the contract.
#[derive(Debug)]
pub struct Injector {
    fault: Fault,
    client_tls: bool,
    since_last_login: Option<u64>,
    client_lines: lines::Lines,
    server_lines: lines::Lines,
    queue: VecDeque<Pending>,
    reading: Reading,
    /// A forwarded AUTH exchange is open: client lines are its responses.
    sasl_open: bool,
    local_oauth: Option<LocalOauth>,
    logged_in: bool,
    closed: bool,
}

impl Injector {
    /// An injector for one connection, before the greeting (which it expects from the
    /// server first).
    pub fn new(fault: Fault, start: Start) -> Injector {
        let greeting = Awaited {
            keyword: Keyword::Other,
            multiline: false,
            greeting: true,
            login: false,
        };
        Injector {
            fault,
            client_tls: start.client_tls,
            since_last_login: start.since_last_login,
            client_lines: lines::Lines::default(),
            server_lines: lines::Lines::default(),
            queue: VecDeque::from([Pending::Server(greeting)]),
            reading: Reading::Status,
            sasl_open: false,
            local_oauth: None,
            logged_in: false,
            closed: false,
        }
    }

    /// The fault it injects.
    pub fn fault(&self) -> Fault {
        self.fault
    }

    /// A login succeeded on this connection (the IO layer remembers when, for `login-delay`
    /// on the client's next connection).
    pub fn logged_in(&self) -> bool {
        self.logged_in
    }

    /// It closed the connection ([`Action::Close`]): it takes no more input.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The client's leg completed its TLS handshake after STLS. What the client sent behind
    /// STLS before the handshake was plaintext, which the server drops: so does the injector.
    pub fn on_client_tls(&mut self) {
        self.client_tls = true;
        self.client_lines.clear();
    }

    /// Sends the injector's own answers that have come to the head of the queue.
    fn flush_local(&mut self, out: &mut Vec<Action>) {
        while let Some(Pending::Local(_)) = self.queue.front() {
            if let Some(Pending::Local(bytes)) = self.queue.pop_front() {
                send(out, &bytes);
            }
        }
    }
}

/// Appends `bytes` to the last [`Action::Send`] of `out`, or starts one: octets that follow
/// each other go out in one write.
fn send(out: &mut Vec<Action>, bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    if let Some(Action::Send(last)) = out.last_mut() {
        last.extend_from_slice(bytes);
    } else {
        out.push(Action::Send(bytes.to_vec()));
    }
}
