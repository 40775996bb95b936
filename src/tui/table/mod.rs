//! What the live table views share (`popscope proxy`'s connections, `check --targets`'s
//! targets): their cells, the session view each row feeds from engine events ([`seen`]), the
//! keys of a session opened from a row, the help and quit overlays, and the loop that draws
//! them ([`run`]). Each view keeps its own rows and says what a row is.

pub mod cells;
pub(crate) mod overlays;
pub(crate) mod run;
pub mod seen;
