//! Recorded sessions as JSON Lines (format 2): a header, then one record per event, written
//! and flushed as the session goes, so a crash or a kill loses nothing already received. A
//! data record of clean text is followed by its octets, raw, and a line feed.
//!
//! ```text
//! {"type":"header","format":2,"popscope":"0.1.0","target":"pop3://…","started":1795478400.12,"secrets":"redacted"}
//! {"type":"data","t":0.0012,"dir":"server","octets":11}
//! +OK ready
//!
//! {"type":"data","t":0.0030,"dir":"client","octets":13,"redacted":true}
//! PASS ******
//!
//! {"type":"data","t":0.0051,"dir":"server","b64":"K09LIMOkDQo="}
//! {"type":"tls","t":0.0400,"details":{…}}
//! {"type":"transport","t":0.0400,"event":{"event":"tls-established","cert_requested":false,"client_cert":false}}
//! {"type":"state","t":0.0510,"from":"AUTHORIZATION","to":"TRANSACTION","reason":"…","lawful":true}
//! {"type":"finding","t":0.0520,"rule":"ST-001","severity":"violation","message":"…","exchange":3}
//! ```
//! `data` holds the exact octets of one read or write: a block (`octets`) when they are UTF-8
//! without control characters other than CR, LF and TAB and without invisible or reordering
//! characters (bidi overrides, U+2028, tags: `cat` would show them raw), `b64` otherwise.
//! Format 1 held the clean ones as a JSON string (`text`), which cost escaping every CR LF to
//! write and unescaping to read; it is still read, and [`format1`] writes it for tools that
//! want one JSON value a line. `state` and `finding` records say what the engine of the
//! recording popscope derived; a re-check ignores them and runs today's engine on the data. A
//! file may hold several sessions, each from its header.
//!
//! Entry points: [`read()`] (every session of a file) and `session` (one of them) for a file in
//! memory, `stream` for one read record by record; `RecordFile` for `--record`, whose
//! recorders are the session's observers. What a recording holds is shown only through
//! `shown` and `shown_tls`, which make a hand-edited file's strings safe.
//!
//! Versioning: every header names `format`; a reader refuses a session of any other format
//! (a change a reader of today would misread takes a new number). A `state` or `finding`
//! record this version cannot read is skipped, not damage: a newer popscope may know states
//! and rules this one does not, and a re-check ignores them anyway.

mod body_cap;
pub(crate) mod format1;
mod read;
mod record_file;
mod records;
mod write;

pub use read::{Damage, Session, read};
pub(crate) use read::{Streamed, looks_like, session, shown, shown_tls, stream};
pub(crate) use record_file::RecordFile;
pub use records::ClientSide;
pub(crate) use write::Recorder;
