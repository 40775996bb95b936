//! The client's side of the injector: which lines go on to the server, which it answers
//! itself, and what each forwarded line's reply will look like.

use super::lines::Piece;
use super::{Action, Awaited, Case, FromClient, Injector, LocalOauth, MAX_PENDING, Pending};
use crate::auth::b64encode;
use crate::command::{Command, Keyword};
use crate::oauth::Mechanism;
use crate::server::oauth::{OAUTHBEARER_ERROR, XOAUTH2_ERROR};

impl Injector {
    /// Octets from the client, split anywhere: every complete line is either forwarded (and
    /// its reply awaited) or answered by the injector, in order. After a close, nothing. A
    /// client with more than 4096 commands unanswered gets [`Action::Close`].
    pub fn handle_client(&mut self, bytes: &[u8]) -> FromClient {
        let mut result = FromClient::default();
        if self.closed {
            return result;
        }
        let mut lines = std::mem::take(&mut self.client_lines);
        lines.cut(bytes, |piece| {
            match piece {
                Piece::Line(line) => self.client_command(line, &mut result),
                // No server takes a command line this long: it goes on, and its one reply
                // (a refusal) is awaited when the line ends.
                Piece::Through(octets) => {
                    result.forward.extend_from_slice(octets);
                    if octets.ends_with(b"\n") {
                        self.queue.push_back(Pending::Server(Awaited {
                            keyword: Keyword::Other,
                            multiline: false,
                            greeting: false,
                            login: false,
                        }));
                    }
                }
            }
            true
        });
        self.client_lines = lines;
        if self.queue.len() > MAX_PENDING {
            result.to_client.push(Action::Close);
            self.closed = true;
            self.queue.clear();
            return result;
        }
        self.flush_local(&mut result.to_client);
        result
    }

    /// One client line, its line end included.
    fn client_command(&mut self, line: &[u8], result: &mut FromClient) {
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if let Some(step) = self.local_oauth.take() {
            let answer = self.oauth_step(step, content);
            self.queue.push_back(Pending::Local(answer));
            return;
        }
        if self.sasl_open {
            result.forward.extend_from_slice(line);
            self.queue.push_back(Pending::Server(Awaited {
                keyword: Keyword::Other,
                multiline: false,
                greeting: false,
                login: true,
            }));
            return;
        }
        let cmd = Command::parse(content, line.len());
        if let Some(answer) = self.local_answer(&cmd) {
            self.queue.push_back(Pending::Local(answer));
            return;
        }
        let k = cmd.keyword;
        let exchange = k == Keyword::Auth && cmd.mechanism().is_some();
        self.sasl_open = exchange;
        result.forward.extend_from_slice(line);
        self.queue.push_back(Pending::Server(Awaited {
            keyword: k,
            multiline: cmd.expects_multiline(),
            greeting: false,
            login: matches!(k, Keyword::Pass | Keyword::Apop) || exchange,
        }));
    }

    /// The injector's own reply to `cmd`, when the case answers it instead of the server.
    fn local_answer(&mut self, cmd: &Command) -> Option<Vec<u8>> {
        let k = cmd.keyword;
        let mechanism = cmd.mechanism();
        let logs_in = matches!(k, Keyword::Pass | Keyword::Apop) || mechanism.is_some();
        let line = |text: &str| Some(format!("{text}\r\n").into_bytes());
        match self.fault.case {
            Case::NoCapa if k == Keyword::Capa => line("-ERR CAPA not available"),
            Case::StlsRefused if k == Keyword::Stls => line("-ERR STLS not available now"),
            Case::PreAuth
                if self.client_tls
                    && (matches!(k, Keyword::User | Keyword::Pass | Keyword::Apop)
                        || mechanism.as_deref().is_some_and(|m| m != "EXTERNAL")) =>
            {
                line("-ERR already authenticated")
            }
            Case::OauthError => {
                let m = Mechanism::parse(mechanism.as_deref()?)?;
                match &cmd.secret {
                    // The message is on the AUTH line: whatever it says, the error challenge.
                    Some(_) => Some(self.error_challenge(m)),
                    None => {
                        self.local_oauth = Some(LocalOauth::Message(m));
                        Some(b"+ \r\n".to_vec())
                    }
                }
            }
            Case::InUse if logs_in => {
                line("-ERR [IN-USE] the maildrop is locked by another session")
            }
            Case::LoginDelay
                if logs_in
                    && self
                        .since_last_login
                        .is_some_and(|s| s < u64::from(self.fault.seconds)) =>
            {
                Some(
                    format!(
                        "-ERR [LOGIN-DELAY] wait {} seconds between logins\r\n",
                        self.fault.seconds
                    )
                    .into_bytes(),
                )
            }
            _ => None,
        }
    }

    /// The error challenge of RFC 7628 §3.2.2 for `m` (the demo server's own JSON); the
    /// client's dummy response comes next.
    fn error_challenge(&mut self, m: Mechanism) -> Vec<u8> {
        self.local_oauth = Some(LocalOauth::Dummy);
        let json = match m {
            Mechanism::OauthBearer => OAUTHBEARER_ERROR,
            Mechanism::XOauth2 => XOAUTH2_ERROR,
        };
        format!("+ {}\r\n", b64encode(json)).into_bytes()
    }

    /// A line of the exchange the injector runs: the client's message gets the error
    /// challenge; the dummy response (or anything else) `-ERR`; `*` cancels.
    fn oauth_step(&mut self, step: LocalOauth, line: &[u8]) -> Vec<u8> {
        match step {
            _ if line == b"*" => b"-ERR authentication cancelled\r\n".to_vec(),
            LocalOauth::Message(m) => self.error_challenge(m),
            LocalOauth::Dummy => b"-ERR [AUTH] invalid token\r\n".to_vec(),
        }
    }
}
