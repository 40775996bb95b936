//! The client-testing injector fed client and server octets and TLS as the input says: it
//! must never panic, and what it sends the client is bounded by what it was fed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use popscope_core::inject::{Action, CASES, Fault, Injector, Start};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, mut rest)) = data.split_first() else { return };
    let row = &CASES[pick as usize % CASES.len()];
    let start = Start { client_tls: pick & 0x80 != 0, since_last_login: Some(u64::from(pick & 0x3f)) };
    let mut inj = Injector::new(Fault::new(row.case), start);
    let mut fed = 0usize;
    let mut sent = 0usize;
    while let Some((&op, tail)) = rest.split_first() {
        let len = (op as usize >> 2).min(tail.len());
        let (chunk, next) = tail.split_at(len);
        rest = next;
        fed += chunk.len();
        let actions = match op & 3 {
            0 | 1 => inj.handle_server(chunk),
            2 => inj.handle_client(chunk).to_client,
            _ => {
                inj.on_client_tls();
                Vec::new()
            }
        };
        for a in actions {
            if let Action::Send(b) = a {
                sent += b.len();
            }
        }
        // Each octet in gives at most a few lines out (a long UID, an injected line, an
        // answer of its own per client line).
        assert!(sent <= 256 * (fed + 1), "{} sent {sent} for {fed}", row.name);
    }
});
