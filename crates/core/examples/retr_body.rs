//! One RETR body through the engine and out: the workload of the `retr_body` benchmark
//! (benches/engine.rs includes this file), run once so that `valgrind --tool=callgrind`
//! can count its instructions (scripts/bench.sh --engine divides them by the MiB).
//! Run: `cargo run --release -p popscope-core --example retr_body -- 64` (MiB of body).

use popscope_core::{Config, Engine, Event, Time};
use std::hint::black_box;

/// An engine after a USER/PASS login, ready for RETR.
pub fn logged_in() -> Engine {
    let mut e = Engine::new(Config::default());
    let mut sink = |_: Event<'_>| {};
    e.handle_server(Time(0), b"+OK ready\r\n", &mut sink);
    e.handle_client(Time(1), b"USER a\r\nPASS b\r\n", &mut sink);
    e.handle_server(Time(2), b"+OK\r\n+OK\r\n", &mut sink);
    e
}

/// A realistic message: headers, then 76-column body lines, a few needing dot-stuffing.
pub fn message(size: usize) -> Vec<u8> {
    let mut m =
        b"From: alice@example.net\r\nTo: bob@example.net\r\nSubject: benchmark\r\n\r\n".to_vec();
    let line = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod te\r\n";
    let mut i = 0u64;
    while m.len() < size {
        i += 1;
        if i.is_multiple_of(50) {
            m.extend_from_slice(b"..a line that started with a dot\r\n");
        } else {
            m.extend_from_slice(line);
        }
    }
    m
}

/// Feeds one RETR of `body` in 64 KiB reads, as a socket would; returns the octets of the
/// body lines handed out.
#[inline(never)] // callgrind counts this function alone (--toggle-collect)
pub fn retr(mut e: Engine, body: &[u8]) -> u64 {
    let mut lines = 0u64;
    let mut sink = |ev: Event<'_>| {
        if let Event::BodyLine { line, .. } = ev {
            lines += line.len() as u64;
        }
    };
    e.handle_client(Time(3), b"RETR 1\r\n", &mut sink);
    e.handle_server(Time(4), b"+OK\r\n", &mut sink);
    for chunk in body.chunks(64 << 10) {
        e.handle_server(Time(5), chunk, &mut sink);
    }
    e.handle_server(Time(6), b".\r\n", &mut sink);
    lines
}

#[allow(dead_code)] // benches/engine.rs includes this file for the functions above
fn main() {
    let mib = std::env::args()
        .nth(1)
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(64);
    let body = message(mib << 20);
    black_box(retr(logged_in(), &body));
}
