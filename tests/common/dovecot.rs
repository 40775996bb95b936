//! The test Dovecot that `scripts/dovecot.sh start` runs, as `scripts/dovecot.sh env` describes
//! it. Outside CI, without it, a test says so and passes; with CI set it fails.

pub struct Dovecot {
    pub plain: String,
    pub tls: String,
    pub ca: String,
    pub certs: String,
}

/// Its bearer-token side: the oauth2 passdb and the introspection endpoint behind it.
pub struct OauthDovecot {
    pub dovecot: Dovecot,
    /// The one user the endpoint vouches for.
    pub user: String,
    /// Active, and short enough for the AUTH line.
    pub token: String,
    /// Active, and over 1,200 octets: too long for the AUTH line (RFC 5034 §4).
    pub long_token: String,
    /// A JWT whose `exp` is in the past; the endpoint calls it inactive.
    pub expired_jwt: String,
}

/// Dovecot 2.3 drops USER and SASL from CAPA after login: RFC 2449 §5 ("every capability
/// announced in AUTHORIZATION must also be announced in TRANSACTION") and RFC 5034 §3 (the SASL
/// capability continues after AUTH). popscope reports that; nothing else may be a violation.
pub const DOVECOT_DEVIATIONS: [&str; 2] = ["CAPA-003", "SASL-010"];

/// The violations of a JSON report other than [`DOVECOT_DEVIATIONS`], by rule ID.
pub fn unexpected_violations(report: &serde_json::Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["severity"] == "violation")
        .filter_map(|f| f["rule"].as_str().map(str::to_owned))
        .filter(|r| !DOVECOT_DEVIATIONS.contains(&r.as_str()))
        .collect()
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn skipped(what: &str) {
    assert!(
        std::env::var("CI").is_err(),
        "CI=true but {what}: run the tests through scripts/test.sh"
    );
    eprintln!("{what} (scripts/dovecot.sh start): skipped");
}

pub fn dovecot() -> Option<Dovecot> {
    match (
        var("POPSCOPE_DOVECOT_PLAIN"),
        var("POPSCOPE_DOVECOT_TLS"),
        var("POPSCOPE_DOVECOT_CA"),
        var("POPSCOPE_DOVECOT_CERTS"),
    ) {
        (Some(plain), Some(tls), Some(ca), Some(certs)) => Some(Dovecot {
            plain,
            tls,
            ca,
            certs,
        }),
        _ => {
            skipped("Dovecot is not running");
            None
        }
    }
}

pub fn oauth_dovecot() -> Option<OauthDovecot> {
    let dovecot = dovecot()?;
    match (
        var("POPSCOPE_OAUTH_USER"),
        var("POPSCOPE_OAUTH_TOKEN"),
        var("POPSCOPE_OAUTH_LONG_TOKEN"),
        var("POPSCOPE_OAUTH_EXPIRED_JWT"),
    ) {
        (Some(user), Some(token), Some(long_token), Some(expired_jwt)) => Some(OauthDovecot {
            dovecot,
            user,
            token,
            long_token,
            expired_jwt,
        }),
        _ => {
            skipped("Dovecot runs without its introspection endpoint");
            None
        }
    }
}
