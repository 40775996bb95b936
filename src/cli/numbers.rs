//! One parser for every numeric option: a number within its range, or one line that says what
//! is wrong with it (NaN, infinity, a sign, too large, out of range). Used as clap's
//! `value_parser` so a bad value never reaches the code (where `NaN` once panicked).

use std::fmt::Display;
use std::str::FromStr;

/// A number that clap can check: integers and finite floats.
pub(crate) trait Number:
    FromStr + PartialOrd + Display + Copy + Send + Sync + 'static
{
    /// Whether the value is a real number (false for NaN and the infinities).
    fn finite(self) -> bool {
        true
    }
    /// Whether only whole numbers are taken (a fraction or an exponent is refused as such).
    const WHOLE: bool = true;
}

impl Number for u16 {}
impl Number for u64 {}
impl Number for usize {}
impl Number for f64 {
    const WHOLE: bool = false;
    fn finite(self) -> bool {
        self.is_finite()
    }
}

/// A parser for values from `min` to `max` (both included); `unit` names them in the error.
pub(crate) fn in_range<T: Number>(
    min: T,
    max: T,
    unit: &'static str,
) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static {
    move |text: &str| {
        let t = text.trim();
        let range = || {
            let sep = if unit.is_empty() { "" } else { " " };
            format!("give {min} to {max}{sep}{unit}")
        };
        let lower = t.to_ascii_lowercase();
        if lower.contains("nan") || lower.contains("inf") {
            return Err(format!("not a finite number ({})", range()));
        }
        match t.parse::<T>() {
            Ok(v) if !v.finite() => Err(format!("not a finite number ({})", range())),
            Ok(v) if v < min || v > max => Err(format!("out of range ({})", range())),
            Ok(v) => Ok(v),
            Err(_) if t.starts_with('-') => Err(format!("must not be negative ({})", range())),
            Err(_) if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) => {
                Err(format!("too large ({})", range()))
            }
            // "1.5", "2.0", "1e3": a number, but not written as a whole one.
            Err(_) if T::WHOLE && t.parse::<f64>().is_ok_and(f64::is_finite) => {
                let of = if unit.is_empty() {
                    String::new()
                } else {
                    format!(" of {unit}")
                };
                Err(format!(
                    "must be a whole number{of}, without a fraction or exponent ({})",
                    range()
                ))
            }
            Err(_) => Err(format!("not a number ({})", range())),
        }
    }
}

/// Seconds to wait for a connection or a reply: whole seconds, 1 to a day.
pub(crate) fn timeout_seconds()
-> impl Fn(&str) -> Result<u64, String> + Clone + Send + Sync + 'static {
    in_range(1u64, 86_400, "seconds")
}

/// A TCP port to connect to.
pub(crate) fn port() -> impl Fn(&str) -> Result<u16, String> + Clone + Send + Sync + 'static {
    in_range(1u16, u16::MAX, "")
}

/// A session of a recording, from 1.
pub(crate) fn session() -> impl Fn(&str) -> Result<usize, String> + Clone + Send + Sync + 'static {
    in_range(1usize, 1_000_000, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_numbers_are_named() {
        let wait = in_range(0.0f64, 60.0, "seconds");
        assert_eq!(wait("0.5"), Ok(0.5));
        for (bad, why) in [
            ("NaN", "not a finite number"),
            ("inf", "not a finite number"),
            ("-inf", "not a finite number"),
            ("-1", "out of range"),
            ("61", "out of range"),
            ("1e400", "not a finite number"),
            ("x", "not a number"),
        ] {
            let e = wait(bad).err().unwrap_or_default();
            assert!(e.starts_with(why), "{bad}: {e}");
            assert!(e.contains("give 0 to 60 seconds"), "{bad}: {e}");
        }
        let secs = timeout_seconds();
        assert_eq!(secs("30"), Ok(30));
        assert!(secs("0").is_err_and(|e| e.starts_with("out of range")));
        assert!(secs("-5").is_err_and(|e| e.starts_with("must not be negative")));
        assert!(secs("99999999999999999999999").is_err_and(|e| e.starts_with("too large")));
        assert!(port()("0").is_err() && port()("65536").is_err() && port()("995") == Ok(995));
        assert!(session()("0").is_err() && session()("2") == Ok(2));
    }

    #[test]
    fn a_fraction_or_exponent_asks_for_a_whole_number() {
        let secs = timeout_seconds();
        for bad in ["1.5", "2.0", "1e3", "1e30", "1e-300", " 2.5 "] {
            let e = secs(bad).err().unwrap_or_default();
            assert_eq!(
                e,
                "must be a whole number of seconds, without a fraction or exponent (give 1 to 86400 seconds)",
                "{bad}"
            );
        }
        let e = port()("995.5").err().unwrap_or_default();
        assert!(e.starts_with("must be a whole number, without"), "{e}");
        // The other messages stay as they were.
        for (bad, why) in [
            ("NaN", "not a finite number"),
            ("inf", "not a finite number"),
            ("-1.5", "must not be negative"),
            ("-1", "must not be negative"),
            ("1e400", "not a number"),
            ("abc", "not a number"),
            ("86401", "out of range"),
        ] {
            let e = secs(bad).err().unwrap_or_default();
            assert!(e.starts_with(why), "{bad}: {e}");
        }
    }
}
