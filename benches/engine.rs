//! Engine throughput: RETR body bytes and scan listings through the full checker.
//! Run: `cargo bench --bench engine` (the figure to watch is `retr_body` in GiB/s).

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use popscope_core::{Config, Engine, Event, Time};
use std::hint::black_box;

fn logged_in() -> Engine {
    let mut e = Engine::new(Config::default());
    let mut sink = |_: Event<'_>| {};
    e.handle_server(Time(0), b"+OK ready\r\n", &mut sink);
    e.handle_client(Time(1), b"USER a\r\nPASS b\r\n", &mut sink);
    e.handle_server(Time(2), b"+OK\r\n+OK\r\n", &mut sink);
    e
}

/// A realistic message: headers, then 76-column body lines, a few needing dot-stuffing.
fn message(size: usize) -> Vec<u8> {
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

fn retr_body(c: &mut Criterion) {
    let body = message(32 << 20);
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.sample_size(20);
    g.bench_function("retr_body", |b| {
        b.iter_batched(
            logged_in,
            |mut e| {
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
                black_box(lines)
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn scan_listing(c: &mut Criterion) {
    let n = 100_000u32;
    let mut listing = Vec::new();
    for i in 1..=n {
        listing.extend_from_slice(format!("{i} {}\r\n", 1000 + i).as_bytes());
    }
    listing.extend_from_slice(b".\r\n");
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(u64::from(n)));
    g.sample_size(20);
    g.bench_function("list_100k", |b| {
        b.iter_batched(
            logged_in,
            |mut e| {
                let mut sink = |_: Event<'_>| {};
                e.handle_client(Time(3), b"LIST\r\n", &mut sink);
                e.handle_server(Time(4), b"+OK\r\n", &mut sink);
                e.handle_server(Time(5), &listing, &mut sink);
                black_box(e.session().maildrop.iter().count())
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, retr_body, scan_listing);
criterion_main!(benches);
