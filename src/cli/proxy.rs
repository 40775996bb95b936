//! `popscope proxy`: relay mail clients to a server and judge each session.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::{CliError, ProxyArgs, exit};
use crate::proxy::{ProxyOptions, Upstream};
use crate::transport::{Target, TlsSettings};

/// The upstream leg's options (as `check` has them) and `--record`'s.
#[derive(Clone, Debug, Default, Args)]
pub struct UpstreamArgs {
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
    /// Seconds a write to either side may wait for it to read before the connection ends;
    /// and the silence of a server that owes a reply before the checks judge it (the relay
    /// goes on).
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

/// The client leg's TLS (`--listen pop3s://`).
#[derive(Clone, Debug, Default, Args)]
pub struct ClientLegArgs {
    /// The certificate chain (PEM) the proxy shows clients on a pop3s:// listen.
    #[arg(long, value_name = "PEM", requires = "key")]
    pub(crate) cert: Option<PathBuf>,
    /// The private key (PEM) of --cert.
    #[arg(long, value_name = "PEM", requires = "cert")]
    pub(crate) key: Option<PathBuf>,
}

/// The ports `--listen` takes when it names none: pop3:// and pop3s://.
const DEFAULT_LISTEN_PORT: u16 = 1110;
const DEFAULT_LISTEN_TLS_PORT: u16 = 1995;

pub fn run(args: &ProxyArgs) -> Result<u8, CliError> {
    let upstream = upstream(args)?;
    let (listen, tls_listen) = listen_address(&args.listen)?;
    let client_tls = client_tls(tls_listen, &args.client_leg)?;
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
    if !args.headless {
        eprintln!("popscope: the connections view is not built yet: proxy runs headless");
    }
    let opts = ProxyOptions {
        upstream,
        client_tls,
        timeout: Duration::from_secs(args.conn.timeout.max(1)),
        record: record.clone(),
        record_secrets: args.conn.record_secrets,
        max_body: args.conn.max_body,
        saving: std::sync::Mutex::default(),
        inject: args.inject,
    };
    if let Some(f) = args.inject
        && f.case.info().leg == popscope_core::inject::Leg::Starttls
    {
        eprintln!(
            "popscope: warning: --inject {} acts around STLS toward the client, which the proxy does not offer yet: the client sees little or no change",
            f.label()
        );
    }
    let rt = super::runtime()?;
    let result = rt.block_on(async {
        let mut stop = super::serve::Stop::new()?;
        let listener = bind(&listen).await?;
        let upstream_url = opts.upstream.url();
        let local = listener.local_addr().map_or(listen.clone(), |a| a.to_string());
        let scheme = if tls_listen { "pop3s" } else { "pop3" };
        eprintln!("popscope proxy: listening on {scheme}://{local}, relaying to {upstream_url}; Ctrl-C stops it");
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
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
    Ok(Upstream {
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

/// The client leg's TLS acceptor: a pop3s:// listen needs --cert and --key, a pop3:// one
/// takes neither.
fn client_tls(
    tls_listen: bool,
    leg: &ClientLegArgs,
) -> Result<Option<tokio_rustls::TlsAcceptor>, CliError> {
    match (tls_listen, &leg.cert, &leg.key) {
        (true, Some(cert), Some(key)) => {
            let mut config =
                crate::server::certs::server_config_from_pem(cert, key).map_err(CliError::usage)?;
            // SSLKEYLOGFILE, when set, covers the client leg as it does the upstream's.
            config.key_log = std::sync::Arc::new(rustls::KeyLogFile::new());
            Ok(Some(tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(
                config,
            ))))
        }
        (true, _, _) => Err(CliError::usage(
            "--listen pop3s:// needs --cert FILE and --key FILE (PEM): the certificate the proxy shows clients",
        )),
        (false, None, None) => Ok(None),
        (false, _, _) => Err(CliError::usage(
            "--cert and --key are for a TLS listen: give --listen pop3s://host:port",
        )),
    }
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
    fn a_tls_listen_needs_cert_and_key_and_a_plain_one_neither() {
        let files = ClientLegArgs {
            cert: Some("c.pem".into()),
            key: Some("k.pem".into()),
        };
        let none = ClientLegArgs::default();
        let said = |r: Result<Option<tokio_rustls::TlsAcceptor>, CliError>| {
            r.err().map(|e| e.message).unwrap_or_default()
        };
        let missing = said(client_tls(true, &none));
        assert!(
            missing.contains("--cert") && missing.contains("--key"),
            "{missing}"
        );
        assert!(said(client_tls(false, &files)).contains("pop3s://"));
        assert!(matches!(client_tls(false, &none), Ok(None)));
        // Files that are not there are named.
        assert!(said(client_tls(true, &files)).contains("c.pem"));
    }
}
