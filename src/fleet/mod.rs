//! A fleet run, `check --targets FILE`: the targets read from a file as they are needed
//! ([`targets`]), their credentials by host pattern ([`credentials`]), and the run that checks
//! them with bounded concurrency and hands each outcome to the outputs ([`run`]).

pub mod credentials;
pub mod run;
pub mod targets;
