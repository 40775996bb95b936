//! The check of one URL, or of every transport of a bare host: implicit TLS, plain, and STLS
//! when the plain port offers it, each walked ([`super::walk`]), then compared
//! ([`super::compare`]).

use crate::transport::error::FailureKind;
use crate::transport::{Scheme, Target, TransportError};
use popscope_core::Security;

use super::compare::compare;
use super::walk::{self, PlaintextLogin, WalkOptions, WalkResult};

/// What to check.
pub struct CheckOptions {
    /// The walk of every transport; its target, scheme, `starttls` and `plaintext_login` are
    /// set per transport.
    pub(crate) walk: WalkOptions,
    /// For a bare host: the implicit-TLS port.
    pub(crate) tls_port: u16,
    /// For a bare host: log in on the plain leg although the host offers TLS.
    pub(crate) allow_plaintext_login: bool,
    /// For a URL (pop3://): how a login in the clear is treated.
    pub(crate) explicit_login: PlaintextLogin,
}

/// One transport the check tried: walked, or the error that stopped it.
pub struct Leg {
    pub(crate) url: String,
    pub(crate) transport: Security,
    pub(crate) outcome: Result<WalkResult, String>,
}

/// Every transport tried, in order, and what differs between them (a bare host only).
pub struct Checked {
    /// A bare host (every transport), not one URL.
    pub(crate) bare: bool,
    pub(crate) legs: Vec<Leg>,
    pub(crate) comparison: Vec<String>,
}

/// Why a check has nothing to report.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The one URL's walk could not start.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// No transport of a bare host answered; each leg's error is in the message.
    #[error("no transport of {host} answered: {why}")]
    NoTransport { host: String, why: String },
}

/// The run's failure when no leg could be walked: every leg that connected timed out on its
/// main connection's first replies (the others did not connect). The report says what it
/// could; the failure says that nothing was checked.
pub(crate) struct WalkFailure<'a> {
    pub(crate) error: &'a TransportError,
    pub(crate) message: String,
}

impl Checked {
    /// The legs that were walked.
    pub(crate) fn walked(&self) -> impl Iterator<Item = (&Leg, &WalkResult)> {
        self.legs
            .iter()
            .filter_map(|l| l.outcome.as_ref().ok().map(|r| (l, r)))
    }

    /// See [`WalkFailure`].
    pub(crate) fn failure(&self) -> Option<WalkFailure<'_>> {
        let walked: Vec<&WalkResult> = self.walked().map(|(_, r)| r).collect();
        let failed: Vec<&TransportError> =
            walked.iter().filter_map(|r| r.failure.as_ref()).collect();
        if failed.is_empty() || failed.len() < walked.len() {
            return None;
        }
        let error = failed.first()?;
        let mut message = error.to_string();
        if self.legs.len() > 1 {
            message = format!("no transport could be walked: {message}");
        }
        Some(WalkFailure { error, message })
    }
}

/// Checks the URL of `target`, or, for a bare host, every transport it offers.
pub(crate) async fn run(target: &Target, opts: CheckOptions) -> Result<Checked, CheckError> {
    match target.scheme {
        Some(scheme) => {
            let starttls = opts.walk.starttls && scheme == Scheme::Pop3;
            let r = walk::run(leg(&opts, target, scheme, starttls, opts.explicit_login)).await?;
            let transport = match (scheme, starttls) {
                (Scheme::Pop3s, _) => Security::ImplicitTls,
                (Scheme::Pop3, true) => Security::Stls,
                (Scheme::Pop3, false) => Security::Plain,
            };
            Ok(Checked {
                bare: false,
                legs: vec![Leg {
                    url: target.url(scheme),
                    transport,
                    outcome: Ok(r),
                }],
                comparison: Vec::new(),
            })
        }
        None => every_transport(target, &opts).await,
    }
}

/// Implicit TLS first, so that the plain leg knows whether it may log in (never, when the
/// host offers TLS, unless asked).
async fn every_transport(target: &Target, opts: &CheckOptions) -> Result<Checked, CheckError> {
    let mut tls_target = target.clone();
    tls_target.port = Some(opts.tls_port);
    let implicit = walk::run(leg(
        opts,
        &tls_target,
        Scheme::Pop3s,
        false,
        PlaintextLogin::Allow,
    ))
    .await;
    let tls_elsewhere = match &implicit {
        Ok(_) => true,
        Err(e) => e.kind() == FailureKind::Tls,
    };
    let plain_login = if opts.allow_plaintext_login {
        PlaintextLogin::Allow
    } else {
        PlaintextLogin::Refuse { tls_elsewhere }
    };
    let plain = walk::run(leg(opts, target, Scheme::Pop3, false, plain_login)).await;
    let stls = if plain.as_ref().is_ok_and(WalkResult::offers_stls) {
        Some(walk::run(leg(opts, target, Scheme::Pop3, true, PlaintextLogin::Allow)).await)
    } else {
        None
    };
    let mut comparison = compare(
        plain.as_ref().ok(),
        stls.as_ref().and_then(|r| r.as_ref().ok()),
        implicit.as_ref().ok(),
    );
    let mut legs = Vec::new();
    for (scheme, t, transport, r) in [
        (Scheme::Pop3, target, Security::Plain, Some(plain)),
        (Scheme::Pop3, target, Security::Stls, stls),
        (
            Scheme::Pop3s,
            &tls_target,
            Security::ImplicitTls,
            Some(implicit),
        ),
    ] {
        let Some(r) = r else { continue };
        let url = t.url(scheme);
        if let Err(e) = &r {
            comparison.push(format!("{} on {url}: {e}", name(transport)));
        }
        legs.push(Leg {
            url,
            transport,
            outcome: r.map_err(|e| e.to_string()),
        });
    }
    if legs.iter().all(|l| l.outcome.is_err()) {
        return Err(CheckError::NoTransport {
            host: target.host.clone(),
            why: comparison.join("; "),
        });
    }
    Ok(Checked {
        bare: true,
        legs,
        comparison,
    })
}

/// A transport as the text reports name it.
pub(crate) fn name(transport: Security) -> &'static str {
    match transport {
        Security::Plain => "plain",
        Security::Stls => "STLS",
        Security::ImplicitTls => "implicit TLS",
    }
}

/// The walk of one transport.
fn leg(
    opts: &CheckOptions,
    target: &Target,
    scheme: Scheme,
    starttls: bool,
    plaintext_login: PlaintextLogin,
) -> WalkOptions {
    let mut walk = opts.walk.clone();
    walk.connect.target = target.clone();
    walk.connect.scheme = scheme;
    walk.starttls = starttls;
    walk.plaintext_login = plaintext_login;
    walk
}
