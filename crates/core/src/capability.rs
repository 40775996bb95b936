//! CAPA listings (RFC 2449 §5): one `tag *(SP param)` per line, tags case-insensitive.

use serde::Serialize;

use crate::sanitize::display;

/// One line of a CAPA listing. Tag and parameters are stored as display text (already
/// through [`crate::sanitize::display`]), never as raw server bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Capability {
    /// Upper-cased tag.
    pub tag: String,
    /// The parameters after the tag, in order, case kept.
    pub params: Vec<String>,
}

/// One CAPA answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// The lines in the order the server sent them; a longer answer keeps its first 1024.
    pub list: Vec<Capability>,
}

/// Beyond this many lines a CAPA answer is not stored (it is still checked line by line).
pub(crate) const MAX_STORED_CAPABILITIES: usize = 1024;

/// A line keeps this many parameters: a CAPA line has at most 512 octets, so at most 255 of
/// them (CAPA-002 reports a longer line); every AUTH looks through the SASL line's.
const MAX_STORED_PARAMS: usize = 256;

/// A tag or parameter is kept up to this many characters (a CAPA line has at most 512 octets;
/// CAPA-002 reports a longer one).
const MAX_SHOWN_WORD: usize = 512;

impl Capabilities {
    pub(crate) fn push_line(&mut self, line: &[u8]) {
        if self.list.len() >= MAX_STORED_CAPABILITIES {
            return;
        }
        // Stored as display text: every summary, report and JSON field built from a list
        // shows a server's escapes escaped (a tag or parameter is never raw server bytes).
        let mut words = line.split(|&b| b == b' ').filter(|w| !w.is_empty());
        if let Some(tag) = words.next() {
            self.list.push(Capability {
                tag: display(&tag.to_ascii_uppercase(), MAX_SHOWN_WORD),
                params: words
                    .take(MAX_STORED_PARAMS)
                    .map(|w| display(w, MAX_SHOWN_WORD))
                    .collect(),
            });
        }
    }

    /// The line whose tag is `tag`, compared case-insensitively (RFC 2449 §5).
    pub fn get(&self, tag: &str) -> Option<&Capability> {
        self.list.iter().find(|c| c.tag.eq_ignore_ascii_case(tag))
    }

    /// The list advertises `tag`, compared case-insensitively.
    pub fn has(&self, tag: &str) -> bool {
        self.get(tag).is_some()
    }

    /// SASL mechanisms listed by the `SASL` capability, upper-cased.
    pub fn sasl_mechanisms(&self) -> Vec<String> {
        self.get("SASL")
            .map(|c| c.params.iter().map(|m| m.to_ascii_uppercase()).collect())
            .unwrap_or_default()
    }

    /// The `SASL` line lists mechanism `mech` (give it in upper case: `PLAIN`, `CRAM-MD5`).
    pub fn has_sasl(&self, mech: &str) -> bool {
        self.get("SASL")
            .is_some_and(|c| c.params.iter().any(|m| m.eq_ignore_ascii_case(mech)))
    }

    /// The offers in this list that send the password itself, in this order: `USER`,
    /// `SASL PLAIN`, `SASL LOGIN` (challenge-response, APOP or CRAM-MD5, does not). Offered on an
    /// unencrypted connection they are USR-002 (RFC 2595 §2.3, §9; RFC 8314 §4.1).
    pub fn cleartext_passwords(&self) -> Vec<&'static str> {
        [
            ("USER", self.has("USER")),
            ("SASL PLAIN", self.has_sasl("PLAIN")),
            ("SASL LOGIN", self.has_sasl("LOGIN")),
        ]
        .into_iter()
        .filter_map(|(name, offered)| offered.then_some(name))
        .collect()
    }

    pub(crate) fn tags(&self) -> impl Iterator<Item = &str> {
        self.list.iter().map(|c| c.tag.as_str())
    }

    /// The list as one line, for people: `TOP UIDL SASL PLAIN LOGIN`.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        for c in &self.list {
            if !s.is_empty() {
                s.push_str("  ");
            }
            s.push_str(&c.tag);
            for p in &c.params {
                s.push(' ');
                s.push_str(p);
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_case_insensitive() {
        let mut c = Capabilities::default();
        c.push_line(b"sasl PLAIN external");
        c.push_line(b"Top");
        assert!(c.has("TOP") && c.has("top"));
        assert_eq!(c.sasl_mechanisms(), vec!["PLAIN", "EXTERNAL"]);
        assert!(c.has_sasl("EXTERNAL"));
        assert_eq!(c.summary(), "SASL PLAIN external  TOP");
    }

    /// A hostile SASL line of 64 KiB is looked through by every AUTH: it keeps the first
    /// parameters a 512-octet line can hold.
    #[test]
    fn a_line_keeps_its_first_256_parameters() {
        let mut c = Capabilities::default();
        let line: Vec<String> = (0..10_000).map(|i| format!("M{i}")).collect();
        c.push_line(format!("SASL {}", line.join(" ")).as_bytes());
        assert_eq!(c.sasl_mechanisms().len(), 256);
        assert!(c.has_sasl("M255") && !c.has_sasl("M256"));
    }

    #[test]
    fn tags_and_parameters_are_stored_as_display_text() {
        let mut c = Capabilities::default();
        c.push_line(b"IMPLEMENTATION \x1b]52;c;cHduZWQ=\x07 \xe2\x80\xa8x\xff");
        c.push_line("X\u{E0041}TAG \u{202E}".as_bytes());
        assert_eq!(
            c.summary(),
            "IMPLEMENTATION \\x1b]52;c;cHduZWQ=\\x07 \\u{2028}x\\xff  X\\u{E0041}TAG \\u{202E}"
        );
        assert!(crate::sanitize::is_clean(&c.summary()));
        assert!(crate::sanitize::is_clean(
            &serde_json::to_string(&c).unwrap_or_default()
        ));
    }
}
