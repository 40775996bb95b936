//! Exit codes, the same for every subcommand (README "Exit codes"): what a run ended with,
//! for the CLI and for the outputs that report it per target (a fleet run, Nagios).

/// Done; no violation found.
pub const OK: u8 = 0;
/// At least one violation was found.
pub(crate) const VIOLATIONS: u8 = 1;
/// Bad usage, bad configuration or unreadable input.
pub const USAGE: u8 = 2;
/// No connection: refused, reset, DNS failure, timeout.
pub(crate) const CONNECT: u8 = 3;
/// TLS failed: handshake, certificate, plaintext on a TLS port, STLS missing with --starttls.
pub(crate) const TLS: u8 = 4;

/// The code of a run that finished: 1 when one of its findings (counted, those a report
/// left out too) is a violation, else 0.
pub(crate) fn verdict(findings: &popscope_core::Tally) -> u8 {
    if findings.violation > 0 {
        VIOLATIONS
    } else {
        OK
    }
}

/// A login that was asked for and refused (a wrong password, a refused or expired token)
/// fails the run with the code of a violation: what was asked could not be done, and
/// scripts and monitoring must see it. The report says why.
pub(crate) const LOGIN_REFUSED: u8 = VIOLATIONS;

/// The code a login adds to a run: [`LOGIN_REFUSED`] when it was refused.
pub(crate) fn login(refused: bool) -> u8 {
    if refused { LOGIN_REFUSED } else { OK }
}

/// The code of a run that a transport failure stopped.
pub(crate) fn of_failure(e: &crate::transport::TransportError) -> u8 {
    use crate::transport::error::FailureKind;
    match e.kind() {
        FailureKind::Config => USAGE,
        FailureKind::Connection => CONNECT,
        FailureKind::Tls => TLS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::TransportError;

    #[test]
    fn each_kind_of_failure_has_its_code() {
        let refused = TransportError::Refused { addr: "a".into() };
        assert_eq!(of_failure(&refused), CONNECT);
        assert_eq!(of_failure(&TransportError::StartTls("x".into())), TLS);
        assert_eq!(of_failure(&TransportError::Config("x".into())), USAGE);
        let mut found = popscope_core::Tally::default();
        assert_eq!(verdict(&found), OK);
        found.add(popscope_core::Severity::Warning);
        assert_eq!(verdict(&found), OK);
        found.add(popscope_core::Severity::Violation);
        assert_eq!(verdict(&found), VIOLATIONS);
    }
}
