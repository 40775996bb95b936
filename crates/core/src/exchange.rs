//! What the engine and the rules share about the conversation: a command and its reply
//! ([`Exchange`]), a multi-line reply in progress ([`Body`]), the last finished exchange
//! ([`Completed`]) and where in a stream something happened. The engine builds these; the
//! rule areas only read them, so neither needs the other's module.

use crate::command::{Command, Keyword, parse_msg_number};
use crate::event::{Direction, Location};
use crate::framer::Ending;
use crate::oauth::{ClientMessage, Mechanism};
use crate::response::Status;
use crate::state::State;

/// A client command waiting for, or getting, its reply.
#[derive(Debug)]
pub(crate) struct Exchange {
    /// The command's number in the session, from 1 (0 is the greeting).
    pub id: u32,
    /// The command as parsed.
    pub cmd: Command,
    /// Offset of the command in the client stream.
    pub offset: u64,
    /// Sent while another command was still unanswered.
    pub pipelined: bool,
    /// Sent before an earlier command's status line arrived: `pipelined` without the case of
    /// a multi-line body still open, which a client that read a malformed reply as single-line
    /// (ML-004) or as ended (ML-001) also meets. The client's pipelining (CL-005) is judged
    /// on this.
    pub ahead_of_reply: bool,
    /// Sent after `STLS` and before its reply: plaintext the server must not act on (TLS-004).
    pub injected: bool,
    /// State when the command was sent.
    pub state_at_send: State,
    /// How the command line ended on the wire (CL-011: CRLF, not a bare LF).
    pub line_end: Ending,
    /// The SASL exchange, for `AUTH mechanism`.
    pub sasl: Option<SaslExchange>,
}

impl Exchange {
    /// The command's keyword.
    pub(crate) fn keyword(&self) -> Keyword {
        self.cmd.keyword
    }
    /// Where the command starts in the client stream.
    pub(crate) fn client_at(&self) -> Location {
        client_at(self.id, self.offset)
    }
    /// The message number argument, when it is one.
    pub(crate) fn msg(&self) -> Option<u32> {
        self.cmd.arg(0).and_then(parse_msg_number)
    }
}

/// Progress of an `AUTH mechanism` exchange (RFC 5034 §4).
#[derive(Debug)]
pub(crate) struct SaslExchange {
    /// The mechanism named, as sent.
    pub mechanism: String,
    /// The AUTH line carried an initial response.
    pub initial_response: bool,
    /// Challenges the server sent so far.
    pub challenges: u32,
    /// A challenge came and the client has not answered it yet.
    pub awaiting_client: bool,
    /// The client's last response line: was it `*`, was it valid base64.
    pub last_client: Option<SaslClientLine>,
    /// The mechanism is XOAUTH2 or OAUTHBEARER.
    pub oauth: Option<Mechanism>,
    /// For XOAUTH2 and OAUTHBEARER, the client's first message (its initial response, or
    /// its first response line): the token message. None until it is sent.
    pub token_message: Option<ClientMessage>,
}

/// What the client's last SASL response line was.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SaslClientLine {
    /// It was `*`: the client cancelled.
    pub cancel: bool,
    /// It was valid base64 (a cancel counts as valid).
    pub valid_base64: bool,
    /// For XOAUTH2 and OAUTHBEARER, what the line held (None for `*`).
    pub oauth: Option<ClientMessage>,
    /// The line answers a challenge that came after the token message: for OAuth, the
    /// server's error challenge (RFC 7628 §3.2.3), which only the dummy or `*` may answer.
    pub after_token_message: bool,
}

impl SaslExchange {
    /// For XOAUTH2 and OAUTHBEARER: the client's latest message, when it is the dummy
    /// response that ends the login on the client's side (so only `-ERR` may follow,
    /// OAUTH-004). A lone `^A` or an empty line as the token message counts too; `*` does not
    /// (a cancel is SASL-003's).
    pub(crate) fn latest_dummy(&self) -> Option<ClientMessage> {
        let m = self.oauth?;
        let latest = match self.last_client {
            Some(last) => last.oauth?,
            None => self.token_message?,
        };
        latest.is_dummy(m).then_some(latest)
    }
}

/// What kind of data block is being received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyKind {
    /// A capability list.
    Capa,
    /// A scan listing.
    List,
    /// A unique-id listing.
    Uidl,
    /// A whole message.
    Retr,
    /// A message's headers and first body lines.
    Top,
    /// A language list.
    Lang,
    /// The mechanism list answering a bare `AUTH` (SASL-012).
    AuthMechanisms,
    /// An unknown command the server answered as multi-line.
    Other,
}

impl BodyKind {
    /// The data block a `+OK` to `k` introduces, when `k` expects one.
    pub(crate) fn of(k: Keyword) -> BodyKind {
        match k {
            Keyword::Capa => BodyKind::Capa,
            Keyword::List => BodyKind::List,
            Keyword::Uidl => BodyKind::Uidl,
            Keyword::Retr => BodyKind::Retr,
            Keyword::Top => BodyKind::Top,
            Keyword::Lang => BodyKind::Lang,
            Keyword::Auth => BodyKind::AuthMechanisms,
            _ => BodyKind::Other,
        }
    }

    /// Listings have a line grammar; a status line inside one is a reply that arrived early.
    pub(crate) fn is_listing(self) -> bool {
        !matches!(self, BodyKind::Retr | BodyKind::Top | BodyKind::Other)
    }
}

/// A multi-line reply in progress. What a rule area learns from its lines it keeps itself.
#[derive(Debug)]
pub(crate) struct Body {
    /// The exchange the body answers.
    pub ex: Exchange,
    /// What the body holds.
    pub kind: BodyKind,
    /// Data lines so far (the terminator not counted).
    pub lines: u64,
    /// Octets as a client gets them: unstuffed, CRLF line ends, no terminator.
    pub octets: u64,
    /// Offset of the `+OK` line in the server stream.
    pub reply_offset: u64,
}

/// The last finished exchange, for rules that look one step back.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Completed {
    /// The exchange's number (0: the greeting).
    pub id: u32,
    /// Its command's keyword.
    pub keyword: Keyword,
    /// How it was answered.
    pub status: Status,
    /// The answer was multi-line.
    pub multiline: bool,
}

/// A location in the server's stream.
pub(crate) fn server_at(exchange: u32, offset: u64) -> Location {
    Location {
        exchange,
        direction: Some(Direction::Server),
        offset,
    }
}

/// A location in the client's stream.
pub(crate) fn client_at(exchange: u32, offset: u64) -> Location {
    Location {
        exchange,
        direction: Some(Direction::Client),
        offset,
    }
}
