//! `manifest.yaml` and the one timestamp of a pack, both reproducible.

use anyhow::{Context, Result};
use jiff::Timestamp;
use jiff::civil::{DateTime, date};
use jiff::tz::TimeZone;

use crate::project::Base;

/// The charmcraft release whose `.charm` layout and manifest we reproduce.
pub const CHARMCRAFT_VERSION: &str = "4.5.0";

/// A UTC civil time: the pack's only clock. Taken from `SOURCE_DATE_EPOCH`
/// (reproducible-builds.org) or fixed at the zip epoch, never from the wall clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp(DateTime);

/// 1980-01-01T00:00:00, the earliest time a zip entry can carry.
pub const ZIP_EPOCH: Stamp = Stamp(date(1980, 1, 1).at(0, 0, 0, 0));

impl Stamp {
    pub fn from_source_date_epoch(value: Option<&str>) -> Result<Self> {
        match value {
            None => Ok(ZIP_EPOCH),
            Some(v) => {
                let secs: i64 = v
                    .trim()
                    .parse()
                    .with_context(|| format!("SOURCE_DATE_EPOCH={v:?} is not an integer"))?;
                Self::from_unix(secs).with_context(|| format!("SOURCE_DATE_EPOCH={v:?}"))
            }
        }
    }

    /// The UTC time `secs` seconds after 1970-01-01T00:00:00 (before it when negative); an
    /// error past the years -9999..=9999.
    pub fn from_unix(secs: i64) -> Result<Self> {
        let t = Timestamp::from_second(secs)
            .with_context(|| format!("{secs} seconds from the epoch is out of range"))?;
        Ok(Self(TimeZone::UTC.to_datetime(t)))
    }

    pub fn datetime(&self) -> DateTime {
        self.0
    }

    /// Python's `datetime.isoformat()` shape (no fraction when microseconds are 0).
    pub fn isoformat(&self) -> String {
        self.0.strftime("%Y-%m-%dT%H:%M:%S").to_string()
    }
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
    fn unix_to_civil() -> Result<()> {
        assert_eq!(Stamp::from_unix(0)?.isoformat(), "1970-01-01T00:00:00");
        assert_eq!(
            Stamp::from_unix(1_795_871_373)?.isoformat(),
            "2026-11-28T13:09:33"
        );
        // Leap day and a pre-1970 instant.
        assert_eq!(
            Stamp::from_unix(951_782_400)?.isoformat(),
            "2000-02-29T00:00:00"
        );
        assert_eq!(Stamp::from_unix(-1)?.isoformat(), "1969-12-31T23:59:59");
        // Years below 1000 keep four digits, as Python's isoformat() writes them.
        assert_eq!(
            Stamp::from_unix(-59_011_459_200)?.isoformat(),
            "0100-01-01T00:00:00"
        );
        Ok(())
    }

    #[test]
    fn source_date_epoch() -> Result<()> {
        assert_eq!(Stamp::from_source_date_epoch(None)?, ZIP_EPOCH);
        assert_eq!(Stamp::from_source_date_epoch(Some("315532800"))?, ZIP_EPOCH);
        assert_eq!(
            Stamp::from_source_date_epoch(Some(" 1795871373\n"))?.isoformat(),
            "2026-11-28T13:09:33"
        );
        assert!(Stamp::from_source_date_epoch(Some("yesterday")).is_err());
        // Past the year 9999: an error, not a wrapped-around date.
        let e = Stamp::from_source_date_epoch(Some("300000000000")).expect_err("year 11476");
        assert!(
            format!("{e:#}").contains("SOURCE_DATE_EPOCH=\"300000000000\""),
            "{e:#}"
        );
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
