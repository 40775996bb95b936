//! Engine throughput: RETR body bytes and scan listings through the full checker.
//! Run: `cargo bench --bench engine` (the figure to watch is `retr_body` in GiB/s).

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use popscope_core::{Event, Time};
use std::hint::black_box;

// The RETR workload is the one the callgrind count runs, so the two figures agree.
#[path = "../crates/core/examples/retr_body.rs"]
mod retr_body;
use retr_body::{logged_in, message, retr};

fn retr_body(c: &mut Criterion) {
    let body = message(32 << 20);
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.sample_size(20);
    g.bench_function("retr_body", |b| {
        b.iter_batched(
            logged_in,
            |e| black_box(retr(e, &body)),
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
