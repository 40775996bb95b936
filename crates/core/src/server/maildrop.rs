//! The demo server's sample maildrop: small mail, a line that needs dot-stuffing, 8-bit
//! content, and a message of about 1 MB.

use std::sync::Arc;

/// A message as stored: CRLF line ends, not dot-stuffed.
#[derive(Clone, Debug)]
pub struct StoredMessage {
    /// The unique-id UIDL gives; it stays the same across sessions.
    pub uid: String,
    /// The message as RETR delivers it before dot-stuffing; LIST's size is its length.
    pub data: Arc<[u8]>,
}

fn crlf(text: &str) -> Vec<u8> {
    text.replace('\n', "\r\n").into_bytes()
}

/// The four sample messages, in order (uids `popscope-demo-0001` to `-0004`).
pub fn sample() -> Vec<StoredMessage> {
    let hello = crlf(
        "From: Alice <alice@example.net>\nTo: demo@localhost\nSubject: Welcome to popscope\nDate: Mon, 23 Nov 2026 09:00:00 +0000\nMessage-ID: <welcome@popscope.demo>\n\nThis is the popscope demo server.\nStep through the session by hand: LIST, RETR 1, TOP 2 3, UIDL, DELE, RSET, QUIT.\n",
    );
    let dots = crlf(
        "From: Bob <bob@example.net>\nTo: demo@localhost\nSubject: Lines that start with a dot\nMessage-ID: <dots@popscope.demo>\n\nThe next lines start with a dot and must be dot-stuffed on the wire:\n.hidden\n..two dots\n.\nThe line above was a lone dot. A server that forgets to stuff it ends the message early.\n",
    );
    let eight_bit = {
        let mut m = crlf(
            "From: =?UTF-8?Q?J=C3=B6rg?= <joerg@example.net>\nTo: demo@localhost\nSubject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\nMessage-ID: <8bit@popscope.demo>\n\n",
        );
        m.extend_from_slice(&crlf("Grüße aus Köln. 8-bit body text: ÄÖÜ äöü ß €.\n"));
        m
    };
    let large = {
        let mut m = crlf(
            "From: Carol <carol@example.net>\nTo: demo@localhost\nSubject: A large message (about 1 MB)\nMessage-ID: <large@popscope.demo>\n\n",
        );
        let mut i = 0u32;
        while m.len() < 1_000_000 {
            i += 1;
            let line = format!(
                "{i:06} The quick brown fox jumps over the lazy dog; pack my box with five dozen jugs.\r\n"
            );
            m.extend_from_slice(line.as_bytes());
        }
        m
    };
    [hello, dots, eight_bit, large]
        .into_iter()
        .enumerate()
        .map(|(i, data)| StoredMessage {
            uid: format!("popscope-demo-{:04}", i + 1),
            data: data.into(),
        })
        .collect()
}
