//! The engine's memory stays bounded whatever the server sends. A counting allocator measures
//! the peak of live heap bytes while hostile streams pass through.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use popscope_core::{Config, Engine, Event, Time, TransportEvent};

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// Tests in this file run one at a time so their measurements do not mix.
static SERIAL: Mutex<()> = Mutex::new(());

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let now = LIVE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Peak heap growth while `f` runs, in bytes.
fn peak_during(f: impl FnOnce()) -> usize {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    f();
    PEAK.load(Ordering::Relaxed).saturating_sub(base)
}

fn logged_in() -> Engine {
    let mut e = Engine::new(Config::default());
    let mut sink = |_: Event<'_>| {};
    e.handle_server(Time(0), b"+OK ready\r\n", &mut sink);
    e.handle_client(Time(1), b"USER a\r\nPASS b\r\n", &mut sink);
    e.handle_server(Time(2), b"+OK\r\n+OK\r\n", &mut sink);
    e
}

#[test]
fn a_64_mb_retr_streams_through_in_bounded_memory() {
    let _g = SERIAL.lock();
    let mut e = logged_in();
    let chunk: Vec<u8> =
        b"This is a line of a large message body, dot-stuffed where needed.\r\n..x\r\n".repeat(900);
    let mut lines = 0u64;
    let peak = peak_during(|| {
        let mut sink = |ev: Event<'_>| {
            if let Event::BodyLine { .. } = ev {
                lines += 1
            }
        };
        e.handle_client(Time(3), b"RETR 1\r\n", &mut sink);
        e.handle_server(Time(4), b"+OK\r\n", &mut sink);
        let mut sent = 0usize;
        while sent < 64 << 20 {
            e.handle_server(Time(5), &chunk, &mut sink);
            sent += chunk.len();
        }
        e.handle_server(Time(6), b".\r\n", &mut sink);
    });
    assert!(lines > 1_000_000, "{lines}");
    assert!(
        peak < 256 << 10,
        "peak heap growth {peak} bytes for a 64 MB body"
    );
}

#[test]
fn a_server_that_never_sends_a_line_end_cannot_exhaust_memory() {
    let _g = SERIAL.lock();
    let mut e = logged_in();
    let chunk = vec![b'A'; 1 << 16];
    let mut findings = 0;
    let peak = peak_during(|| {
        let mut sink = |ev: Event<'_>| {
            if let Event::Finding(_) = ev {
                findings += 1
            }
        };
        e.handle_client(Time(3), b"NOOP\r\n", &mut sink);
        for _ in 0..1024 {
            e.handle_server(Time(4), &chunk, &mut sink);
        }
        e.handle_transport(
            Time(5),
            TransportEvent::ServerClosed {
                close_notify: false,
            },
            &mut sink,
        );
    });
    assert!(findings >= 1);
    assert!(
        peak < 1 << 20,
        "peak heap growth {peak} bytes for a 64 MB line"
    );
}

/// `command` answered with a listing of `n` lines made by `line`: the heap's peak growth and
/// the number of findings.
fn listing(e: &mut Engine, command: &[u8], n: u32, line: impl Fn(u32) -> String) -> (usize, usize) {
    let mut body: Vec<u8> = (1..=n).flat_map(|i| line(i).into_bytes()).collect();
    body.extend_from_slice(b".\r\n");
    let mut findings = 0;
    let peak = peak_during(|| {
        let mut sink = |ev: Event<'_>| findings += usize::from(matches!(ev, Event::Finding(_)));
        e.handle_client(Time(3), command, &mut sink);
        e.handle_server(Time(4), b"+OK\r\n", &mut sink);
        e.handle_server(Time(5), &body, &mut sink);
    });
    (peak, findings)
}

#[test]
fn a_huge_listing_is_tracked_per_message_not_per_byte() {
    let _g = SERIAL.lock();
    let mut e = logged_in();
    let n = 200_000u32;
    let (peak, _) = listing(&mut e, b"LIST\r\n", n, |i| format!("{i} 1234\r\n"));
    assert_eq!(e.session().maildrop.iter().count(), n as usize);
    // A 4-octet size, doubled at worst while the column grows, and a few bits per number
    // (was 56 octets a message as one struct each, ~200 with a B-tree and a hash set).
    println!("LIST: {} octets per message", peak / n as usize);
    assert!(
        peak < n as usize * 16,
        "peak heap growth {peak} bytes for {n} messages"
    );
}

#[test]
fn a_huge_uid_listing_keeps_each_uid_once() {
    let _g = SERIAL.lock();
    let mut e = logged_in();
    let n = 200_000u32;
    let (peak, findings) = listing(&mut e, b"UIDL\r\n", n, |i| format!("{i} uid-{i:010}\r\n"));
    assert_eq!(findings, 0);
    // The 14-octet uid and its length octet in one arena, a 4-octet start and a 4-octet index
    // slot at most 3/4 full, each doubled at worst while it grows (no count came first): it
    // was a 56-octet struct, an allocation per uid and a 16-octet hash entry.
    println!("UIDL: {} octets per message", peak / n as usize);
    assert!(
        peak < n as usize * 80,
        "peak heap growth {peak} bytes for {n} messages"
    );
}

#[test]
fn a_hostile_message_number_costs_no_more_than_the_tracked_limit() {
    let _g = SERIAL.lock();
    let mut e = logged_in();
    let peak = peak_during(|| {
        let mut sink = |_: Event<'_>| {};
        e.handle_client(Time(3), b"LIST\r\n", &mut sink);
        e.handle_server(
            Time(4),
            b"+OK\r\n4000000000 1\r\n1999999 1\r\n.\r\n",
            &mut sink,
        );
    });
    assert!(e.session().maildrop.get(4_000_000_000).is_none());
    assert!(e.session().maildrop.saturated);
    // The size column (4 octets a message) up to the limit; the bit sets are in the MiB.
    let limit = popscope_core::session::MAX_TRACKED_MESSAGES * std::mem::size_of::<u32>();
    assert!(peak <= limit + (1 << 20), "{peak} > {limit}");
}

/// The compact maildrop still finds every listing fault at scale: a duplicate uid, a uid and
/// a size that change between listings, LIST sizes that do not add up to STAT's octets.
#[test]
fn a_huge_listing_still_finds_every_listing_fault() {
    let _g = SERIAL.lock();
    let mut e = logged_in();
    let n = 300_000u32;
    let size = |i: u32| u64::from(i % 1000 + 100);
    let total: u64 = (1..=n).map(size).sum();
    let mut found = Vec::new();
    let mut send = |e: &mut Engine, command: &[u8], reply: Vec<u8>| {
        let mut sink = |ev: Event<'_>| {
            if let Event::Finding(f) = ev {
                found.push((f.rule.id, f.message.clone()));
            }
        };
        e.handle_client(Time(3), command, &mut sink);
        e.handle_server(Time(4), &reply, &mut sink);
    };
    let listing = |line: &dyn Fn(u32) -> String| {
        let mut body = b"+OK\r\n".to_vec();
        body.extend((1..=n).flat_map(|i| line(i).into_bytes()));
        body.extend_from_slice(b".\r\n");
        body
    };
    send(
        &mut e,
        b"STAT\r\n",
        format!("+OK {n} {}\r\n", total + 1).into_bytes(),
    );
    send(
        &mut e,
        b"LIST\r\n",
        listing(&|i| format!("{i} {}\r\n", size(i))),
    );
    let uid = |i: u32| if i == 250_000 { 7 } else { i };
    send(
        &mut e,
        b"UIDL\r\n",
        listing(&|i| format!("{i} u{:08x}\r\n", uid(i))),
    );
    send(
        &mut e,
        b"LIST\r\n",
        listing(&|i| format!("{i} {}\r\n", size(i) + u64::from(i == 299_999))),
    );
    let changed = |i: u32| if i == 123_456 { 1 << 30 } else { uid(i) };
    send(
        &mut e,
        b"UIDL\r\n",
        listing(&|i| format!("{i} u{:08x}\r\n", changed(i))),
    );
    let has = |rule: &str, words: &[&str]| {
        found
            .iter()
            .any(|(r, m)| *r == rule && words.iter().all(|w| m.contains(w)))
    };
    assert!(has("MSG-006", &["STAT", &total.to_string()]), "{found:?}");
    assert!(has("UIDL-004", &["Messages 7 and 250000"]), "{found:?}");
    assert!(has("MSG-007", &["Message 299999", "now"]), "{found:?}");
    assert!(
        has("MSG-007", &["Message 123456", "u40000000"]),
        "{found:?}"
    );
    // The second UIDL repeats the duplicate; nothing else is reported.
    assert_eq!(found.len(), 5, "{found:?}");
}
