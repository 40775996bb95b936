//! Lines cut from octets split anywhere, for both sides of the injector.

use super::MAX_LINE;

/// A piece of the stream.
pub(super) enum Piece<'a> {
    /// A whole line, its line end included.
    Line(&'a [u8]),
    /// Octets of a line too long to hold: they go through as they are.
    Through(&'a [u8]),
}

/// What is held between calls: an unfinished line, or that the line in progress is too long.
#[derive(Debug, Default)]
pub(super) struct Lines {
    partial: Vec<u8>,
    through: bool,
}

impl Lines {
    /// Calls `each` for every line of `bytes` completed after what came before, in order,
    /// until it returns false. A line longer than [`MAX_LINE`] without its line end is not
    /// held: its octets come as [`Piece::Through`] up to the line end.
    pub(super) fn cut(&mut self, bytes: &[u8], mut each: impl FnMut(Piece<'_>) -> bool) {
        let mut rest = bytes;
        while !rest.is_empty() {
            let nl = memchr::memchr(b'\n', rest);
            if self.through {
                let (piece, after) = rest.split_at(nl.map_or(rest.len(), |i| i + 1));
                rest = after;
                self.through = nl.is_none();
                if !each(Piece::Through(piece)) {
                    return;
                }
                continue;
            }
            let Some(nl) = nl else {
                self.partial.extend_from_slice(rest);
                if self.partial.len() > MAX_LINE {
                    let held = std::mem::take(&mut self.partial);
                    self.through = true;
                    each(Piece::Through(&held));
                }
                return;
            };
            let (line, after) = rest.split_at(nl + 1);
            rest = after;
            let go_on = if self.partial.is_empty() {
                each(Piece::Line(line))
            } else {
                let mut whole = std::mem::take(&mut self.partial);
                whole.extend_from_slice(line);
                each(Piece::Line(&whole))
            };
            if !go_on {
                return;
            }
        }
    }

    /// Forgets what is held.
    pub(super) fn clear(&mut self) {
        self.partial.clear();
        self.through = false;
    }
}
