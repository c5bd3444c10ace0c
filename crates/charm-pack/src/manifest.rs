//! `manifest.yaml` and the one timestamp of a pack, both reproducible.

use anyhow::{Context, Result};

use crate::project::Base;

/// The charmcraft release whose `.charm` layout and manifest we reproduce.
pub const CHARMCRAFT_VERSION: &str = "4.5.0";

/// A UTC civil time: the pack's only clock. Taken from `SOURCE_DATE_EPOCH`
/// (reproducible-builds.org) or fixed at the zip epoch, never from the wall clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub year: i64,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

/// 1980-01-01T00:00:00, the earliest time a zip entry can carry.
pub const ZIP_EPOCH: Stamp = Stamp {
    year: 1980,
    month: 1,
    day: 1,
    hour: 0,
    minute: 0,
    second: 0,
};

impl Stamp {
    pub fn from_source_date_epoch(value: Option<&str>) -> Result<Self> {
        match value {
            None => Ok(ZIP_EPOCH),
            Some(v) => {
                let secs: i64 = v
                    .trim()
                    .parse()
                    .with_context(|| format!("SOURCE_DATE_EPOCH={v:?} is not an integer"))?;
                Ok(Self::from_unix(secs))
            }
        }
    }

    pub fn from_unix(secs: i64) -> Self {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        // rem < 86400, so these fit in u8.
        Self {
            year,
            month,
            day,
            hour: (rem / 3600) as u8,
            minute: (rem % 3600 / 60) as u8,
            second: (rem % 60) as u8,
        }
    }

    /// Python's `datetime.isoformat()` shape (no fraction when microseconds are 0).
    pub fn isoformat(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The manifest exactly as charmcraft 4.5.0's PyYAML dump lays it out. Every value is a
/// checked word (see `project::is_word`) or our own timestamp, so plain formatting is safe;
/// the channel and the timestamp are quoted as PyYAML quotes them.
pub fn render(base: &Base, started_at: &Stamp) -> String {
    format!(
        "charmcraft-version: {CHARMCRAFT_VERSION}\n\
         charmcraft-started-at: '{}'\n\
         bases:\n\
         - name: {}\n  channel: '{}'\n  architectures:\n  - {}\n\
         analysis:\n  attributes:\n  - name: language\n    result: unknown\n  \
         - name: framework\n    result: unknown\n",
        started_at.isoformat(),
        base.name,
        base.channel,
        base.architecture,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_to_civil() {
        assert_eq!(Stamp::from_unix(0).isoformat(), "1970-01-01T00:00:00");
        assert_eq!(
            Stamp::from_unix(1_795_871_373).isoformat(),
            "2026-11-28T13:09:33"
        );
        // Leap day and a pre-1970 instant.
        assert_eq!(
            Stamp::from_unix(951_782_400).isoformat(),
            "2000-02-29T00:00:00"
        );
        assert_eq!(Stamp::from_unix(-1).isoformat(), "1969-12-31T23:59:59");
    }

    #[test]
    fn source_date_epoch() -> Result<()> {
        assert_eq!(Stamp::from_source_date_epoch(None)?, ZIP_EPOCH);
        assert_eq!(Stamp::from_source_date_epoch(Some("315532800"))?, ZIP_EPOCH);
        assert!(Stamp::from_source_date_epoch(Some("yesterday")).is_err());
        Ok(())
    }

    #[test]
    fn manifest_parses_back_to_the_same_values() -> Result<()> {
        let base = Base {
            name: "ubuntu".into(),
            channel: "22.04".into(),
            architecture: "amd64".into(),
        };
        let text = render(&base, &ZIP_EPOCH);
        let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text)?;
        let expected: serde_yaml_ng::Value = serde_yaml_ng::from_str(
            "charmcraft-version: '4.5.0'\n\
             charmcraft-started-at: '1980-01-01T00:00:00'\n\
             bases: [{name: ubuntu, channel: '22.04', architectures: [amd64]}]\n\
             analysis: {attributes: [{name: language, result: unknown}, {name: framework, result: unknown}]}",
        )?;
        assert_eq!(v, expected);
        Ok(())
    }
}
