//! Reading a recording the way its documentation describes it (README "Recordings"), apart
//! from popscope's own reader: a test that reads one with this checks the format too.

/// Every record of a recording of format 1 or 2, in order. A format 2 data block's octets
/// become the record's `text` (a block holds clean text only), so a test reads both formats
/// alike. Panics on anything that is not such a recording.
pub fn records(file: &[u8]) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let mut rest = file;
    while !rest.is_empty() {
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let (line, after) = (&rest[..end], rest.get(end + 1..).unwrap_or_default());
        rest = after;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let mut v: serde_json::Value = serde_json::from_slice(line).unwrap_or_else(|e| {
            panic!("not a JSON record ({e}): {}", String::from_utf8_lossy(line))
        });
        if let Some(n) = v["octets"].as_u64().filter(|_| v["type"] == "data") {
            let n = n as usize;
            assert!(
                rest.len() > n && rest[n] == b'\n',
                "a block of {n} octets without its end"
            );
            let text = std::str::from_utf8(&rest[..n])
                .unwrap_or_else(|e| panic!("a block holds text, not this ({e})"));
            v["text"] = text.into();
            rest = &rest[n + 1..];
        }
        out.push(v);
    }
    out
}
