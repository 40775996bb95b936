//! `popscope proxy`: relay mail clients to a server and judge each session.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::{CliError, ProxyArgs, exit};
use crate::proxy::{ProxyOptions, Upstream};
use crate::transport::{Scheme, Target, TlsSettings};

/// The upstream leg's options (as `check` has them) and `--record`'s.
#[derive(Clone, Debug, Default, Args)]
pub struct UpstreamArgs {
    /// With a pop3:// upstream: upgrade it by STLS before relaying (CAPA must list STLS; the
    /// certificate verified as for pop3s). Never falls back to plaintext: a failure refuses
    /// the client in one -ERR line.
    #[arg(long)]
    pub(crate) upstream_starttls: bool,
    /// Trust the CA certificates in this PEM file (besides the system's) for the upstream.
    #[arg(long, value_name = "PEM")]
    pub(crate) ca_file: Option<PathBuf>,
    /// Do not verify the upstream's certificate (shown loudly).
    #[arg(long)]
    pub(crate) insecure: bool,
    /// The TLS server name to send to the upstream and verify (default: its host).
    #[arg(long, value_name = "NAME")]
    pub(crate) sni: Option<String>,
    /// Seconds to wait for the upstream connection and its TLS handshake.
    #[arg(long, value_name = "SECONDS", default_value_t = 10, allow_hyphen_values = true,
          value_parser = super::numbers::timeout_seconds())]
    pub(crate) connect_timeout: u64,
    /// Seconds a write to either side may wait for it to read, or a client may be silent on
    /// its turn, before the connection ends; and the silence of a server that owes a reply
    /// before the checks judge it (the relay goes on).
    #[arg(long, value_name = "SECONDS", default_value_t = 30, allow_hyphen_values = true,
          value_parser = super::numbers::timeout_seconds())]
    pub(crate) timeout: u64,
    /// Record every connection as JSON Lines, one session each, appended when it ends
    /// (secrets redacted).
    #[arg(long, value_name = "FILE")]
    pub(crate) record: Option<PathBuf>,
    /// Keep passwords and SASL data in the recording (the header says so).
    #[arg(long, requires = "record")]
    pub(crate) record_secrets: bool,
    /// Keep at most this many octets of each message body in the recording.
    #[arg(long, value_name = "BYTES", requires = "record", allow_hyphen_values = true,
          value_parser = super::numbers::in_range(0u64, u64::MAX, "octets"))]
    pub(crate) max_body: Option<u64>,
    /// Replace the --record file if it exists (a symbolic link is still refused).
    #[arg(long, requires = "record")]
    pub(crate) force: bool,
}

/// The client leg's TLS (`--listen pop3s://`, or `--offer-stls`).
#[derive(Clone, Debug, Default, Args)]
pub struct ClientLegArgs {
    /// On a pop3:// listen: offer STLS to clients (CAPA lists it) and answer it, running TLS
    /// with the client; without it, STLS is kept from clients and refused.
    #[arg(long)]
    pub(crate) offer_stls: bool,
    /// The certificate chain (PEM) the proxy shows clients on a TLS client leg.
    #[arg(long, value_name = "PEM", requires = "key")]
    pub(crate) cert: Option<PathBuf>,
    /// The private key (PEM) of --cert.
    #[arg(long, value_name = "PEM", requires = "cert")]
    pub(crate) key: Option<PathBuf>,
    /// Without --cert/--key: where popscope keeps its own CA, made once (default
    /// $XDG_DATA_HOME/popscope/proxy-ca, or ~/.local/share/popscope/proxy-ca).
    #[arg(long, value_name = "DIR", conflicts_with = "cert")]
    pub(crate) ca_dir: Option<PathBuf>,
    /// Without --cert/--key: another name the CA's certificate for the listen is valid for,
    /// when clients connect by it (repeatable).
    #[arg(long, value_name = "NAME", conflicts_with = "cert")]
    pub(crate) cert_name: Vec<String>,
}

/// The ports `--listen` takes when it names none: pop3:// and pop3s://.
const DEFAULT_LISTEN_PORT: u16 = 1110;
const DEFAULT_LISTEN_TLS_PORT: u16 = 1995;

pub fn run(args: &ProxyArgs) -> Result<u8, CliError> {
    let upstream = upstream(args)?;
    let (listen, tls_listen) = listen_address(&args.listen)?;
    let client_tls = client_tls(tls_listen, &args.client_leg, &listen)?;
    let record = args
        .conn
        .record
        .as_deref()
        .map(|p| {
            super::connect::RecordFile::create(p, args.conn.force)
                .map_err(|e| CliError::usage(format!("--record: {e}")))
        })
        .transpose()?;
    if args.conn.insecure {
        eprintln!(
            "popscope: warning: --insecure: the upstream's certificate is NOT VERIFIED; anyone on the path can read the relayed sessions"
        );
    }
    let view = connections_view(args, &upstream)?;
    let mut opts = ProxyOptions {
        upstream,
        client_tls,
        offer_stls: args.client_leg.offer_stls,
        timeout: Duration::from_secs(args.conn.timeout.max(1)),
        record: record.clone(),
        record_secrets: args.conn.record_secrets,
        max_body: args.conn.max_body,
        saving: std::sync::Mutex::default(),
        logins: std::sync::Mutex::default(),
        login_times: std::sync::Arc::default(),
        watch: None,
        inject: args.inject,
    };
    if let Some(f) = args.inject
        && f.case.info().leg == popscope_core::inject::Leg::Starttls
        && !args.client_leg.offer_stls
    {
        eprintln!(
            "popscope: warning: --inject {} acts around STLS toward the client: without --offer-stls the proxy offers none, so the client sees little or no change",
            f.label()
        );
    }
    let rt = super::runtime()?;
    let result = rt.block_on(async {
        let mut stop = super::serve::Stop::new()?;
        let listener = bind(&listen).await?;
        let upstream_url = opts.upstream.url();
        let upstream_url = if opts.upstream.starttls {
            format!("{upstream_url} (upgraded by STLS)")
        } else {
            upstream_url
        };
        let local = listener.local_addr().map_or(listen.clone(), |a| a.to_string());
        let scheme = if tls_listen { "pop3s" } else { "pop3" };
        eprintln!("popscope proxy: listening on {scheme}://{local}, relaying to {upstream_url}; Ctrl-C stops it");
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        if let Some(template) = view {
            let (hook, view) = crate::tui::proxy_view(format!("{scheme}://{local}"), template);
            opts.watch = Some(hook);
            let (quit, quitted) = tokio::sync::oneshot::channel::<()>();
            let proxy = tokio::spawn(crate::proxy::run(listener, opts, tx, async move {
                tokio::select! {
                    _ = stop.wait() => {}
                    _ = quitted => {}
                }
            }));
            let shown = crate::tui::run_proxy(view, rx).await;
            let _ = quit.send(());
            let _ = proxy.await;
            return shown
                .map(|()| exit::OK)
                .map_err(|e| CliError::usage(format!("terminal: {e}")));
        }
        let proxy = tokio::spawn(crate::proxy::run(listener, opts, tx, async move {
            let _ = stop.wait().await;
        }));
        while let Some(report) = rx.recv().await {
            report.print(args.json);
        }
        let _ = proxy.await;
        Ok(exit::OK)
    });
    super::connect::finish_record(record.as_ref(), result)
}

/// The connections view's start, unless `--headless`, `--json` or no terminal asks for the
/// reports instead.
fn connections_view(
    args: &ProxyArgs,
    upstream: &Upstream,
) -> Result<Option<crate::tui::proxy::Template>, CliError> {
    if args.headless || args.json || super::config::require_terminal().is_err() {
        return Ok(None);
    }
    Ok(Some(crate::tui::proxy::Template {
        upstream: upstream.url(),
        theme: super::config::theme(&args.ui)?,
        keys: super::config::key_table()?,
        clock: crate::tui::clock_base,
    }))
}

fn upstream(args: &ProxyArgs) -> Result<Upstream, CliError> {
    let target =
        Target::parse(&args.upstream).map_err(|e| CliError::usage(format!("--upstream {e}")))?;
    let Some(scheme) = target.scheme else {
        return Err(CliError::usage(format!(
            "--upstream '{}': say pop3:// or pop3s://",
            args.upstream
        )));
    };
    let c = &args.conn;
    if c.upstream_starttls && scheme != Scheme::Pop3 {
        return Err(CliError::usage(
            "--upstream-starttls is for a pop3:// upstream: pop3s:// is TLS from the first byte",
        ));
    }
    Ok(Upstream {
        starttls: c.upstream_starttls,
        target,
        scheme,
        tls: TlsSettings {
            ca_file: c.ca_file.clone(),
            insecure: c.insecure,
            sni: c.sni.clone(),
            client_cert: None,
            client_key: None,
        },
        connect_timeout: Duration::from_secs(c.connect_timeout.max(1)),
    })
}

/// `--listen pop3[s]://HOST[:PORT]` as `host:port` (port 0 picks a free one), and whether
/// the client leg is TLS.
fn listen_address(url: &str) -> Result<(String, bool), CliError> {
    let (rest, tls) = match (url.strip_prefix("pop3://"), url.strip_prefix("pop3s://")) {
        (Some(rest), _) => (rest, false),
        (_, Some(rest)) => (rest, true),
        _ => {
            return Err(CliError::usage(format!(
                "--listen '{url}': give pop3://host:port or pop3s://host:port"
            )));
        }
    };
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() {
        return Err(CliError::usage(format!("--listen '{url}': no host")));
    }
    let has_port = match rest.rsplit_once(':') {
        Some((host, port)) => {
            !host.ends_with(':')
                && port.parse::<u16>().is_ok()
                && (!host.contains(':') || host.ends_with(']'))
        }
        None => false,
    };
    let default_port = if tls {
        DEFAULT_LISTEN_TLS_PORT
    } else {
        DEFAULT_LISTEN_PORT
    };
    let address = if has_port {
        rest.to_owned()
    } else {
        format!("{rest}:{default_port}")
    };
    Ok((address, tls))
}

/// The client leg's TLS acceptor: a pop3s:// listen or --offer-stls shows --cert/--key, or
/// a certificate of popscope's own CA for the listen's host (`listen`: host:port); a plain
/// pop3:// listen takes none of them.
fn client_tls(
    tls_listen: bool,
    leg: &ClientLegArgs,
    listen: &str,
) -> Result<Option<tokio_rustls::TlsAcceptor>, CliError> {
    if leg.offer_stls && tls_listen {
        return Err(CliError::usage(
            "--offer-stls is for a pop3:// listen: on pop3s:// the client's leg is TLS from the first byte",
        ));
    }
    let tls_listen = tls_listen || leg.offer_stls;
    let config = match (tls_listen, &leg.cert, &leg.key) {
        (true, Some(cert), Some(key)) => {
            crate::server::certs::server_config_from_pem(cert, key).map_err(CliError::usage)?
        }
        (true, _, _) => own_ca_config(leg, listen)?,
        (false, None, None) if leg.ca_dir.is_none() && leg.cert_name.is_empty() => {
            return Ok(None);
        }
        (false, _, _) => {
            return Err(CliError::usage(
                "--cert, --key, --ca-dir and --cert-name are for a TLS client leg: give --listen pop3s://host:port or --offer-stls",
            ));
        }
    };
    // Optional, never verified: the client rules want to know whether one was shown.
    let mut config = crate::proxy::client_auth::asking_for_client_certs(config)
        .map_err(|e| CliError::usage(format!("the client leg's TLS: {e}")))?;
    // SSLKEYLOGFILE, when set, covers the client leg as it does the upstream's.
    config.key_log = std::sync::Arc::new(rustls::KeyLogFile::new());
    Ok(Some(tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(
        config,
    ))))
}

/// The TLS server side from popscope's own CA (made on first use, said on stderr with how to
/// trust it), for the listen's host and the --cert-name names.
fn own_ca_config(leg: &ClientLegArgs, listen: &str) -> Result<rustls::ServerConfig, CliError> {
    use crate::proxy::ca::{self, ProxyCa};
    let dir = leg.ca_dir.clone().or_else(ca::default_dir).ok_or_else(|| {
        CliError::usage("no data folder (HOME and XDG_DATA_HOME are unset): give --ca-dir DIR, or --cert and --key")
    })?;
    let ca = ProxyCa::open_or_create(&dir).map_err(|e| CliError::usage(format!("--ca-dir {e}")))?;
    let config = ca
        .server_config(leaf_names(listen, &leg.cert_name))
        .map_err(|e| CliError::usage(format!("the certificate for the listen: {e}")))?;
    for line in ca.trust_lines() {
        eprintln!("{line}");
    }
    Ok(config)
}

/// The names the listen's certificate is valid for: its host (and every loopback name for a
/// loopback listen: a client may say localhost or 127.0.0.1), then `extra`.
fn leaf_names(listen: &str, extra: &[String]) -> Vec<String> {
    let host = listen
        .rsplit_once(':')
        .map_or(listen, |(host, _)| host)
        .trim_start_matches('[')
        .trim_end_matches(']');
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    let mut names = vec![host.to_owned()];
    if loopback {
        names.extend(crate::server::certs::LOOPBACK_NAMES.map(str::to_owned));
    }
    names.extend(extra.iter().cloned());
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| !n.is_empty() && seen.insert(n.clone()));
    names
}

/// Binds the listener; an address other than loopback gets a warning (a proxy there lets
/// others relay through it and read the sessions' findings).
async fn bind(addr: &str) -> Result<tokio::net::TcpListener, CliError> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host(addr)
        .await
        .map_err(|e| CliError::usage(format!("--listen {addr}: {e}")))?
        .collect();
    let first = addrs
        .first()
        .ok_or_else(|| CliError::usage(format!("--listen {addr}: no address")))?;
    let listener = tokio::net::TcpListener::bind(first)
        .await
        .map_err(|e| CliError::usage(format!("--listen {first}: {e}")))?;
    if !first.ip().is_loopback() {
        let bound = listener.local_addr().unwrap_or(*first);
        eprintln!(
            "popscope: warning: listening on {bound}, not loopback: anyone who can reach it can relay through this proxy"
        );
    }
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses() {
        let address = |url| listen_address(url).ok();
        assert_eq!(
            address("pop3://127.0.0.1:0"),
            Some(("127.0.0.1:0".into(), false))
        );
        assert_eq!(
            address("pop3://localhost"),
            Some(("localhost:1110".into(), false))
        );
        assert_eq!(
            address("pop3://[::1]:1110/"),
            Some(("[::1]:1110".into(), false))
        );
        assert_eq!(address("pop3://[::1]"), Some(("[::1]:1110".into(), false)));
        assert_eq!(
            address("pop3s://127.0.0.1:0"),
            Some(("127.0.0.1:0".into(), true))
        );
        assert_eq!(
            address("pop3s://localhost"),
            Some(("localhost:1995".into(), true))
        );
        assert!(listen_address("127.0.0.1:1110").is_err());
    }

    #[test]
    fn a_tls_listen_takes_cert_and_key_or_the_own_ca_and_a_plain_one_neither() {
        let files = ClientLegArgs {
            cert: Some("c.pem".into()),
            key: Some("k.pem".into()),
            ..ClientLegArgs::default()
        };
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let own_ca = ClientLegArgs {
            ca_dir: Some(d.path().join("ca")),
            ..ClientLegArgs::default()
        };
        let none = ClientLegArgs::default();
        let said = |r: Result<Option<tokio_rustls::TlsAcceptor>, CliError>| {
            r.err().map(|e| e.message).unwrap_or_default()
        };
        let at = "127.0.0.1:0";
        assert!(matches!(client_tls(true, &own_ca, at), Ok(Some(_))));
        assert!(d.path().join("ca/ca.pem").exists());
        assert!(said(client_tls(false, &files, at)).contains("pop3s://"));
        assert!(said(client_tls(false, &own_ca, at)).contains("--offer-stls"));
        assert!(matches!(client_tls(false, &none, at), Ok(None)));
        // Files that are not there are named.
        assert!(said(client_tls(true, &files, at)).contains("c.pem"));
    }

    #[test]
    fn the_own_certificate_names_the_listen_host_every_loopback_name_and_the_extras() {
        let extra = ["mail.example".to_owned()];
        assert_eq!(
            leaf_names("127.0.0.1:1995", &extra),
            ["127.0.0.1", "localhost", "::1", "mail.example"]
        );
        assert_eq!(
            leaf_names("[::1]:1995", &[]),
            ["::1", "localhost", "127.0.0.1"]
        );
        assert_eq!(
            leaf_names("192.0.2.7:1110", &extra),
            ["192.0.2.7", "mail.example"]
        );
    }
}
