//! Server bytes become display text here and only here: control characters, escape sequences,
//! invalid UTF-8, bidi overrides and zero-width characters are shown as visible escapes and
//! never reach the terminal raw.

use std::fmt::Write as _;

/// Characters that are valid UTF-8 but change how surrounding text is displayed.
fn is_invisible_or_reordering(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}'   // zero-width space/joiners, LRM, RLM
        | '\u{202A}'..='\u{202E}' // bidi embeddings and overrides
        | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
        | '\u{2066}'..='\u{2069}' // bidi isolates
        | '\u{061C}'              // Arabic letter mark
        | '\u{FEFF}'              // BOM / zero-width no-break space
        | '\u{00AD}'              // soft hyphen
    )
}

/// Display text for raw bytes, cut to about `max` characters (with `…`).
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
    use super::display;

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
    fn long_lines_are_cut() {
        assert_eq!(display(&[b'a'; 50], 10), format!("{}…", "a".repeat(10)));
    }
}
