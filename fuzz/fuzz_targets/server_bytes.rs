//! Server bytes in every reading mode: greeting, replies, a RETR body, a listing, SASL.
#![no_main]

use libfuzzer_sys::fuzz_target;
use popscope_core::{Config, Engine, Event, Time, TransportEvent};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let mut e = Engine::new(Config { max_line: 128, implicit_tls: mode & 0x80 != 0, ..Config::default() });
    let mut sink = |_: Event<'_>| {};
    if mode & 1 != 0 {
        e.handle_server(Time(0), b"+OK ready\r\n", &mut sink);
        let cmd: &[u8] = match (mode >> 1) % 6 {
            0 => b"RETR 1\r\n",
            1 => b"LIST\r\n",
            2 => b"UIDL\r\n",
            3 => b"CAPA\r\n",
            4 => b"AUTH PLAIN\r\n",
            _ => b"STLS\r\n",
        };
        e.handle_client(Time(1), cmd, &mut sink);
    }
    // Split where the input says, so chunk boundaries are fuzzed too.
    let cut = rest.first().map_or(0, |&b| b as usize).min(rest.len());
    let (a, b) = rest.split_at(cut);
    e.handle_server(Time(2), a, &mut sink);
    if mode & 0x40 != 0 {
        e.handle_transport(Time(3), TransportEvent::TlsEstablished { cert_requested: true, client_cert: true }, &mut sink);
    }
    e.handle_server(Time(4), b, &mut sink);
    e.handle_transport(Time(5), TransportEvent::ServerClosed { close_notify: false }, &mut sink);
});
