//! How many findings of each severity a session, a report or a view holds.

use serde::Serialize;

use crate::{Finding, Severity};

/// Counts of findings per severity; serialized as `{"violation": n, "warning": n, "info": n}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Findings of severity [`Severity::Violation`].
    pub violation: usize,
    /// Findings of severity [`Severity::Warning`].
    pub warning: usize,
    /// Findings of severity [`Severity::Info`].
    pub info: usize,
}

impl Tally {
    /// The counts of `findings`.
    pub fn of<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> Tally {
        let mut t = Tally::default();
        for f in findings {
            t.add(f.severity);
        }
        t
    }

    /// Counts one more finding of severity `s`.
    pub fn add(&mut self, s: Severity) {
        *self.slot(s) += 1;
    }

    /// These counts and `other`'s together.
    pub fn and(mut self, other: &Tally) -> Tally {
        self.violation += other.violation;
        self.warning += other.warning;
        self.info += other.info;
        self
    }

    /// How many findings in all.
    pub fn total(&self) -> usize {
        self.violation + self.warning + self.info
    }

    /// The count for severity `s`.
    pub fn get(&self, s: Severity) -> usize {
        match s {
            Severity::Violation => self.violation,
            Severity::Warning => self.warning,
            Severity::Info => self.info,
        }
    }

    fn slot(&mut self, s: Severity) -> &mut usize {
        match s {
            Severity::Violation => &mut self.violation,
            Severity::Warning => &mut self.warning,
            Severity::Info => &mut self.info,
        }
    }

    /// "1 violation, 2 warnings, 0 info": the counts as a person reads them.
    pub fn counts(&self) -> String {
        format!(
            "{} {}, {} {}, {} info",
            self.violation,
            if self.violation == 1 {
                "violation"
            } else {
                "violations"
            },
            self.warning,
            if self.warning == 1 {
                "warning"
            } else {
                "warnings"
            },
            self.info
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_each_severity_apart() {
        let mut t = Tally::default();
        t.add(Severity::Warning);
        t.add(Severity::Warning);
        t.add(Severity::Violation);
        assert_eq!(
            (
                t.get(Severity::Violation),
                t.get(Severity::Warning),
                t.get(Severity::Info)
            ),
            (1, 2, 0)
        );
        assert_eq!(t.counts(), "1 violation, 2 warnings, 0 info");
        assert_eq!(
            Tally::default().counts(),
            "0 violations, 0 warnings, 0 info"
        );
    }
}
