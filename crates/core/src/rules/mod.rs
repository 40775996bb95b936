//! The rules: the catalog ([`catalog`], [`CATALOG`], [`find`]), the rules judged across two
//! sessions ([`cross`]), and the checks the engine runs on every session, which are internal.
//!
//! The checks live one area of rules.md §3 a file (`capa.rs` for CAPA-*, `maildrop.rs` for
//! MSG-* and DEL-*, ...). Each area is a struct implementing the crate's `Area` trait: the
//! engine calls its hooks at the moments of a session (a command, a reply, a data line, a
//! close, ...); the area reports through the `Checker` in the hook's `Ctx` and keeps what it
//! must remember in its own fields. A new rule goes into the area of its ID's prefix and
//! touches that file only; a new area is a file here, a field of `Areas` and a name in
//! `each_area!`.
//!
//! Two principles of the catalog shape every check: a violation needs structural evidence
//! (what the server accepted, refused, sent or closed), never reply text alone; and a
//! condition about what the server advertises is judged only against a CAPA list seen in the
//! same state and security context.

pub(crate) mod area;
mod capa;
mod capa_list;
pub mod catalog;
mod checker;
mod closing;
mod codes;
pub mod cross;
mod framing;
pub(crate) mod greeting;
mod lang;
mod lines;
mod listing;
mod maildrop;
mod message;
pub(crate) mod sasl;
mod states;
mod tls;
mod uidl;
mod utf;

pub use catalog::{CATALOG, RuleInfo, Scope, Severity, find};

pub(crate) use area::{Answer, Area, Close, Ctx, DataLine, Side, Timeout, Unanswered};
pub(crate) use checker::Checker;

/// Every rule area, each owning its state. The engine keeps one and calls a hook on all of
/// them through [`each_area`]; a new area is a field here and a line there.
#[derive(Debug, Default)]
pub(crate) struct Areas {
    pub(crate) lines: lines::Lines,
    pub(crate) codes: codes::Codes,
    pub(crate) states: states::States,
    pub(crate) closing: closing::Closing,
    pub(crate) greeting: greeting::Greeting,
    pub(crate) sasl: sasl::Sasl,
    pub(crate) tls: tls::Tls,
    pub(crate) lang: lang::Lang,
    pub(crate) framing: framing::Framing,
    pub(crate) maildrop: maildrop::Maildrop,
    pub(crate) uidl: uidl::Uidl,
    pub(crate) message: message::Message,
    pub(crate) capa: capa::Capa,
    pub(crate) utf: utf::Utf,
}

/// `each_area!(areas, side, |area| hook)`: runs `hook` with `area` bound to each area of
/// `side` in `areas` (a `&mut Areas`), in hook order. A macro so that every call is static: a
/// data line of a 1 GB RETR costs no indirect call, and hooks an area does not implement
/// compile to nothing.
///
/// The order is part of the output: when two areas report on the same input, the earlier
/// one's finding comes first (`lines` judges a status line's syntax before anything judges
/// what it says; `capa` and `utf` come last, as they did when the engine called them by name).
macro_rules! each_area {
    ($areas:expr, $side:expr, |$area:ident| $hook:expr) => {{
        let areas: &mut $crate::rules::Areas = $areas;
        let side: $crate::rules::Side = $side;
        $crate::rules::each_area!(@call areas, side, $area, $hook,
            lines, codes, states, closing, greeting, sasl, tls, lang, framing, maildrop, uidl, message,
            capa, utf)
    }};
    (@call $areas:ident, $side:ident, $area:ident, $hook:expr, $($field:ident),*) => {{
        $({
            let $area = &mut $areas.$field;
            if $crate::rules::Area::side($area) == $side {
                $hook;
            }
        })*
    }};
}
pub(crate) use each_area;
