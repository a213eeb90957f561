//! Timestamps: always UTC, shown to API clients as ISO-8601 with a `Z`,
//! stored in the database as upstream's naive-UTC text.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};

/// A point in time, always UTC.
pub type Timestamp = DateTime<Utc>;

/// The current time.
#[must_use]
pub fn now() -> Timestamp {
    Utc::now()
}

/// ISO-8601 with `Z`, microseconds when present (`2026-11-22T10:35:35.109388Z`), as upstream's API.
#[must_use]
pub fn iso_z(ts: &Timestamp) -> String {
    ts.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The database text form: naive UTC with microseconds, as SQLAlchemy writes to SQLite.
#[must_use]
pub fn to_db(ts: &Timestamp) -> String {
    ts.naive_utc().format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

/// Parses the database text form (also accepts `T` and a trailing `Z`).
#[must_use]
pub fn from_db(text: &str) -> Option<Timestamp> {
    if let Some(ts) = from_db_exact(text.as_bytes()) {
        return Some(ts);
    }
    let trimmed = text.trim_end_matches('Z').replace('T', " ");
    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M:%S"]
        .iter()
        .find_map(|fmt| NaiveDateTime::parse_from_str(&trimmed, fmt).ok())
        .map(|naive| naive.and_utc())
}

/// The form [`to_db`] writes (`2026-11-22 10:35:35.109388`, also with `T`,
/// fewer fraction digits or none, and a trailing `Z`), read digit by digit:
/// every listed user has two of these, and chrono's format-string parser
/// costs several times more. `None` for anything else (then the general
/// parser decides).
fn from_db_exact(text: &[u8]) -> Option<Timestamp> {
    let text = text.strip_suffix(b"Z").unwrap_or(text);
    let (date_time, fraction) = text.split_at_checked(19)?;
    let number = |from: usize, to: usize| -> Option<u32> {
        date_time[from..to].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let separators = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if separators.iter().any(|&(i, c)| date_time[i] != c) || !matches!(date_time[10], b' ' | b'T') {
        return None;
    }
    let nanos = match fraction {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            let mut n = 0u32;
            for &c in digits {
                if !c.is_ascii_digit() {
                    return None;
                }
                n = n * 10 + u32::from(c - b'0');
            }
            n * 10u32.pow(9 - u32::try_from(digits.len()).ok()?)
        }
        _ => return None,
    };
    let date = chrono::NaiveDate::from_ymd_opt(
        i32::try_from(number(0, 4)?).ok()?,
        number(5, 7)?,
        number(8, 10)?,
    )?;
    let time = chrono::NaiveTime::from_hms_nano_opt(
        number(11, 13)?,
        number(14, 16)?,
        number(17, 19)?,
        nanos,
    )?;
    Some(date.and_time(time).and_utc())
}

/// Parses an ISO-8601 timestamp sent by a client in any offset; naive means UTC.
#[must_use]
pub fn parse_client(text: &str) -> Option<Timestamp> {
    DateTime::parse_from_rfc3339(text)
        .map(|dt| dt.with_timezone(&Utc))
        .ok()
        .or_else(|| from_db(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_round_trip_keeps_microseconds() {
        let ts = parse_client("2026-11-22T10:35:35.109388Z").unwrap();
        assert_eq!(to_db(&ts), "2026-11-22 10:35:35.109388");
        assert_eq!(from_db(&to_db(&ts)), Some(ts));
        assert_eq!(iso_z(&ts), "2026-11-22T10:35:35.109388Z");
    }

    #[test]
    fn database_forms_parse_as_chrono_parses_them() {
        for text in [
            "2026-11-22 10:35:35.109388",
            "2026-11-22T10:35:35.109388Z",
            "2026-11-22 10:35:35",
            "2026-11-22 10:35:35.1",
            "2026-11-22 10:35:35.123456789",
            "2024-02-29 23:59:59.000001",
        ] {
            let slow = NaiveDateTime::parse_from_str(
                &text.trim_end_matches('Z').replace('T', " "),
                "%Y-%m-%d %H:%M:%S%.f",
            )
            .unwrap()
            .and_utc();
            assert_eq!(from_db_exact(text.as_bytes()), Some(slow), "{text}");
            assert_eq!(from_db(text), Some(slow), "{text}");
        }
        for bad in [
            "",
            "2026-11-22",
            "2026-13-01 00:00:00",
            "2023-02-29 00:00:00",
            "2026-11-22 25:00:00",
            "2026-11-22 10:35:35.",
            "2026-11-22 10:35:35.1234567890",
            "2026-11-22x10:35:35",
            "2026-11-22 10:35:35+01:00",
            "yesterday",
        ] {
            assert_eq!(from_db_exact(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn client_offsets_become_utc() {
        let ts = parse_client("2026-11-22T12:00:00+02:00").unwrap();
        assert_eq!(iso_z(&ts), "2026-11-22T10:00:00Z");
        assert!(parse_client("yesterday").is_none());
    }
}
