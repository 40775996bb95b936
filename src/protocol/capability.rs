//! CAPA listings (RFC 2449 §5): one `tag *(SP param)` per line, tags case-insensitive.

use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Capability {
    /// Upper-cased tag.
    pub tag: String,
    pub params: Vec<String>,
}

/// One CAPA answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    pub list: Vec<Capability>,
}

/// Beyond this many lines a CAPA answer is not stored (it is still checked line by line).
pub const MAX_STORED_CAPABILITIES: usize = 1024;

impl Capabilities {
    pub fn push_line(&mut self, line: &[u8]) {
        if self.list.len() >= MAX_STORED_CAPABILITIES {
            return;
        }
        let text = String::from_utf8_lossy(line);
        let mut words = text.split(' ').filter(|w| !w.is_empty());
        if let Some(tag) = words.next() {
            self.list.push(Capability {
                tag: tag.to_ascii_uppercase(),
                params: words.map(str::to_owned).collect(),
            });
        }
    }

    pub fn get(&self, tag: &str) -> Option<&Capability> {
        self.list.iter().find(|c| c.tag.eq_ignore_ascii_case(tag))
    }

    pub fn has(&self, tag: &str) -> bool {
        self.get(tag).is_some()
    }

    /// SASL mechanisms listed by the `SASL` capability, upper-cased.
    pub fn sasl_mechanisms(&self) -> Vec<String> {
        self.get("SASL")
            .map(|c| c.params.iter().map(|m| m.to_ascii_uppercase()).collect())
            .unwrap_or_default()
    }

    pub fn has_sasl(&self, mech: &str) -> bool {
        self.sasl_mechanisms().iter().any(|m| m == mech)
    }

    pub fn tags(&self) -> impl Iterator<Item = &str> {
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
}
