//! What the proxy changes between the legs: a client's `STLS` is answered by the proxy and
//! never reaches the server (popscope cannot read inside a TLS it does not terminate), and
//! the server's `STLS` line of a CAPA reply is kept from the client; with `--offer-stls` the
//! proxy lists its own `STLS` there instead, while the client's leg is plain. Pure byte
//! handling; the engine decides which server lines are CAPA's (see `judge`).

/// The proxy's answer to a client's STLS without `--offer-stls`.
pub(crate) const STLS_REFUSED: &[u8] = b"-ERR STLS is not offered through this popscope proxy\r\n";

/// The proxy's answer to an STLS it will follow with the handshake (`--offer-stls`).
pub(crate) const STLS_ACCEPTED: &[u8] = b"+OK begin TLS negotiation with the popscope proxy\r\n";

/// The proxy's answer to an STLS out of place: the client's leg is TLS already, or the
/// session is past AUTHORIZATION (RFC 2595 §4).
pub(crate) const STLS_OUT_OF_PLACE: &[u8] =
    b"-ERR STLS is only for the AUTHORIZATION state before TLS\r\n";

/// The CAPA line the proxy lists when it answers STLS itself.
pub(crate) const STLS_CAPABILITY: &[u8] = b"STLS\r\n";

/// A line (with or without its line end) that is the STLS command, or STLS in a CAPA list.
pub(crate) fn is_stls(line: &[u8]) -> bool {
    line.trim_ascii().eq_ignore_ascii_case(b"STLS")
}

/// Cuts a client's STLS lines out of its octet stream, wherever the reads split them. Only a
/// line start that could still become `STLS` is held back (at most a few octets), so
/// everything else goes on at once.
#[derive(Debug)]
pub(crate) struct ClientLines {
    at_line_start: bool,
    held: Vec<u8>,
}

impl Default for ClientLines {
    fn default() -> Self {
        ClientLines {
            at_line_start: true,
            held: Vec::new(),
        }
    }
}

/// A run of client octets for the server, or an STLS the proxy answers itself (each is
/// answered with [`STLS_REFUSED`] where it stands among the replies).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ClientPiece {
    Forward(Vec<u8>),
    Stls,
}

impl ClientLines {
    /// Splits one read, in order; `commands` is false while a SASL exchange is open (its
    /// response lines are base64, and `STLS` is valid base64).
    pub(crate) fn split(&mut self, bytes: &[u8], commands: bool) -> Vec<ClientPiece> {
        let mut data = std::mem::take(&mut self.held);
        data.extend_from_slice(bytes);
        let mut out = Vec::new();
        let mut run = Vec::new();
        for piece in data.split_inclusive(|&b| b == b'\n') {
            let complete = piece.ends_with(b"\n");
            let start = self.at_line_start;
            self.at_line_start = complete;
            if start && commands && complete && is_stls(piece) {
                if !run.is_empty() {
                    out.push(ClientPiece::Forward(std::mem::take(&mut run)));
                }
                out.push(ClientPiece::Stls);
            } else if start && commands && !complete && could_become_stls(piece) {
                self.held = piece.to_vec();
                self.at_line_start = true;
            } else {
                run.extend_from_slice(piece);
            }
        }
        if !run.is_empty() {
            out.push(ClientPiece::Forward(run));
        }
        out
    }
}

impl ClientPiece {
    /// Its octets on the wire.
    pub(crate) fn len(&self) -> usize {
        match self {
            ClientPiece::Forward(b) => b.len(),
            ClientPiece::Stls => b"STLS\r\n".len(),
        }
    }
}

impl ClientLines {
    /// What was held back, given up: the octets behind an STLS the proxy accepted.
    pub(crate) fn take_held(&mut self) -> Vec<u8> {
        self.at_line_start = true;
        std::mem::take(&mut self.held)
    }
}

/// The start of a line that may still turn out to be `STLS` CRLF.
fn could_become_stls(start: &[u8]) -> bool {
    start.len() <= 5
        && start
            .iter()
            .zip(b"STLS\r")
            .all(|(a, b)| a.eq_ignore_ascii_case(b))
}

#[cfg(test)]
mod tests {
    use super::ClientPiece::{Forward, Stls};
    use super::*;

    fn forward(v: &[u8]) -> ClientPiece {
        Forward(v.to_vec())
    }

    #[test]
    fn stls_lines_are_taken_out_where_they_stand() {
        let mut c = ClientLines::default();
        let s = c.split(b"CAPA\r\nstls\r\nUSER demo\r\n", true);
        assert_eq!(s, [forward(b"CAPA\r\n"), Stls, forward(b"USER demo\r\n")]);
    }

    #[test]
    fn an_stls_split_across_reads_is_still_found() {
        let mut c = ClientLines::default();
        assert_eq!(c.split(b"NOOP\r\nST", true), [forward(b"NOOP\r\n")]);
        assert_eq!(c.split(b"LS\r\n", true), [Stls]);
    }

    #[test]
    fn a_line_that_only_starts_like_stls_is_forwarded_whole() {
        let mut c = ClientLines::default();
        assert_eq!(c.split(b"ST", true), []);
        assert_eq!(c.split(b"AT\r\n", true), [forward(b"STAT\r\n")]);
    }

    #[test]
    fn stls_inside_a_line_or_a_sasl_exchange_is_not_a_command() {
        let mut c = ClientLines::default();
        assert_eq!(c.split(b"STLS\r\n", false), [forward(b"STLS\r\n")]);
        assert_eq!(c.split(b"USER STLS\r\n", true), [forward(b"USER STLS\r\n")]);
        assert_eq!(c.split(b"USER x", true), [forward(b"USER x")]);
        assert_eq!(c.split(b"STLS\r\n", true), [forward(b"STLS\r\n")]);
    }

    #[test]
    fn stls_in_a_capa_list_is_recognised() {
        assert!(is_stls(b"STLS"));
        assert!(is_stls(b"stls\r\n"));
        assert!(!is_stls(b"STLSX"));
        assert!(!is_stls(b"SASL PLAIN"));
    }
}
