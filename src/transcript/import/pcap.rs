//! Plaintext POP3 from pcap and pcapng captures.

use std::collections::BTreeMap;

use popscope_core::{Time, TransportEvent};

use crate::transcript::text::{Entry, Item};

use super::{ImportError, Imported};

/// Plaintext POP3 from a pcap or pcapng capture: the first TCP connection to `port` (110 when
/// none is given), both directions reassembled. Stops where STLS switches to TLS.
pub fn pcap(bytes: &[u8], port: Option<u16>) -> Result<Imported, ImportError> {
    let port = port.unwrap_or(110);
    let packets = read_packets(bytes)?;
    let mut client = Stream::default();
    let mut server = Stream::default();
    let mut conn: Option<(u16, u16)> = None;
    let mut entries = Vec::new();
    let mut notes = Vec::new();
    let mut t0: Option<std::time::Duration> = None;
    let mut stls_sent = false;
    let mut server_tail = ServerTail::default();
    for (n, (ts, link, data)) in packets.iter().enumerate() {
        let sliced = match link {
            Link::Ethernet => etherparse::SlicedPacket::from_ethernet(data),
            Link::Ip => etherparse::SlicedPacket::from_ip(data),
            Link::Sll => etherparse::SlicedPacket::from_linux_sll(data),
            Link::Null => etherparse::SlicedPacket::from_ip(data.get(4..).unwrap_or_default()),
        };
        let Ok(p) = sliced else { continue };
        let Some(etherparse::TransportSlice::Tcp(tcp)) = p.transport else {
            continue;
        };
        let (sp, dp) = (tcp.source_port(), tcp.destination_port());
        let to_server = dp == port;
        if !to_server && sp != port {
            continue;
        }
        let client_port = if to_server { sp } else { dp };
        match conn {
            None => conn = Some((client_port, port)),
            Some((c, _)) if c != client_port => continue,
            _ => {}
        }
        let at = {
            let base = *t0.get_or_insert(*ts);
            Some(Time(ts.saturating_sub(base).as_micros() as u64))
        };
        let entry = |item| Entry {
            line: n + 1,
            item,
            at,
        };
        let stream = if to_server { &mut client } else { &mut server };
        let data = stream.push(tcp.sequence_number(), tcp.syn(), tcp.payload());
        if !data.is_empty() {
            if to_server {
                stls_sent |= data.windows(6).any(|w| w.eq_ignore_ascii_case(b"STLS\r\n"));
                entries.push(entry(Item::Client(data)));
            } else {
                let ok = server_tail.push(&data);
                let line_ended = data.ends_with(b"\n");
                entries.push(entry(Item::Server(data)));
                if stls_sent && ok && line_ended {
                    notes.push(format!("packet {}: the capture switches to TLS after STLS; only the plaintext part is imported", n + 1));
                    return Ok(Imported::sure(entries, notes));
                }
            }
        }
        if tcp.fin() && !to_server {
            entries.push(entry(Item::Transport(TransportEvent::ServerClosed {
                close_notify: true,
            })));
        }
    }
    if conn.is_none() {
        return Err(ImportError::Format(format!(
            "no TCP connection to port {port} in the capture (--port sets another)"
        )));
    }
    Ok(Imported::sure(entries, notes))
}

/// The server's octets since its last line feed, as far as the switch to TLS needs them:
/// whether they hold `+OK`, and their last two octets (a `+OK` split across packets). Kept
/// instead of the octets themselves: a server that sends no line feed would make every packet
/// rescan all it sent before.
#[derive(Default)]
struct ServerTail {
    has_ok: bool,
    last: Vec<u8>,
}

impl ServerTail {
    /// Takes the next server octets: whether the octets since the last line feed before them,
    /// and they, hold `+OK`.
    fn push(&mut self, data: &[u8]) -> bool {
        let ok_in = |b: &[u8]| b.windows(3).any(|w| w == b"+OK");
        let across = [self.last.as_slice(), data.get(..2).unwrap_or(data)].concat();
        let ok = self.has_ok || ok_in(&across) || ok_in(data);
        let (has_ok, tail): (bool, &[u8]) = match data.iter().rposition(|&b| b == b'\n') {
            Some(i) => {
                let rest = data.get(i + 1..).unwrap_or_default();
                (ok_in(rest), rest)
            }
            None => (ok, if data.len() >= 2 { data } else { &across }),
        };
        self.has_ok = has_ok;
        self.last = tail
            .get(tail.len().saturating_sub(2)..)
            .unwrap_or_default()
            .to_vec();
        ok
    }
}

#[derive(Clone, Copy)]
enum Link {
    Ethernet,
    Ip,
    Sll,
    Null,
}

type Packet = (std::time::Duration, Link, Vec<u8>);

fn link_of(d: pcap_file::DataLink) -> Option<Link> {
    use pcap_file::DataLink as D;
    match d {
        D::ETHERNET => Some(Link::Ethernet),
        D::RAW | D::IPV4 | D::IPV6 => Some(Link::Ip),
        D::LINUX_SLL => Some(Link::Sll),
        D::NULL | D::LOOP => Some(Link::Null),
        _ => None,
    }
}

fn read_packets(bytes: &[u8]) -> Result<Vec<Packet>, ImportError> {
    let bad = |e: pcap_file::PcapError| ImportError::Format(format!("not a readable capture: {e}"));
    let mut out = Vec::new();
    if bytes.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]) {
        let mut r = pcap_file::pcapng::PcapNgReader::new(bytes).map_err(bad)?;
        let mut links: Vec<Option<Link>> = Vec::new();
        while let Some(block) = r.next_block() {
            match block.map_err(bad)? {
                pcap_file::pcapng::Block::InterfaceDescription(idb) => {
                    links.push(link_of(idb.linktype))
                }
                pcap_file::pcapng::Block::EnhancedPacket(epb) => {
                    if let Some(Some(link)) = links.get(epb.interface_id as usize) {
                        out.push((epb.timestamp, *link, epb.data.to_vec()));
                    }
                }
                _ => {}
            }
        }
    } else {
        let mut r = pcap_file::pcap::PcapReader::new(bytes).map_err(bad)?;
        let link = link_of(r.header().datalink).ok_or_else(|| {
            ImportError::Format(
                "unsupported link type (Ethernet, raw IP, Linux SLL and loopback are read)".into(),
            )
        })?;
        while let Some(p) = r.next_packet() {
            let p = p.map_err(bad)?;
            out.push((p.timestamp, link, p.data.to_vec()));
        }
    }
    Ok(out)
}

/// One direction of a TCP connection, put back in order.
#[derive(Default)]
struct Stream {
    next: Option<u32>,
    out_of_order: BTreeMap<u32, Vec<u8>>,
}

impl Stream {
    /// Returns the octets that are now in order.
    fn push(&mut self, seq: u32, syn: bool, payload: &[u8]) -> Vec<u8> {
        let start = if syn { seq.wrapping_add(1) } else { seq };
        let next = *self.next.get_or_insert(start);
        if payload.is_empty() {
            return Vec::new();
        }
        let offset = seq.wrapping_sub(next) as i32;
        let mut out = Vec::new();
        if offset <= 0 {
            // Retransmitted octets are dropped; new ones go out.
            let skip = (-offset) as usize;
            if skip < payload.len() {
                out.extend_from_slice(&payload[skip..]);
            }
        } else if self.out_of_order.len() < 4096 {
            self.out_of_order.insert(seq, payload.to_vec());
        }
        let mut cursor = next.wrapping_add(out.len() as u32);
        while let Some((&s, _)) = self.out_of_order.iter().next() {
            let rel = s.wrapping_sub(cursor) as i32;
            if rel > 0 {
                break;
            }
            if let Some(data) = self.out_of_order.remove(&s) {
                let skip = (-rel) as usize;
                if skip < data.len() {
                    out.extend_from_slice(&data[skip..]);
                    cursor = cursor.wrapping_add((data.len() - skip) as u32);
                }
            }
        }
        self.next = Some(next.wrapping_add(out.len() as u32));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against what it replaced: the octets since the last line feed kept whole, and searched.
    #[test]
    fn the_server_tail_finds_ok_as_the_whole_line_would() {
        let sent: &[&[u8]] = &[
            b"+OK ready\r\n",
            b"+",
            b"O",
            b"K Begin TLS\r\n",
            b"x+O",
            b"K",
            b"\r\n",
            b"no\nmore +OK",
            b" here",
            b"\n",
            b"+OK\n-ERR ",
            b"tail",
            b"+OK",
            b"",
        ];
        let (mut tail, mut line) = (ServerTail::default(), Vec::new());
        for data in sent {
            line.extend_from_slice(data);
            let want = line.windows(3).any(|w| w == b"+OK");
            assert_eq!(
                tail.push(data),
                want,
                "after {:?}",
                String::from_utf8_lossy(data)
            );
            if let Some(i) = line.iter().rposition(|&b| b == b'\n') {
                line.drain(..=i);
            }
        }
    }

    #[test]
    fn reassembly_orders_and_drops_retransmissions() {
        let mut s = Stream::default();
        assert_eq!(s.push(100, true, b""), b"");
        assert_eq!(s.push(101, false, b"abc"), b"abc");
        assert_eq!(s.push(107, false, b"ghi"), b"");
        assert_eq!(s.push(101, false, b"abc"), b"");
        assert_eq!(s.push(104, false, b"def"), b"defghi");
        assert_eq!(s.push(105, false, b"efghij"), b"j");
    }
}
