//! `popscope check` against a live server, as a library: the conformance walk ([`walk`]), the
//! safe active probes around it ([`probes`], the OAuth ones in [`oauth`]), the check of every transport of a host
//! ([`transports`]) and the comparison of those transports ([`compare`]). Options are plain
//! data (the CLI builds them from its arguments); results are data too, rendered by
//! [`crate::report`]. A new probe goes in [`probes`] (its commands in `popscope_core::probes`,
//! its judgement in the engine's rules); a new fact compared across transports in [`compare`].

pub(crate) mod compare;
pub(crate) mod oauth;
pub(crate) mod probes;
pub mod transports;
pub mod walk;

pub use transports::{CheckError, CheckOptions, Checked, Leg};
pub(crate) use walk::FindingLog;
pub use walk::{LoginAttempt, PlaintextLogin, WalkOptions, WalkResult, Watch};
