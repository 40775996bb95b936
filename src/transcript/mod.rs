//! Transcripts: the text format, and driving the engine from a recorded session.

pub mod drive;
pub(crate) mod export;
pub mod import;
pub mod jsonl;
pub(crate) mod lines;
pub mod replay;
pub mod source;
pub mod text;

pub use drive::{Drive, Driver, drive};
pub use replay::{Replayed, replay};
pub use text::{Entry, Item};
