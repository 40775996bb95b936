//! Importers: sessions recorded by other tools, turned into transcript entries the engine can
//! check. `curl -v` and `curl --trace-ascii` logs, `openssl s_client` terminal logs, and
//! plaintext POP3 from pcap and pcapng captures (TCP reassembled per direction).
//!
//! Other tools lose information popscope would keep (curl does not log message bodies, line
//! ends become CRLF); each importer says what it had to assume, as `#` notes.
//!
//! Which format is which: [`curl()`] reads `curl -v` (`< ` and `> ` lines) and
//! `--trace-ascii` logs (`=> Send` and `<= Recv` blocks), sides as the log says; [`openssl()`]
//! reads `s_client` terminal logs, where the line ends under a terminal tell the sides, or
//! else they are inferred and the line is marked doubtful; [`pcap()`] reads pcap and pcapng
//! captures, octets and times as sent, TCP put back in order. `redact_imported` masks the
//! secrets of any of them (unless `--keep-secrets`).

mod curl;
mod openssl;
mod pcap;
mod redact;

pub use curl::curl;
pub use openssl::openssl;
pub use pcap::pcap;
pub(crate) use redact::redact_imported;

use super::text::{Entry, Item};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImportError {
    #[error("{0}")]
    Format(String),
}

/// What an import produced, and what it had to assume.
#[derive(Debug, Default)]
pub struct Imported {
    pub entries: Vec<Entry>,
    pub notes: Vec<String>,
    /// Per entry (missing ones are sure): whether the importer inferred which side the line
    /// is from rather than read it from the log. [`redact_imported`] masks such a line when it
    /// looks like a login, whichever side it was put on.
    pub(crate) doubtful: Vec<bool>,
}

impl Imported {
    /// An import whose every line is on the side the log says.
    fn sure(entries: Vec<Entry>, notes: Vec<String>) -> Imported {
        Imported {
            entries,
            notes,
            doubtful: Vec::new(),
        }
    }
}

/// An entry of a log, which has no times.
fn logged(line: usize, item: Item) -> Entry {
    Entry {
        line,
        item,
        at: None,
    }
}

/// A line of a log as the octets sent: the log lost its line end, CRLF is put back.
fn line_entry(line: usize, client: bool, text: &[u8]) -> Entry {
    let mut b = text.to_vec();
    b.extend_from_slice(b"\r\n");
    logged(
        line,
        if client {
            Item::Client(b)
        } else {
            Item::Server(b)
        },
    )
}
