//! Cuts a byte stream into lines, first, so that parsing never sees partial input.
//!
//! Lines end at LF; whether a CR preceded it is reported, not required (a debugger keeps going
//! where a server sends bare LF, and says so). A line longer than the cap is cut: its first
//! `cap` octets are kept, the rest is counted and dropped, so a server that never sends a line
//! end cannot exhaust memory. The output is the same however the input is split into chunks.

use memchr::memchr;

use crate::linemask::{Masks, each_word};

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

    /// The longest line kept whole, in octets without the line end.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Octets consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    pub fn push(&mut self, input: &[u8], mut out: impl FnMut(Frame<'_>)) {
        self.push_until(input, |frame| {
            out(frame);
            true
        });
    }

    /// [`push`](LineFramer::push), stopping after the first line for which `out` returns
    /// false (what it returns for an overflow is ignored): returns the octets consumed, so
    /// that the caller can take the next lines another way ([`skip`](LineFramer::skip)) and
    /// push the rest.
    pub fn push_until(&mut self, input: &[u8], mut out: impl FnMut(Frame<'_>) -> bool) -> usize {
        let whole = input.len();
        let mut input = input;
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
                    let go_on = if body.len() > self.cap {
                        out(Frame::Overflow { offset });
                        out(Frame::Line(Line {
                            content: &body[..self.cap],
                            ending,
                            offset,
                            wire_len: body.len() as u64,
                        }))
                    } else {
                        out(Frame::Line(Line {
                            content: body,
                            ending,
                            offset,
                            wire_len: body.len() as u64,
                        }))
                    };
                    input = &input[i + 1..];
                    if !go_on {
                        return whole - input.len();
                    }
                    continue;
                }
                self.partial_offset = self.offset;
            }
            let take = newline.unwrap_or(input.len());
            self.absorb(&input[..take], &mut |f| {
                out(f);
            });
            self.offset += take as u64;
            match newline {
                Some(i) => {
                    self.offset += 1;
                    let go_on = self.finish(Ending::Lf, &mut out);
                    input = &input[i + 1..];
                    if !go_on {
                        return whole - input.len();
                    }
                }
                None => input = &[],
            }
        }
        whole
    }

    /// No unfinished line is held: the next octet pushed starts a line.
    pub fn at_line_start(&self) -> bool {
        self.partial_wire == 0
    }

    /// The caller framed the next `octets` itself (whole lines, each within the cap, taken
    /// from the start of what it would have pushed): count them as consumed.
    pub fn skip(&mut self, octets: usize) {
        debug_assert!(self.at_line_start());
        self.offset += octets as u64;
    }

    /// The unfinished line, if any: where it starts and how many octets of it came. A
    /// client that closes with one sent a command without its line end (CL-011).
    pub fn pending(&self) -> Option<(u64, u64)> {
        (self.partial_wire > 0).then_some((self.partial_offset, self.partial_wire))
    }

    /// The stream ended: hand out any unfinished line.
    pub fn finish_eof(&mut self, mut out: impl FnMut(Frame<'_>)) {
        if self.partial_wire > 0 {
            self.finish(Ending::Eof, &mut |f| {
                out(f);
                true
            });
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

    /// Hands out the unfinished line; returns what `out` returned for it.
    fn finish(&mut self, ending: Ending, out: &mut impl FnMut(Frame<'_>) -> bool) -> bool {
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
        let go_on = out(Frame::Line(Line {
            content: &self.partial[..keep],
            ending,
            offset: self.partial_offset,
            wire_len: wire,
        }));
        self.partial.clear();
        self.partial_wire = 0;
        self.partial_last_cr = false;
        go_on
    }
}

/// At most this many octets are taken as plain lines in one go: small enough that the bulk
/// tests do not run far past a line that stops the run (one dot-stuffed line in fifty is
/// common), large enough that a call's fixed cost is spread over dozens of lines.
pub const PLAIN_BLOCK: usize = 4 << 10;

/// Whole lines at the start of `input` that no data-line rule needs to see one by one: each
/// ends in CRLF, holds no other CR, no LF, NUL or octet over 0x7f, does not start with `.`
/// and is at most `cap` octets without its CRLF. Fills `ends` with the index of each line's
/// LF, hands each line without its CRLF to `line` as it is found (one pass over the block)
/// and returns the octets those lines take, at most [`PLAIN_BLOCK`]. `input` must start at
/// a line start. Stops before the first line that is not plain, or that is not complete in
/// `input`.
pub fn plain_lines(
    input: &[u8],
    cap: usize,
    ends: &mut Vec<u32>,
    line: impl FnMut(&[u8]),
) -> usize {
    ends.clear();
    let block = &input[..input.len().min(PLAIN_BLOCK)];
    let mut scan = PlainScan {
        block,
        cap,
        ends,
        line,
        start: 0,
        carry: 0,
    };
    each_word(block, |base, m| scan.word(base, m));
    scan.start
}

/// [`plain_lines`] in progress, one 64-octet word after another.
struct PlainScan<'a, L> {
    block: &'a [u8],
    cap: usize,
    ends: &'a mut Vec<u32>,
    line: L,
    /// Where the next line starts: the octets before it are taken.
    start: usize,
    /// A CR on the last octet of the word before, on bit 0.
    carry: u64,
}

impl<L: FnMut(&[u8])> PlainScan<'_, L> {
    /// Takes the lines that end in the word at `base` (its masks `m`) up to the first octet
    /// no plain line holds; returns whether the next word may go on.
    #[inline(always)]
    fn word(&mut self, base: usize, m: Masks) -> bool {
        let after_cr = (m.cr << 1) | self.carry;
        self.carry = m.cr >> 63;
        // A NUL or 8-bit octet, an LF after no CR, an octet other than LF after a CR: the
        // line that holds it, and every later one, is left to the framer.
        let unplain = m.odd | (m.lf ^ after_cr);
        let mut lfs = m.lf & unplain.wrapping_sub(1) & !unplain;
        while lfs != 0 {
            let end = base + lfs.trailing_zeros() as usize;
            lfs &= lfs - 1;
            // The line holds its CR (an LF after no CR is unplain), so `start < end`: never
            // None. An empty line starts with its CR, not a dot.
            let Some(line) = self.block.get(self.start..end - 1) else {
                return false;
            };
            if line.first() == Some(&b'.') || line.len() > self.cap {
                return false;
            }
            (self.line)(line);
            self.ends.push(end as u32);
            self.start = end + 1;
        }
        unplain == 0
    }
}

fn strip_cr(raw: &[u8]) -> (&[u8], bool) {
    match raw.split_last() {
        Some((b'\r', rest)) => (rest, true),
        _ => (raw, false),
    }
}

#[cfg(test)]
mod reference {
    use super::*;

    /// The first plain-line finder (memchr for each line, then a count of the CRs), the oracle the
    /// one by 64-octet masks is held to.
    ///
    /// Whole lines at the start of `input` that no data-line rule needs to see one by one: each
    /// ends in CRLF, holds no other CR, no LF, NUL or octet over 0x7f, does not start with `.`
    /// and is at most `cap` octets without its CRLF. Fills `ends` with the index of each line's
    /// LF and returns the octets those lines take, at most [`PLAIN_BLOCK`]. `input` must
    /// start at a line start. Stops before the first line that is not plain, or that is not
    /// complete in `input`.
    pub(super) fn plain_lines_reference(input: &[u8], cap: usize, ends: &mut Vec<u32>) -> usize {
        ends.clear();
        let mut block = &input[..input.len().min(PLAIN_BLOCK)];
        // Whole-block tests first, each a SIMD pass that stops early on 8-bit mail; only when
        // one fails is the first unusual octet looked for, eight at a time.
        let ascii = block.is_ascii() && memchr(0, block).is_none();
        if !ascii {
            block = &block[..first_unplain(block)];
        }
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', block) {
            let line = &block[start..end];
            if line.last() != Some(&b'\r') || line[0] == b'.' || line.len() - 1 > cap {
                break;
            }
            ends.push(end as u32);
            start = end + 1;
        }
        // Every line ends in CR LF; with exactly one CR a line, no other CR hides in them.
        if ascii && memchr::memchr_iter(b'\r', &block[..start]).count() != ends.len() {
            let clean = first_unplain(&block[..start]);
            let keep = ends.partition_point(|&end| (end as usize) < clean);
            ends.truncate(keep);
            start = ends.last().map_or(0, |&end| end as usize + 1);
        }
        start
    }

    /// Index of the first octet of `bytes` that a plain line cannot hold: a NUL, an octet over
    /// 0x7f, an LF that does not follow a CR, or the octet after a CR that is not an LF;
    /// `bytes.len()` when there is none. `bytes` starts at a line start. Eight octets at a time,
    /// every test exact (no borrow between octets), so the index is right.
    fn first_unplain(bytes: &[u8]) -> usize {
        const LOW: u64 = 0x7f7f_7f7f_7f7f_7f7f;
        const HIGH: u64 = !LOW;
        const CRS: u64 = 0x0d0d_0d0d_0d0d_0d0d;
        const LFS: u64 = 0x0a0a_0a0a_0a0a_0a0a;
        // The high bit of each octet of `w` that is zero, and nothing else.
        let zero = |w: u64| !(((w & LOW).wrapping_add(LOW)) | w | LOW);
        // The high bit of the CR ending the word before, moved to the first octet of this one.
        let mut carry = 0u64;
        let mut test = |w: u64| {
            let cr = zero(w ^ CRS);
            let lf = zero(w ^ LFS);
            let after_cr = (cr << 8) | carry;
            carry = cr >> 56;
            (w & HIGH) | zero(w) | (lf ^ after_cr)
        };
        let mut words = bytes.chunks_exact(8);
        let mut at = 0;
        for c in &mut words {
            let w = c.try_into().map(u64::from_le_bytes).unwrap_or(0);
            let bad = test(w);
            if bad != 0 {
                return at + (bad.trailing_zeros() / 8) as usize;
            }
            at += 8;
        }
        // The tail, padded with NULs: a NUL past the end is no octet of `bytes`.
        let mut tail = [0u8; 8];
        tail[..words.remainder().len()].copy_from_slice(words.remainder());
        let bad = test(u64::from_le_bytes(tail));
        (at + (bad.trailing_zeros() / 8) as usize).min(bytes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, PartialEq)]
    enum F {
        L(Vec<u8>, Ending, u64, u64, bool),
        O(u64),
    }

    fn run(chunks: &[&[u8]], cap: usize) -> Vec<F> {
        let mut f = LineFramer::new(cap);
        let mut v = Vec::new();
        let mut sink = |fr: Frame<'_>| record(&mut v, fr);
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

    fn plain(input: &[u8], cap: usize) -> (usize, Vec<u32>) {
        let mut ends = Vec::new();
        let mut lines = Vec::new();
        let taken = plain_lines(input, cap, &mut ends, |line| lines.push(line.to_vec()));
        let mut start = 0;
        for (&end, line) in ends.iter().zip(&lines) {
            assert_eq!(line[..], input[start..end as usize - 1]);
            start = end as usize + 1;
        }
        assert_eq!(lines.len(), ends.len());
        (taken, ends)
    }

    #[test]
    fn plain_lines_stop_before_the_first_line_a_rule_must_see() {
        assert_eq!(plain(b"abc\r\nde\r\n\r\npart", 100), (11, vec![4, 8, 10]));
        // Whatever the octet and wherever in the line (both sides of a word boundary), the
        // line holding it and all after it are left to the framer.
        for bad in [&b"\0"[..], b"\x80", b"\xff", b"\r", b"\n", b"\r\r"] {
            for pos in 0..20 {
                let mut input = b"0123456789012345678901234\r\n".to_vec();
                input.splice(pos..pos, bad.iter().copied());
                let mut first = b"first line\r\n".to_vec();
                first.extend_from_slice(&input);
                assert_eq!(plain(&first, 100), (12, vec![11]), "{bad:?} at {pos}");
            }
        }
        assert_eq!(plain(b"ab\r\n.x\r\ncd\r\n", 100), (4, vec![3]));
        assert_eq!(plain(b"ab\r\n..x\r\n", 100), (4, vec![3]));
        assert_eq!(plain(b"\n", 100), (0, vec![]));
        assert_eq!(plain(b"ab\r", 100), (0, vec![]));
        // The cap counts content without CRLF.
        assert_eq!(plain(b"0123456789\r\n", 10), (12, vec![11]));
        assert_eq!(plain(b"01234567890\r\n", 10), (0, vec![]));
    }

    #[test]
    fn plain_lines_take_at_most_a_block_and_end_at_a_line_end() {
        let line = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod\r\n";
        let input: Vec<u8> = line
            .iter()
            .copied()
            .cycle()
            .take(line.len() * 1000)
            .collect();
        let (taken, ends) = plain(&input, 1000);
        assert!(taken <= PLAIN_BLOCK && taken > PLAIN_BLOCK - line.len());
        assert_eq!(taken % line.len(), 0);
        assert_eq!(ends.len(), taken / line.len());
    }

    type Finder = fn(&[u8], usize) -> (usize, Vec<u32>);

    fn reference(input: &[u8], cap: usize) -> (usize, Vec<u32>) {
        let mut ends = Vec::new();
        let taken = super::reference::plain_lines_reference(input, cap, &mut ends);
        (taken, ends)
    }

    fn record(v: &mut Vec<F>, fr: Frame<'_>) {
        match fr {
            Frame::Line(l) => v.push(F::L(
                l.content.to_vec(),
                l.ending,
                l.offset,
                l.wire_len,
                l.wire_len > l.content.len() as u64,
            )),
            Frame::Overflow { offset } => v.push(F::O(offset)),
        }
    }

    /// Frames `chunks` as the engine frames a message body: at each line start the plain
    /// lines `finder` takes, then one line through the framer, and again.
    fn frame_with(finder: Finder, chunks: &[&[u8]], cap: usize) -> Vec<F> {
        let mut f = LineFramer::new(cap);
        let mut v = Vec::new();
        for chunk in chunks {
            let mut input = *chunk;
            while !input.is_empty() {
                if f.at_line_start() {
                    let (taken, ends) = finder(input, f.cap());
                    let mut start = 0;
                    for &end in &ends {
                        let content = &input[start..end as usize - 1];
                        let offset = f.offset() + start as u64;
                        let wire = content.len() as u64;
                        v.push(F::L(content.to_vec(), Ending::CrLf, offset, wire, false));
                        start = end as usize + 1;
                    }
                    assert_eq!(start, taken);
                    f.skip(taken);
                    input = &input[taken..];
                }
                let used = f.push_until(input, |fr| {
                    let line = matches!(fr, Frame::Line(_));
                    record(&mut v, fr);
                    !line
                });
                input = &input[used..];
            }
        }
        f.finish_eof(|fr| record(&mut v, fr));
        v
    }

    #[test]
    fn the_mask_finder_takes_what_the_memchr_finder_took_whatever_octet_goes_wrong_where() {
        let line = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod t\r\n";
        let body: Vec<u8> = line.iter().copied().cycle().take(4300).collect();
        for bad in [
            &b"\0"[..],
            b"\x80",
            b"\xff",
            b"\r",
            b"\n",
            b".",
            b"\r\n.",
            b"\r\n\r\n",
        ] {
            for pos in (0..700).chain(4000..4300) {
                let mut input = body.clone();
                input.splice(pos..pos, bad.iter().copied());
                for cap in [8, 74, 75, 100, 65536] {
                    let want = reference(&input, cap);
                    assert_eq!(plain(&input, cap), want, "{bad:?} at {pos}, cap {cap}");
                }
            }
        }
    }

    fn piece() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            8 => Just(b"\r\n".to_vec()),
            8 => "[a-z .]{0,90}".prop_map(String::into_bytes),
            1 => Just(b"\n".to_vec()),
            1 => Just(b"\r".to_vec()),
            1 => Just(b"\0".to_vec()),
            1 => Just(b"\t".to_vec()),
            1 => Just(b"\r\n.".to_vec()),
            1 => Just(b"\r\n..".to_vec()),
            1 => Just(b"\x80".to_vec()),
            1 => Just(b"\xff\xfe".to_vec()),
            1 => (64usize..6000).prop_map(|n| vec![b'x'; n]),
        ]
    }

    proptest! {
        #[test]
        fn plain_lines_give_the_lines_the_old_finder_and_the_framer_give(
            pieces in prop::collection::vec(piece(), 0..300),
            cuts in prop::collection::vec(1usize..5000, 1..30),
            cap in prop::sample::select(vec![8usize, 10, 76, 100, 4096, 65536]),
        ) {
            let body = pieces.concat();
            let mut chunks = Vec::new();
            let mut rest = &body[..];
            for &n in cuts.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let (a, b) = rest.split_at(n.min(rest.len()));
                chunks.push(a);
                rest = b;
            }
            let framer_only = run(&chunks, cap);
            let old = frame_with(reference, &chunks, cap);
            let new = frame_with(plain, &chunks, cap);
            prop_assert_eq!(&old, &framer_only);
            prop_assert_eq!(&new, &old);
            prop_assert_eq!(plain(&body, cap), reference(&body, cap));
        }
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
