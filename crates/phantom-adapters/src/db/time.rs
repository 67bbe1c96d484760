//! UTC instants to and from the portable `TIMESTAMP` columns.

use chrono::{DateTime, NaiveDateTime, Utc};

pub(crate) fn to_db(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc()
}

pub(crate) fn from_db(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}
