//! What the fleet's outputs read from a target's report (the `check --json` object): one
//! reading of its shape, so the outputs agree on it.

use serde_json::Value;

/// The walks a report holds: itself (`check URL`), or each transport of a bare host that
/// answered (`check HOST`: `transports`, a failed one with its `error`).
pub(crate) fn walks(report: &Value) -> Vec<&Value> {
    match report["transports"].as_array() {
        Some(legs) => legs.iter().filter(|l| l["error"].is_null()).collect(),
        None => vec![report],
    }
}

/// Every finding of a report, over its walks.
pub(crate) fn findings(report: &Value) -> impl Iterator<Item = &Value> {
    walks(report)
        .into_iter()
        .flat_map(|w| w["findings"].as_array().into_iter().flatten())
}

/// A report's count at `severity` (`violation`, `warning`, `info`).
pub(crate) fn count(report: &Value, severity: &str) -> u64 {
    report["summary"][severity].as_u64().unwrap_or(0)
}

/// The nearest end of a server certificate over the report's walks: its days left from
/// `now` (Unix seconds), and the date as the report wrote it.
pub(crate) fn nearest_cert_end(report: &Value, now: i64) -> Option<(i64, &str)> {
    walks(report)
        .into_iter()
        .filter_map(|w| w["tls"]["chain"][0]["not_after"].as_str())
        .filter_map(|t| days_left(t, now).map(|d| (d, t)))
        .min_by_key(|(d, _)| *d)
}

/// Whole days from `now` (Unix seconds) to a certificate's `not_after` as the report writes
/// it (x509-parser's `Jan  1 00:00:00 4096 +00:00`), rounded down; negative once expired.
pub(crate) fn days_left(not_after: &str, now: i64) -> Option<i64> {
    let mut parts = not_after.split_whitespace();
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let day: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':').map(str::parse::<i64>);
    let (h, m, s) = (hms.next()?.ok()?, hms.next()?.ok()?, hms.next()?.ok()?);
    let year: i64 = parts.next()?.parse().ok()?;
    let offset = match parts.next() {
        None => 0,
        Some(o) => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let (oh, om) = o.trim_start_matches(['+', '-']).split_once(':')?;
            sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().ok()? * 60)
        }
    };
    let end = days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s - offset;
    Some((end - now).div_euclid(86_400))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The seconds since the Unix epoch now: the clock certificate days are counted from (the
/// outputs take it as an argument, so their tests choose it).
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// 2026-12-02 00:00:00 UTC.
    const NOW: i64 = 1_796_169_600;

    #[test]
    fn days_count_from_the_report_s_date() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_left("Dec  2 00:00:00 2026 +00:00", NOW), Some(0));
        assert_eq!(days_left("Dec 31 23:59:59 2026 +00:00", NOW), Some(29));
        assert_eq!(days_left("Jan  1 00:00:00 2027 +00:00", NOW), Some(30));
        assert_eq!(days_left("Dec  1 00:00:00 2026 +00:00", NOW), Some(-1));
        assert_eq!(days_left("Mar  1 12:00:00 2028 +00:00", NOW), Some(455));
        // An offset east of UTC ends earlier in UTC.
        assert_eq!(days_left("Dec  3 01:00:00 2026 +02:00", NOW), Some(0));
        assert_eq!(days_left("", NOW), None);
        assert_eq!(days_left("Foo  1 00:00:00 2027 +00:00", NOW), None);
    }

    #[test]
    fn a_bare_host_is_read_over_the_transports_that_answered() {
        let report = json!({"transports": [
            {"error": "refused", "findings": [{"rule": "X"}]},
            {"error": null, "findings": [{"rule": "A"}],
             "tls": {"chain": [{"not_after": "Jan  1 00:00:00 2027 +00:00"}]}},
            {"error": null, "findings": [{"rule": "B"}],
             "tls": {"chain": [{"not_after": "Dec 10 00:00:00 2026 +00:00"}]}},
        ]});
        let rules: Vec<&str> = findings(&report)
            .filter_map(|f| f["rule"].as_str())
            .collect();
        assert_eq!(rules, ["A", "B"]);
        assert_eq!(nearest_cert_end(&report, NOW).map(|(d, _)| d), Some(8));
        assert_eq!(nearest_cert_end(&json!({}), NOW), None);
    }
}
