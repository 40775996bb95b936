//! Transcripts: sessions kept in a file, and the engine run over them again.
//!
//! The formats: `text` (C:/S: lines, written by hand or exported) and `jsonl` (what
//! `--record` writes: every octet with its time). `import` turns other tools' logs and
//! captures into entries; `export` writes a recording as text or an evidence bundle.
//! `source` reads either format from a file or standard input; `drive` is the one loop that
//! runs the engine over entries, and `replay` is built on it; `lines` walks a transcript line
//! by line with its secrets masked; `sasl` tells which client line is a SASL response.

pub mod drive;
pub(crate) mod export;
pub mod import;
pub mod jsonl;
pub(crate) mod lines;
pub mod replay;
pub(crate) mod sasl;
pub mod source;
pub mod text;

pub use drive::{Drive, Driver, drive};
pub use replay::{Replayed, replay};
pub use text::{Entry, Item};
