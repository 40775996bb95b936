//! The LFs, CRs and octets no plain line holds in 64 octets, as bitmasks (bit `i` for octet
//! `i`): [`crate::framer::plain_lines`] finds the ends of a block's lines and tests them from
//! these in one pass, a few vector instructions for 16 or 32 octets where a memchr call for
//! each line cost some 90 instructions. SSE2 is part of the x86_64 baseline, so it needs no
//! run-time test; AVX2, half the instructions again, is used where the CPU has it (as memchr
//! does); other targets take the portable SWAR version. The tests hold all to one output.

/// Octets a [`Masks`] covers.
pub(crate) const WORD: usize = 64;

/// Bit `i` is octet `i` of the word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Masks {
    pub lf: u64,
    pub cr: u64,
    /// A NUL or an octet over 0x7f.
    pub odd: u64,
}

/// Hands `f` the masks of each 64-octet word of `block` and where the word starts, until `f`
/// returns false. The last word is padded with NULs; they hold no LF, so no line ends in
/// them.
#[inline(always)]
pub(crate) fn each_word(block: &[u8], f: impl FnMut(usize, Masks) -> bool) {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, just tested.
            return unsafe { each_word_avx2(block, f) };
        }
        words(block, sse2, f)
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    words(block, swar, f)
}

#[inline(always)]
fn words(
    block: &[u8],
    masks: impl Fn(&[u8; WORD]) -> Masks,
    mut f: impl FnMut(usize, Masks) -> bool,
) {
    let mut base = 0;
    while let Some(Ok(word)) = block.get(base..base + WORD).map(<&[u8; WORD]>::try_from) {
        if !f(base, masks(word)) {
            return;
        }
        base += WORD;
    }
    let rest = block.get(base..).unwrap_or_default();
    if !rest.is_empty() {
        let mut tail = [0u8; WORD];
        tail[..rest.len()].copy_from_slice(rest);
        f(base, masks(&tail));
    }
}

/// [`words`] compiled for AVX2, `f` inlined into it.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[target_feature(enable = "avx2")]
fn each_word_avx2(block: &[u8], f: impl FnMut(usize, Masks) -> bool) {
    words(block, |word| avx2(word), f)
}

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[target_feature(enable = "avx2")]
#[inline]
fn avx2(word: &[u8; WORD]) -> Masks {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_cmpgt_epi8, _mm256_loadu_si256, _mm256_movemask_epi8,
        _mm256_set1_epi8,
    };
    let (low, high) = word.split_at(WORD / 2);
    // SAFETY: each load reads the 32 octets of `low` or `high`, with no alignment requirement.
    let (low, high) = unsafe {
        (
            _mm256_loadu_si256(low.as_ptr().cast::<__m256i>()),
            _mm256_loadu_si256(high.as_ptr().cast::<__m256i>()),
        )
    };
    let (lfs, crs, ones) = (
        _mm256_set1_epi8(b'\n' as i8),
        _mm256_set1_epi8(b'\r' as i8),
        _mm256_set1_epi8(1),
    );
    let bits = |low: __m256i, high: __m256i| {
        u64::from(_mm256_movemask_epi8(low) as u32)
            | u64::from(_mm256_movemask_epi8(high) as u32) << 32
    };
    Masks {
        lf: bits(_mm256_cmpeq_epi8(low, lfs), _mm256_cmpeq_epi8(high, lfs)),
        cr: bits(_mm256_cmpeq_epi8(low, crs), _mm256_cmpeq_epi8(high, crs)),
        // Signed, 1 > v: a NUL or an octet over 0x7f.
        odd: bits(_mm256_cmpgt_epi8(ones, low), _mm256_cmpgt_epi8(ones, high)),
    }
}

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
fn sse2(word: &[u8; WORD]) -> Masks {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        _mm_setzero_si128,
    };
    let mut m = Masks {
        lf: 0,
        cr: 0,
        odd: 0,
    };
    // SAFETY: SSE2 is enabled (the cfg above; part of the x86_64 baseline), so its
    // instructions exist; each load reads the 16 octets of `part`, with no alignment
    // requirement.
    unsafe {
        let lfs = _mm_set1_epi8(b'\n' as i8);
        let crs = _mm_set1_epi8(b'\r' as i8);
        let zero = _mm_setzero_si128();
        // movemask fills the low 16 bits of an i32, the rest zero.
        let bits = |v: __m128i| u64::from(_mm_movemask_epi8(v) as u16);
        for (i, part) in word.chunks_exact(16).enumerate() {
            let v = _mm_loadu_si128(part.as_ptr().cast::<__m128i>());
            let shift = 16 * i;
            m.lf |= bits(_mm_cmpeq_epi8(v, lfs)) << shift;
            m.cr |= bits(_mm_cmpeq_epi8(v, crs)) << shift;
            // An octet's high bit, or all its bits when it is NUL.
            m.odd |= bits(_mm_or_si128(v, _mm_cmpeq_epi8(v, zero))) << shift;
        }
    }
    m
}

/// Eight octets at a time in a `u64`, every test exact (no borrow between octets).
#[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))] // the tests compare it with the others
fn swar(word: &[u8; WORD]) -> Masks {
    const LOW: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const ONES: u64 = 0x0101_0101_0101_0101;
    // The high bit of each octet of `w` that is zero, and nothing else.
    let zero = |w: u64| !(((w & LOW).wrapping_add(LOW)) | w | LOW);
    // The high bit of octet k to bit k: each lands alone on bit 56 + k of the product.
    let pack = |high: u64| ((high >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56;
    let mut m = Masks {
        lf: 0,
        cr: 0,
        odd: 0,
    };
    for (i, part) in word.chunks_exact(8).enumerate() {
        let w = part.try_into().map(u64::from_le_bytes).unwrap_or(0);
        let shift = 8 * i;
        m.lf |= pack(zero(w ^ (ONES * u64::from(b'\n')))) << shift;
        m.cr |= pack(zero(w ^ (ONES * u64::from(b'\r')))) << shift;
        m.odd |= pack((w & !LOW) | zero(w)) << shift;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every implementation this machine can run, each against the meaning.
    fn check(word: &[u8; WORD]) -> Result<(), TestCaseError> {
        let want = bytewise(word);
        prop_assert_eq!(swar(word), want);
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
        {
            prop_assert_eq!(sse2(word), want);
            if std::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2, just tested.
                prop_assert_eq!(unsafe { avx2(word) }, want);
            }
        }
        Ok(())
    }

    /// What the masks mean, octet by octet.
    fn bytewise(word: &[u8; WORD]) -> Masks {
        let mut m = Masks {
            lf: 0,
            cr: 0,
            odd: 0,
        };
        for (i, &b) in word.iter().enumerate() {
            m.lf |= u64::from(b == b'\n') << i;
            m.cr |= u64::from(b == b'\r') << i;
            m.odd |= u64::from(b == 0 || b > 0x7f) << i;
        }
        m
    }

    #[test]
    fn every_octet_value_in_every_position() {
        for b in 0..=255u8 {
            for pos in 0..WORD {
                for fill in [b'a', 0, 0xff, b'\r', b'\n'] {
                    let mut word = [fill; WORD];
                    word[pos] = b;
                    let checked = check(&word);
                    assert!(checked.is_ok(), "{b:#x} at {pos} in {fill:#x}: {checked:?}");
                }
            }
        }
    }

    /// What `each_word` hands out for `block` with these masks, stopping after `stop` words.
    fn walk(
        block: &[u8],
        stop: usize,
        each: impl FnOnce(&[u8], &mut dyn FnMut(usize, Masks) -> bool),
    ) -> Vec<(usize, Masks)> {
        let mut seen = Vec::new();
        each(block, &mut |base, m| {
            seen.push((base, m));
            seen.len() < stop
        });
        seen
    }

    proptest! {
        #[test]
        fn every_walk_over_a_block_hands_out_the_same_words(
            block in prop::collection::vec(prop::sample::select(
                vec![b'\r', b'\n', 0, 0x80, b'.', b'a']), 0..700),
            stop in 1usize..20,
        ) {
            let dispatched = walk(&block, stop, |b, f| each_word(b, f));
            let portable = walk(&block, stop, |b, f| words(b, swar, f));
            prop_assert_eq!(&dispatched, &portable);
            // Every octet once, the last word padded with NULs.
            let mut padded = block.clone();
            padded.resize(block.len().div_ceil(WORD) * WORD, 0);
            let meant: Vec<_> = padded
                .chunks_exact(WORD)
                .enumerate()
                .take(stop)
                .filter_map(|(i, w)| Some((i * WORD, bytewise(w.try_into().ok()?))))
                .collect();
            prop_assert_eq!(&portable, &meant);
        }

        #[test]
        fn every_implementation_agrees(
            word in prop::array::uniform32(prop::sample::select(
                vec![b'\r', b'\n', 0, 0x7f, 0x80, 0xff, b'.', b'a', 0x0e, 0x8d, 0x8a])),
            rest in prop::array::uniform32(any::<u8>()),
        ) {
            let mut w = [0u8; WORD];
            w[..32].copy_from_slice(&word);
            w[32..].copy_from_slice(&rest);
            check(&w)?;
            w.reverse();
            check(&w)?;
        }
    }
}
