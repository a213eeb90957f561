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
    let trimmed = text.trim_end_matches('Z').replace('T', " ");
    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M:%S"]
        .iter()
        .find_map(|fmt| NaiveDateTime::parse_from_str(&trimmed, fmt).ok())
        .map(|naive| naive.and_utc())
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
    fn client_offsets_become_utc() {
        let ts = parse_client("2026-11-22T12:00:00+02:00").unwrap();
        assert_eq!(iso_z(&ts), "2026-11-22T10:00:00Z");
        assert!(parse_client("yesterday").is_none());
    }
}
