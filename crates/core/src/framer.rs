//! Cuts a byte stream into lines, first, so that parsing never sees partial input.
//!
//! Lines end at LF; whether a CR preceded it is reported, not required (a debugger keeps going
//! where a server sends bare LF, and says so). A line longer than the cap is cut: its first
//! `cap` octets are kept, the rest is counted and dropped, so a server that never sends a line
//! end cannot exhaust memory. The output is the same however the input is split into chunks.

use memchr::memchr;

/// How a line ended on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    CrLf,
    /// A bare LF.
    Lf,
    /// No line end: the stream closed first.
    Eof,
}

/// One framed line. `content` excludes the line ending.
#[derive(Debug)]
pub struct Line<'a> {
    pub content: &'a [u8],
    pub ending: Ending,
    /// Stream offset of the line's first octet.
    pub offset: u64,
    /// Octets of content on the wire; larger than `content.len()` when the line was cut.
    pub wire_len: u64,
}

/// What the framer hands out.
#[derive(Debug)]
pub enum Frame<'a> {
    Line(Line<'a>),
    /// The line starting at `offset` has just passed the cap; it is reported once, as soon as
    /// it happens, so a line that never ends is still seen.
    Overflow {
        offset: u64,
    },
}

#[derive(Debug)]
pub struct LineFramer {
    cap: usize,
    /// Content of an unfinished line, at most `cap` octets (a trailing CR included).
    partial: Vec<u8>,
    /// Octets of the unfinished line seen so far, kept or dropped.
    partial_wire: u64,
    partial_offset: u64,
    /// The last octet of the unfinished line was a CR (needed once octets are being dropped).
    partial_last_cr: bool,
    offset: u64,
}

impl LineFramer {
    pub fn new(cap: usize) -> Self {
        LineFramer {
            cap: cap.max(8),
            partial: Vec::new(),
            partial_wire: 0,
            partial_offset: 0,
            partial_last_cr: false,
            offset: 0,
        }
    }

    /// Octets consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    pub fn push(&mut self, mut input: &[u8], mut out: impl FnMut(Frame<'_>)) {
        while !input.is_empty() {
            let newline = memchr(b'\n', input);
            if self.partial_wire == 0 {
                if let Some(i) = newline {
                    // Fast path: the whole line is in this chunk; lend it out without copying.
                    let raw = &input[..i];
                    let offset = self.offset;
                    self.offset += i as u64 + 1;
                    let (body, ends_cr) = strip_cr(raw);
                    let ending = if ends_cr { Ending::CrLf } else { Ending::Lf };
                    if body.len() > self.cap {
                        out(Frame::Overflow { offset });
                        out(Frame::Line(Line {
                            content: &body[..self.cap],
                            ending,
                            offset,
                            wire_len: body.len() as u64,
                        }));
                    } else {
                        out(Frame::Line(Line {
                            content: body,
                            ending,
                            offset,
                            wire_len: body.len() as u64,
                        }));
                    }
                    input = &input[i + 1..];
                    continue;
                }
                self.partial_offset = self.offset;
            }
            let take = newline.unwrap_or(input.len());
            self.absorb(&input[..take], &mut out);
            self.offset += take as u64;
            match newline {
                Some(i) => {
                    self.offset += 1;
                    self.finish(Ending::Lf, &mut out);
                    input = &input[i + 1..];
                }
                None => input = &[],
            }
        }
    }

    /// The unfinished line, if any: where it starts and how many octets of it came. A
    /// client that closes with one sent a command without its line end (CL-011).
    pub fn pending(&self) -> Option<(u64, u64)> {
        (self.partial_wire > 0).then_some((self.partial_offset, self.partial_wire))
    }

    /// The stream ended: hand out any unfinished line.
    pub fn finish_eof(&mut self, mut out: impl FnMut(Frame<'_>)) {
        if self.partial_wire > 0 {
            self.finish(Ending::Eof, &mut out);
        }
    }

    fn absorb(&mut self, piece: &[u8], out: &mut impl FnMut(Frame<'_>)) {
        if piece.is_empty() {
            return;
        }
        // The cap counts content without the final CR, so keep one octet of slack for it.
        let room = (self.cap + 1).saturating_sub(self.partial.len());
        let before = self.partial_wire;
        self.partial
            .extend_from_slice(&piece[..piece.len().min(room)]);
        self.partial_wire += piece.len() as u64;
        self.partial_last_cr = piece.last() == Some(&b'\r');
        let cap = self.cap as u64 + 1;
        if before <= cap && self.partial_wire > cap {
            out(Frame::Overflow {
                offset: self.partial_offset,
            });
        }
    }

    fn finish(&mut self, ending: Ending, out: &mut impl FnMut(Frame<'_>)) {
        let ends_cr = ending == Ending::Lf && self.partial_last_cr;
        let mut wire = self.partial_wire;
        let mut ending = ending;
        if ends_cr {
            wire -= 1;
            ending = Ending::CrLf;
        }
        let overflow_reported = self.partial_wire > self.cap as u64 + 1;
        if wire > self.cap as u64 && !overflow_reported {
            out(Frame::Overflow {
                offset: self.partial_offset,
            });
        }
        let keep = (wire.min(self.cap as u64)) as usize;
        let keep = keep.min(self.partial.len());
        out(Frame::Line(Line {
            content: &self.partial[..keep],
            ending,
            offset: self.partial_offset,
            wire_len: wire,
        }));
        self.partial.clear();
        self.partial_wire = 0;
        self.partial_last_cr = false;
    }
}

fn strip_cr(raw: &[u8]) -> (&[u8], bool) {
    match raw.split_last() {
        Some((b'\r', rest)) => (rest, true),
        _ => (raw, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    enum F {
        L(Vec<u8>, Ending, u64, u64, bool),
        O(u64),
    }

    fn run(chunks: &[&[u8]], cap: usize) -> Vec<F> {
        let mut f = LineFramer::new(cap);
        let mut v = Vec::new();
        let mut sink = |fr: Frame<'_>| match fr {
            Frame::Line(l) => v.push(F::L(
                l.content.to_vec(),
                l.ending,
                l.offset,
                l.wire_len,
                l.wire_len > l.content.len() as u64,
            )),
            Frame::Overflow { offset } => v.push(F::O(offset)),
        };
        for c in chunks {
            f.push(c, &mut sink);
        }
        f.finish_eof(&mut sink);
        v
    }

    #[test]
    fn endings_are_reported() {
        let v = run(&[b"+OK a\r\n-ERR b\nlast"], 100);
        assert_eq!(
            v,
            vec![
                F::L(b"+OK a".to_vec(), Ending::CrLf, 0, 5, false),
                F::L(b"-ERR b".to_vec(), Ending::Lf, 7, 6, false),
                F::L(b"last".to_vec(), Ending::Eof, 14, 4, false),
            ]
        );
    }

    #[test]
    fn cr_split_from_lf_across_chunks() {
        assert_eq!(run(&[b"+OK\r", b"\n"], 100), run(&[b"+OK\r\n"], 100));
    }

    #[test]
    fn long_lines_are_cut_the_same_way_whatever_the_chunks() {
        let line: Vec<u8> = std::iter::repeat_n(b'x', 50)
            .chain(*b"\r\nok\r\n")
            .collect();
        let whole = run(&[&line], 10);
        assert_eq!(whole[0], F::O(0));
        assert_eq!(whole[1], F::L(vec![b'x'; 10], Ending::CrLf, 0, 50, true));
        for split in 1..line.len() {
            let (a, b) = line.split_at(split);
            assert_eq!(run(&[a, b], 10), whole, "split at {split}");
        }
        let bytes: Vec<&[u8]> = line.chunks(1).collect();
        assert_eq!(run(&bytes, 10), whole);
    }

    #[test]
    fn a_line_of_exactly_the_cap_is_not_cut() {
        let v = run(&[b"0123456789\r\n"], 10);
        assert_eq!(
            v,
            vec![F::L(b"0123456789".to_vec(), Ending::CrLf, 0, 10, false)]
        );
        let v = run(&[b"0123456789\r", b"\n"], 10);
        assert_eq!(
            v,
            vec![F::L(b"0123456789".to_vec(), Ending::CrLf, 0, 10, false)]
        );
    }

    #[test]
    fn an_endless_line_is_reported_while_it_grows_and_memory_stays_capped() {
        let mut f = LineFramer::new(16);
        let mut overflows = 0;
        for _ in 0..10_000 {
            f.push(&[b'a'; 100], |fr| {
                if let Frame::Overflow { .. } = fr {
                    overflows += 1
                }
            });
        }
        assert_eq!(overflows, 1);
        assert!(f.partial.capacity() < 64);
        assert_eq!(f.offset(), 1_000_000);
    }
}
