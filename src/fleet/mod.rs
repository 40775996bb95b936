//! A fleet run, `check --targets FILE`: the targets read from a file as they are needed
//! ([`targets`]), and the run that checks them with bounded concurrency and hands each
//! outcome to the outputs ([`run`]). Who logs in where (`--credentials`) is the command
//! line's: `cli::check::credentials`.

pub mod run;
pub mod targets;
