//! IANA time zone names, validated.

use std::fmt;
use std::str::FromStr;

use chrono_tz::Tz;

/// A valid IANA time zone such as `Europe/Paris` or `UTC`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeZoneName(Tz);

impl TimeZoneName {
    /// Coordinated Universal Time, the default for new users.
    pub const UTC: TimeZoneName = TimeZoneName(Tz::UTC);

    /// The canonical IANA name.
    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// The zone, for conversions.
    pub fn tz(&self) -> Tz {
        self.0
    }
}

/// The input names no IANA time zone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" is not a known IANA time zone (for example \"Europe/Paris\" or \"UTC\").")]
pub struct UnknownTimeZone(pub String);

impl FromStr for TimeZoneName {
    type Err = UnknownTimeZone;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<Tz>()
            .map(TimeZoneName)
            .map_err(|_| UnknownTimeZone(s.to_owned()))
    }
}

impl fmt::Display for TimeZoneName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_iana_names_and_rejects_others() {
        assert_eq!(
            "Europe/Paris".parse::<TimeZoneName>().map(|t| t.name()),
            Ok("Europe/Paris")
        );
        assert!("Mars/Olympus".parse::<TimeZoneName>().is_err());
        assert!("".parse::<TimeZoneName>().is_err());
    }
}
