//! Server bytes become display text here and only here: control characters, escape sequences,
//! invalid UTF-8, bidi overrides and zero-width characters are shown as visible escapes and
//! never reach the terminal raw.

use std::fmt::Write as _;

/// Characters that are valid UTF-8 but invisible, or change how surrounding text is displayed:
/// format characters (Unicode category Cf: bidi controls, zero-width characters, tags),
/// line and paragraph separators, fillers that render as nothing, and variation selectors.
pub fn is_invisible_or_reordering(c: char) -> bool {
    matches!(c,
        '\u{00AD}'                // soft hyphen
        | '\u{034F}'              // combining grapheme joiner
        | '\u{0600}'..='\u{0605}' // Arabic number signs
        | '\u{061C}'              // Arabic letter mark
        | '\u{06DD}' | '\u{070F}' | '\u{0890}'..='\u{0891}' | '\u{08E2}'
        | '\u{115F}' | '\u{1160}' // Hangul choseong/jungseong fillers
        | '\u{17B4}' | '\u{17B5}' // Khmer inherent vowels
        | '\u{180B}'..='\u{180F}' // Mongolian variation selectors, vowel separator
        | '\u{200B}'..='\u{200F}' // zero-width space/joiners, LRM, RLM
        | '\u{2028}' | '\u{2029}' // line and paragraph separators
        | '\u{202A}'..='\u{202E}' // bidi embeddings and overrides
        | '\u{2060}'..='\u{206F}' // word joiner, invisible operators, bidi isolates, deprecated
        | '\u{2800}'              // braille blank
        | '\u{3164}'              // Hangul filler
        | '\u{FE00}'..='\u{FE0F}' // variation selectors
        | '\u{FEFF}'              // BOM / zero-width no-break space
        | '\u{FFA0}'              // halfwidth Hangul filler
        | '\u{FFF9}'..='\u{FFFB}' // interlinear annotation
        | '\u{110BD}' | '\u{110CD}'
        | '\u{13430}'..='\u{1343F}' // Egyptian hieroglyph format controls
        | '\u{1BCA0}'..='\u{1BCA3}' // shorthand format controls
        | '\u{1D173}'..='\u{1D17A}' // musical symbol format controls
        | '\u{E0000}'..='\u{E0FFF}' // tags, variation selectors supplement, unassigned
    )
}

/// True when `text` is safe to show on a terminal as it is: no control character and no
/// invisible or reordering code point. Outputs assert this of everything they write.
pub fn is_clean(text: &str) -> bool {
    !text
        .chars()
        .any(|c| (c.is_control() && c != '\n') || is_invisible_or_reordering(c))
}

/// Display text for raw bytes, cut to about `max` characters (with `…`). The result is
/// always [`is_clean`]: valid UTF-8 text is kept, and control characters (line ends
/// included), invalid UTF-8, bidi controls and invisible characters become visible escapes
/// (`\x1b`, `\xff`, `\u{202E}`); a backslash is doubled, so the escaping is unambiguous.
///
/// ```
/// use popscope_core::sanitize::{display, is_clean};
///
/// let hostile = b"+OK \x1b]0;owned\x07 Gr\xc3\xbc\xc3\x9fe \xff";
/// let shown = display(hostile, 100);
/// assert_eq!(shown, "+OK \\x1b]0;owned\\x07 Grüße \\xff");
/// assert!(is_clean(&shown));
/// ```
pub fn display(bytes: &[u8], max: usize) -> String {
    let mut out = String::with_capacity(bytes.len().min(max) + 8);
    let mut shown = 0usize;
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if shown >= max {
                out.push('…');
                return out;
            }
            match c {
                '\\' => out.push_str("\\\\"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                '\n' => out.push_str("\\n"),
                c if c.is_control() => {
                    let _ = write!(out, "\\x{:02x}", c as u32);
                }
                c if is_invisible_or_reordering(c) => {
                    let _ = write!(out, "\\u{{{:04X}}}", c as u32);
                }
                c => out.push(c),
            }
            shown += 1;
        }
        for b in chunk.invalid() {
            if shown >= max {
                out.push('…');
                return out;
            }
            let _ = write!(out, "\\x{b:02x}");
            shown += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{display, is_clean};

    #[test]
    fn nothing_raw_reaches_the_terminal() {
        let hostile: &[u8] = b"\x1b[2J\x1b]0;pwned\x07\x1bP+q\x1b\\\x9b31m\x08\x08\rX\x00\xff\xfe";
        let s = display(hostile, 1000);
        assert!(!s.chars().any(|c| c.is_control()), "{s:?}");
        assert_eq!(
            s,
            "\\x1b[2J\\x1b]0;pwned\\x07\\x1bP+q\\x1b\\\\\\x9b31m\\x08\\x08\\rX\\x00\\xff\\xfe"
        );
    }

    #[test]
    fn utf8_text_is_kept_but_bidi_and_zero_width_are_shown() {
        assert_eq!(display("Grüße ☃".as_bytes(), 100), "Grüße ☃");
        assert_eq!(
            display("a\u{202E}b\u{200B}c".as_bytes(), 100),
            "a\\u{202E}b\\u{200B}c"
        );
        // A C1 control encoded as UTF-8 is a control too.
        assert_eq!(display("x\u{0085}y".as_bytes(), 100), "x\\x85y");
    }

    #[test]
    fn separators_tags_and_fillers_are_shown() {
        for c in [
            '\u{2028}',
            '\u{2029}',
            '\u{E0041}',
            '\u{E007F}',
            '\u{3164}',
            '\u{115F}',
            '\u{FFA0}',
            '\u{180E}',
            '\u{2066}',
            '\u{FE0F}',
            '\u{034F}',
        ] {
            let s = display(format!("a{c}b").as_bytes(), 100);
            assert_eq!(s, format!("a\\u{{{:04X}}}b", c as u32));
            assert!(is_clean(&s), "{s:?}");
        }
        assert!(!is_clean("a\u{E0041}b"));
        assert!(!is_clean("a\x1b[2Jb"));
        assert!(is_clean("Grüße ☃\n"));
    }

    #[test]
    fn long_lines_are_cut() {
        assert_eq!(display(&[b'a'; 50], 10), format!("{}…", "a".repeat(10)));
    }
}
