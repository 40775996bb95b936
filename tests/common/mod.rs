//! Helpers shared by the integration tests that run the demo server.

#![allow(dead_code)]

use popscope::protocol::server::Quirk;
use popscope::server::{self, Running, ServeOptions, TlsMode};

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

/// The demo server (user demo, password demo) on a free loopback port.
pub fn start(rt: &tokio::runtime::Runtime, tls: TlsMode, quirk: Option<Quirk>) -> Running {
    rt.block_on(server::start(ServeOptions {
        port: 0,
        tls,
        quirk,
        user: "demo".into(),
        password: "demo".into(),
    }))
    .unwrap_or_else(|e| panic!("demo server: {e}"))
}

/// The findings of a JSON report as sortable (rule, severity, exchange) triples, to compare a
/// live session with the re-check of its recording.
pub fn findings_of(v: &serde_json::Value) -> Vec<(String, String, u64)> {
    let mut f: Vec<(String, String, u64)> = v["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or_default().to_owned(),
                f["severity"].as_str().unwrap_or_default().to_owned(),
                f["exchange"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    f.sort();
    f
}
