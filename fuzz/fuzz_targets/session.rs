//! Client bytes, server bytes and transport events interleaved as the input says.
#![no_main]

use libfuzzer_sys::fuzz_target;
use popscope_core::{Config, Engine, Event, Time, TlsFailure, TransportEvent};

fuzz_target!(|data: &[u8]| {
    // The client rules too: they are off by default, and a fuzzer is no one's client.
    let mut e = Engine::new(Config { max_line: 256, judge_client: true, ..Config::default() });
    let mut sink = |_: Event<'_>| {};
    let mut rest = data;
    let mut t = 0u64;
    while let Some((&op, tail)) = rest.split_first() {
        let len = (op as usize >> 3).min(tail.len());
        let (chunk, next) = tail.split_at(len);
        rest = next;
        t += u64::from(op) * 1_000_000;
        let now = Time(t);
        match op & 7 {
            0..=2 => e.handle_server(now, chunk, &mut sink),
            3 | 4 => e.handle_client(now, chunk, &mut sink),
            5 => e.handle_transport(now, TransportEvent::TlsEstablished { cert_requested: len % 2 == 0, client_cert: len % 3 == 0 }, &mut sink),
            6 => e.handle_transport(now, TransportEvent::Timeout, &mut sink),
            _ => {
                let ev = match len % 3 {
                    0 => TransportEvent::ServerClosed { close_notify: len % 2 == 0 },
                    1 => TransportEvent::TlsFailed { reason: TlsFailure::ServerAlert },
                    _ => TransportEvent::ClientClosed,
                };
                e.handle_transport(now, ev, &mut sink);
            }
        }
    }
});
