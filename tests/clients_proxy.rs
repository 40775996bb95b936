//! Real mail clients through `popscope proxy --headless --json`: fetchmail, mpop, getmail6,
//! curl, neomutt and Python's poplib, each configured here (a throwaway HOME and its own
//! configuration file), fetch every message from the demo server (plain upstream) and from the
//! test Dovecot (pop3s upstream, verified), with the client leg plain, pop3s or STLS. Every
//! message must arrive intact (byte for byte with the demo's sample maildrop, which is also what
//! scripts/dovecot.sh gives Dovecot, in the line ends the client stores), every
//! connection must end cleanly, and the proxy must report exactly the findings listed in
//! [`expected`]: a new finding, false or real, fails the test until it is read against the
//! RFC and listed there.
//!
//! Outside CI a missing client or Dovecot says so and passes; with CI=true it fails
//! (scripts/test.sh installs the clients and starts Dovecot).

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;

use common::clients::{
    installed, maildir_messages, make_maildir, private, run, sample_with_lf, text,
};
use common::dovecot::DOVECOT_DEVIATIONS;
use common::proxy::{Certs, Leg, ProxyProcess};
use popscope::server::TlsMode;
use popscope_core::server::maildrop;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Client {
    Curl,
    Poplib,
    Mpop,
    Fetchmail,
    Getmail,
    Neomutt,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Server {
    /// The demo server, plain TCP without STLS.
    Demo,
    /// The test Dovecot on implicit TLS.
    Dovecot,
}

/// Where a client connects: the proxy's port and leg, and the CA that signed its certificate.
struct Target<'a> {
    port: u16,
    leg: Leg,
    ca: &'a str,
}

/// What a client stored.
enum Got {
    /// One file per message, in message order, as the server sent it (CRLF).
    Each(Vec<Vec<u8>>),
    /// The messages one after the other with LF line ends (an MDA's input), each after a
    /// header line the client adds.
    Stream(Vec<u8>, &'static str),
    /// A Maildir's messages (LF), sorted.
    Maildir(Vec<Vec<u8>>),
}

impl Got {
    fn intact(&self) -> bool {
        match self {
            Got::Each(each) => {
                let sent = maildrop::sample();
                each.iter()
                    .map(Vec::as_slice)
                    .eq(sent.iter().map(|m| &m.data[..]))
            }
            Got::Stream(all, added) => {
                let sent: Vec<u8> = sample_with_lf()
                    .into_iter()
                    .flat_map(|m| [added.as_bytes().to_vec(), m].concat())
                    .collect();
                *all == sent
            }
            Got::Maildir(messages) => {
                let mut sent = sample_with_lf();
                sent.sort();
                *messages == sent
            }
        }
    }

    fn octets(&self) -> usize {
        match self {
            Got::Each(m) | Got::Maildir(m) => m.iter().map(Vec::len).sum(),
            Got::Stream(all, _) => all.len(),
        }
    }
}

// ---- the clients --------------------------------------------------------------------------

fn program(client: Client) -> &'static str {
    match client {
        Client::Curl => "curl",
        Client::Poplib => "/usr/bin/python3",
        Client::Mpop => "mpop",
        Client::Fetchmail => "fetchmail",
        Client::Getmail => "getmail",
        Client::Neomutt => "neomutt",
    }
}

fn fetch(client: Client, at: &Target, dir: &Path) -> (Output, Got) {
    match client {
        Client::Curl => curl(at, dir),
        Client::Poplib => poplib(at, dir),
        Client::Mpop => mpop(at, dir),
        Client::Fetchmail => fetchmail(at, dir),
        Client::Getmail => getmail(at, dir),
        Client::Neomutt => neomutt(at, dir),
    }
}

/// curl: every message by its own URL, on one connection; it writes each as received.
fn curl(at: &Target, dir: &Path) -> (Output, Got) {
    let scheme = if at.leg == Leg::Pop3s {
        "pop3s"
    } else {
        "pop3"
    };
    let mut args: Vec<String> = ["-sv", "--cacert", at.ca, "-u", "demo:demo"]
        .map(str::to_owned)
        .to_vec();
    if at.leg == Leg::Stls {
        args.push("--ssl-reqd".into());
    }
    let count = maildrop::sample().len();
    for n in 1..=count {
        args.push(format!("{scheme}://127.0.0.1:{}/{n}", at.port));
        args.push("-o".into());
        args.push(dir.join(format!("{n}.eml")).display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = run("curl", &args, dir);
    let each = (1..=count)
        .map(|n| std::fs::read(dir.join(format!("{n}.eml"))).unwrap_or_default())
        .collect();
    (o, Got::Each(each))
}

/// Python's poplib as its documentation shows it: USER/PASS, LIST, RETR each, QUIT; the
/// lines it returns (dot-unstuffed, CRLF removed) joined with CRLF again.
const POPLIB: &str = r#"
import poplib, ssl, sys
port, leg, ca, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
if leg == "pop3s":
    p = poplib.POP3_SSL("127.0.0.1", port, context=ctx, timeout=30)
else:
    p = poplib.POP3("127.0.0.1", port, timeout=30)
    if leg == "stls":
        p.stls(context=ctx)
p.user("demo")
p.pass_("demo")
_, listing, _ = p.list()
for entry in listing:
    n = int(entry.split()[0])
    _, lines, _ = p.retr(n)
    with open(f"{out}/{n}.eml", "wb") as f:
        f.write(b"".join(line + b"\r\n" for line in lines))
print(p.quit())
"#;

fn poplib(at: &Target, dir: &Path) -> (Output, Got) {
    let leg = match at.leg {
        Leg::Plain => "plain",
        Leg::Stls => "stls",
        Leg::Pop3s => "pop3s",
    };
    let out = dir.display().to_string();
    let o = run(
        "/usr/bin/python3",
        &["-c", POPLIB, &at.port.to_string(), leg, at.ca, &out],
        dir,
    );
    let each = (1..=maildrop::sample().len())
        .map(|n| std::fs::read(dir.join(format!("{n}.eml"))).unwrap_or_default())
        .collect();
    (o, Got::Each(each))
}

/// mpop: every message to `cat >> FILE`, none deleted, no Received header.
fn mpop(at: &Target, dir: &Path) -> (Output, Got) {
    let delivered = dir.join("delivered");
    let (tls, starttls) = match at.leg {
        Leg::Plain => ("off", "off"),
        Leg::Stls => ("on", "on"),
        Leg::Pop3s => ("on", "off"),
    };
    let rc = format!(
        "account demo\nhost 127.0.0.1\nport {port}\ntls {tls}\ntls_starttls {starttls}\n\
         tls_trust_file {ca}\nuser demo\npassword demo\nauth user\n\
         delivery mda \"cat >> {out}\"\nkeep on\nonly_new off\nreceived_header off\n\
         uidls_file {uidls}\n",
        port = at.port,
        ca = at.ca,
        out = delivered.display(),
        uidls = dir.join("uidls").display(),
    );
    let rc_file = dir.join("mpoprc");
    private(&rc_file, &rc);
    let o = run(
        "mpop",
        &["-C", &rc_file.display().to_string(), "--debug", "demo"],
        dir,
    );
    (
        o,
        Got::Stream(std::fs::read(&delivered).unwrap_or_default(), ""),
    )
}

/// fetchmail 6.4 (Debian's): every message kept and delivered to `cat >> FILE` as fetched.
/// It matches the certificate by name only, not by IP address: localhost.
fn fetchmail(at: &Target, dir: &Path) -> (Output, Got) {
    let tls = match at.leg {
        // Without a TLS option 6.4 sends STLS even when CAPA does not list it, and stops
        // at the -ERR (see `fetchmail_tries_stls_unasked_and_stops_at_the_refusal`): the
        // empty protocol says plain.
        Leg::Plain => "sslproto ''".to_owned(),
        Leg::Stls => format!("sslproto tls1.2+ sslcertfile {} sslcertck", at.ca),
        Leg::Pop3s => format!("ssl sslcertfile {} sslcertck", at.ca),
    };
    fetchmail_with(at.port, &tls, dir)
}

/// fetchmail with `tls`, its TLS options as a run control file says them.
fn fetchmail_with(port: u16, tls: &str, dir: &Path) -> (Output, Got) {
    let delivered = dir.join("delivered");
    let rc = format!(
        "set no syslog\nset invisible\npoll localhost protocol pop3 port {port} timeout 30\n  \
         user demo password \"demo\" is demo here\n  {tls}\n  keep fetchall norewrite\n  \
         mda \"cat >> {out}\"\n",
        out = delivered.display(),
    );
    let rc_file = dir.join("fetchmailrc");
    private(&rc_file, &rc);
    // As root fetchmail locks /var/run/fetchmail.pid: tests running at once would collide.
    let (ids, pidfile) = (dir.join("fetchids"), dir.join("fetchmail.pid"));
    let o = run(
        "fetchmail",
        &[
            "-f",
            &rc_file.display().to_string(),
            "-v",
            "--nodetach",
            "--nosyslog",
            "-i",
            &ids.display().to_string(),
            "--pidfile",
            &pidfile.display().to_string(),
        ],
        dir,
    );
    (
        o,
        Got::Stream(std::fs::read(&delivered).unwrap_or_default(), ""),
    )
}

/// getmail6: every message to `cat >> FILE`, none deleted, no headers added (its Maildir
/// delivery refuses to run as root; a command may, when told). It has no STLS for POP3 (its
/// SSL retrievers are implicit TLS only).
fn getmail(at: &Target, dir: &Path) -> (Output, Got) {
    let delivered = dir.join("delivered");
    let (retriever, ca) = match at.leg {
        Leg::Pop3s => ("SimplePOP3SSLRetriever", format!("ca_certs = {}\n", at.ca)),
        Leg::Plain | Leg::Stls => ("SimplePOP3Retriever", String::new()),
    };
    let rc = format!(
        "[retriever]\ntype = {retriever}\nserver = 127.0.0.1\nport = {port}\nusername = demo\n\
         password = demo\n{ca}\n[destination]\ntype = MDA_external\npath = /bin/sh\n\
         arguments = (\"-c\", \"cat >> {out}\")\nallow_root_commands = true\n\n\
         [options]\nread_all = true\ndelete = false\ndelivered_to = false\nreceived = false\n\
         message_log_syslog = false\n",
        port = at.port,
        out = delivered.display(),
    );
    let rc_file = dir.join("getmailrc");
    private(&rc_file, &rc);
    let o = run(
        "getmail",
        &[
            &format!("--rcfile={}", rc_file.display()),
            &format!("--getmaildir={}", dir.display()),
        ],
        dir,
    );
    // getmail writes the envelope sender first, always: POP3 has none to tell.
    let delivered = std::fs::read(&delivered).unwrap_or_default();
    (o, Got::Stream(delivered, "Return-Path: <unknown>\n"))
}

/// neomutt's `<fetch-mail>` into a Maildir spool, then quit; under `script`, which gives it
/// the terminal it insists on.
fn neomutt(at: &Target, dir: &Path) -> (Output, Got) {
    let maildir = dir.join("Maildir");
    make_maildir(&maildir);
    let (scheme, starttls) = match at.leg {
        Leg::Plain => ("pop", "no"),
        Leg::Stls => ("pop", "yes"),
        Leg::Pop3s => ("pops", "no"),
    };
    let force = if at.leg == Leg::Plain { "no" } else { "yes" };
    let rc = format!(
        "set pop_host=\"{scheme}://demo@127.0.0.1:{port}/\"\nset pop_pass=\"demo\"\n\
         set pop_delete=no\nset pop_last=no\nset mbox_type=Maildir\n\
         set folder=\"{maildir}\"\nset spool_file=\"{maildir}\"\nset ssl_starttls={starttls}\n\
         set ssl_force_tls={force}\nset ssl_ca_certificates_file=\"{ca}\"\n\
         set header_cache=\"\"\nset message_cachedir=\"\"\npush \"<fetch-mail><quit>\"\n",
        port = at.port,
        maildir = maildir.display(),
        ca = at.ca,
    );
    let rc_file = dir.join("neomuttrc");
    private(&rc_file, &rc);
    let command = format!("neomutt -n -F {}", rc_file.display());
    let o = std::process::Command::new("timeout")
        .args(["60", "script", "-qec", &command, "/dev/null"])
        .env("HOME", dir)
        .env("TERM", "xterm")
        .env_remove("SSLKEYLOGFILE")
        .output()
        .unwrap_or_else(|e| panic!("cannot run neomutt: {e}"));
    (o, Got::Maildir(maildir_messages(&maildir)))
}

// ---- what the proxy may report --------------------------------------------------------------

/// The findings the proxy reports for `client` fetching from `server` over `leg`, as "RULE side
/// severity", each read against the RFC: all are real, none is a client violation. The STLS
/// leg is expected to be as clean as pop3s (the client upgrades before it logs in): to be
/// confirmed when `--offer-stls` lands.
fn expected(client: Client, server: Server, leg: Leg) -> BTreeSet<String> {
    use Client::{Curl, Fetchmail, Getmail, Mpop, Neomutt, Poplib};
    // Message 2 has an 8-bit body and neither server offers UTF8 (RFC 6856 §3): legacy mail,
    // noted as info.
    let mut found = vec!["UTF-003 server info".to_owned()];
    let mut add = |more: &[&str]| found.extend(more.iter().map(|f| (*f).to_owned()));
    // poplib's stls() takes CAPA first, to see STLS listed.
    let asks_capa = matches!(client, Curl | Mpop | Fetchmail | Neomutt)
        || (client == Poplib && leg == Leg::Stls);
    if server == Server::Demo && asks_capa {
        // The plain demo upstream offers USER and SASL PLAIN without TLS (RFC 2595 §2.3)
        // and names itself in IMPLEMENTATION (RFC 2449 §6.9).
        add(&["USR-002 server warning", "CAPA-012 server info"]);
    }
    // Both servers answer USER with a bare "+OK" (legal; RFC 1957 notes old clients that
    // wanted text). fetchmail takes CRAM-MD5 where offered (the demo), USER elsewhere; curl
    // and neomutt log in with AUTH.
    let logs_in_with_user = match client {
        Mpop | Poplib | Getmail => true,
        Fetchmail => server == Server::Dovecot,
        Curl | Neomutt => false,
    };
    if logs_in_with_user {
        add(&["GEN-003 server info"]);
    }
    if server == Server::Dovecot && client == Neomutt {
        // neomutt asks CAPA again after login, where Dovecot 2.3 drops USER and SASL.
        let deviations = DOVECOT_DEVIATIONS.map(|rule| format!("{rule} server violation"));
        add(&deviations.each_ref().map(String::as_str));
    }
    if leg == Leg::Plain {
        // The password in the clear (or fetchmail's CRAM-MD5 to the demo, open to an offline
        // attack) on a leg that offered no STLS: the client had no better choice (RFC 2595
        // §2.3), so info, not violation.
        add(&["CL-008 client info"]);
    }
    found.into_iter().collect()
}

/// The findings of a connection's reports, as [`expected`] writes them.
fn reported(reports: &[serde_json::Value]) -> BTreeSet<String> {
    reports
        .iter()
        .flat_map(|r| r["findings"].as_array().cloned().unwrap_or_default())
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or_default().to_owned();
            format!("{} {} {}", s("rule"), s("side"), s("severity"))
        })
        .collect()
}

// ---- the runs -------------------------------------------------------------------------------

/// `client` fetches the maildrop through the proxy over `leg`, from the demo server and
/// from Dovecot when it runs.
fn through_the_proxy(client: Client, leg: Leg) {
    if !installed(program(client)) {
        return;
    }
    if client == Client::Getmail && leg == Leg::Stls {
        eprintln!("getmail6 has no STLS for POP3: skipped");
        return;
    }
    let rt = common::runtime();
    let demo = common::start(&rt, TlsMode::None, None);
    let demo_certs = Certs::in_dir(&demo.certs.dir);
    fetch_through(client, Server::Demo, leg, &demo_certs, &demo.url(), &[]);
    let Some(d) = common::dovecot::dovecot() else {
        return;
    };
    let upstream = format!("pop3s://127.0.0.1:{}", d.tls);
    let dovecot_certs = Certs::in_dir(Path::new(&d.certs));
    fetch_through(
        client,
        Server::Dovecot,
        leg,
        &dovecot_certs,
        &upstream,
        &["--ca-file", &d.ca],
    );
}

fn fetch_through(
    client: Client,
    server: Server,
    leg: Leg,
    certs: &Certs,
    upstream: &str,
    extra: &[&str],
) {
    let proxy = ProxyProcess::start(leg, certs, upstream, extra);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let target = Target {
        port: proxy.port,
        leg,
        ca: &certs.ca,
    };
    let (o, got) = fetch(client, &target, dir.path());
    let log = text(&o);
    let case = format!("{client:?} from {server:?} over {leg:?}");
    if o.status.code() != Some(0) {
        // The proxy's side of a client that failed or hung (124: killed by `timeout`).
        let reports = proxy.reports();
        panic!(
            "{case}: the client ended with {:?}\n{log}\nthe proxy's reports: {}",
            o.status,
            serde_json::to_string_pretty(&reports).unwrap_or_default()
        );
    }
    assert!(
        got.intact(),
        "{case}: {} octets stored, not the maildrop\n{log}",
        got.octets()
    );
    let reports = proxy.reports();
    assert!(!reports.is_empty(), "{case}: no report\n{log}");
    for r in &reports {
        assert!(r["error"].is_null(), "{case}: {r}");
        assert_eq!(r["final_state"], "closed", "{case}: {r}");
    }
    let found = reported(&reports);
    let want = expected(client, server, leg);
    assert_eq!(
        found,
        want,
        "{case}: the proxy's findings\n{}",
        serde_json::to_string_pretty(&reports).unwrap_or_default()
    );
}

/// A test per client and leg.
macro_rules! client_tests {
    ($name:ident, $client:expr) => {
        mod $name {
            use super::*;

            #[test]
            fn plain() {
                through_the_proxy($client, Leg::Plain);
            }

            #[test]
            fn pop3s() {
                through_the_proxy($client, Leg::Pop3s);
            }

            #[test]
            fn stls() {
                through_the_proxy($client, Leg::Stls);
            }
        }
    };
}

client_tests!(curl_through, Client::Curl);
client_tests!(poplib_through, Client::Poplib);
client_tests!(mpop_through, Client::Mpop);
client_tests!(fetchmail_through, Client::Fetchmail);
client_tests!(getmail_through, Client::Getmail);
client_tests!(neomutt_through, Client::Neomutt);

/// fetchmail 6.4 with no TLS option sends STLS even though CAPA did not list it
/// (RFC 2449 §5 makes that CL-012, info: CAPA is advisory), and when the proxy refuses it,
/// gives up before any credential: the safe answer to a stripped STLS.
#[test]
fn fetchmail_tries_stls_unasked_and_stops_at_the_refusal() {
    let Some((proxy, _dir)) = fetchmail_without_tls_options() else {
        return;
    };
    let reports = proxy.reports();
    let found = reported(&reports);
    assert!(!found.iter().any(|f| f.starts_with("CL-008")), "{found:?}");
    assert_eq!(reports.len(), 1, "{reports:?}");
    let notes = reports[0]["notes"].to_string();
    assert!(notes.contains("STLS 1 time"), "{notes}");
}

/// The same run, judged: the STLS the proxy refuses itself reaches the engine as the client's,
/// after a CAPA that (as the client saw it) listed no STLS.
#[test]
fn fetchmail_sending_stls_without_the_capability_is_cl012() {
    let Some((proxy, _dir)) = fetchmail_without_tls_options() else {
        return;
    };
    let found = reported(&proxy.reports());
    assert!(found.contains("CL-012 client info"), "{found:?}");
}

/// fetchmail with no TLS option, through a plain-leg proxy to the plain demo: it must fail
/// (exit 2, a socket/TLS error) with nothing delivered.
fn fetchmail_without_tls_options() -> Option<(ProxyProcess, tempfile::TempDir)> {
    if !installed("fetchmail") {
        return None;
    }
    let rt = common::runtime();
    let demo = common::start(&rt, TlsMode::None, None);
    let certs = Certs::in_dir(&demo.certs.dir);
    let proxy = ProxyProcess::start(Leg::Plain, &certs, &demo.url(), &[]);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (o, got) = fetchmail_with(proxy.port, "", dir.path());
    let log = text(&o);
    assert_eq!(o.status.code(), Some(2), "{log}");
    assert_eq!(got.octets(), 0, "{log}");
    assert!(log.contains("POP3> STLS"), "{log}");
    assert!(
        !log.contains("POP3> USER") && !log.contains("POP3> AUTH"),
        "{log}"
    );
    Some((proxy, dir))
}
