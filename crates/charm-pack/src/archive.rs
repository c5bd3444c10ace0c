//! Writes the charm's files as a `.charm` zip or as an unpacked charm directory.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, Result, ensure};
use jiff::civil;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use crate::manifest::{Stamp, ZIP_EPOCH};

pub struct Entry {
    /// Path inside the charm, '/'-separated, relative.
    pub path: String,
    pub mode: u32,
    pub data: Vec<u8>,
}

/// Sorted by path so the archive does not depend on the order files were gathered in.
pub fn sort(entries: &mut [Entry]) {
    entries.sort_by(|a, b| a.path.cmp(&b.path));
}

/// 2107-12-31T23:59:58, the latest time a zip entry can carry (DOS time counts seconds in
/// twos).
const ZIP_LAST: civil::DateTime = civil::date(2107, 12, 31).at(23, 59, 58, 0);

/// Zip (DOS) timestamps cover 1980..=2107 only: a stamp outside is moved to the nearest end.
fn zip_time(stamp: &Stamp) -> Result<DateTime> {
    let t = stamp.datetime().clamp(ZIP_EPOCH.datetime(), ZIP_LAST);
    let field = |v: i8| u8::try_from(v).context("negative date or time field");
    DateTime::from_date_and_time(
        u16::try_from(t.year()).context("year out of range")?,
        field(t.month())?,
        field(t.day())?,
        field(t.hour())?,
        field(t.minute())?,
        field(t.second())?,
    )
    .map_err(|e| anyhow::anyhow!("timestamp {t} not representable in zip: {e}"))
}

/// Writes the zip to `out` via a temporary sibling, so a failed pack leaves no partial file.
pub fn write_zip(entries: &[Entry], stamp: &Stamp, out: &Path) -> Result<()> {
    let time = zip_time(stamp)?;
    let tmp = out.with_extension("charm.partial");
    let written = write_zip_file(entries, time, &tmp);
    if written.is_err() {
        // Best effort: the write error is the one worth reporting.
        let _ = fs::remove_file(&tmp);
    }
    written?;
    fs::rename(&tmp, out).with_context(|| format!("cannot move the charm to {}", out.display()))
}

fn write_zip_file(entries: &[Entry], time: DateTime, path: &Path) -> Result<()> {
    let file =
        fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut zip = ZipWriter::new(file);
    for e in entries {
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .system(zip::System::Unix)
            .last_modified_time(time)
            .unix_permissions(e.mode);
        zip.start_file(e.path.as_str(), options)
            .with_context(|| format!("zip: cannot add {}", e.path))?;
        zip.write_all(&e.data)
            .with_context(|| format!("zip: cannot write {}", e.path))?;
    }
    let file = zip.finish().context("zip: cannot finish the archive")?;
    file.sync_all().context("zip: cannot flush")
}

/// Unpacks into `dir`, which must not exist yet or be empty (we never delete files we did
/// not write).
pub fn write_dir(entries: &[Entry], dir: &Path) -> Result<()> {
    if dir.exists() {
        let mut contents =
            fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
        ensure!(
            contents.next().is_none(),
            "{} exists and is not empty",
            dir.display()
        );
    }
    for e in entries {
        let path = dir.join(&e.path);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        fs::write(&path, &e.data).with_context(|| format!("cannot write {}", path.display()))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(e.mode))
            .with_context(|| format!("cannot chmod {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zip_time_clamps_to_the_zip_range() -> Result<()> {
        assert_eq!(zip_time(&Stamp::from_unix(0)?)?, DateTime::default());
        let last = DateTime::from_date_and_time(2107, 12, 31, 23, 59, 58)?;
        assert_eq!(zip_time(&Stamp::from_unix(5_000_000_000)?)?, last);
        // 2108-02-29 has no 2107 counterpart: still the last representable time.
        assert_eq!(zip_time(&Stamp::from_unix(4_359_916_800)?)?, last);
        let inside = zip_time(&Stamp::from_unix(1_795_871_373)?)?;
        assert_eq!(
            (inside.year(), inside.month(), inside.day()),
            (2026, 11, 28)
        );
        assert_eq!(
            (inside.hour(), inside.minute(), inside.second()),
            (13, 9, 32),
            "DOS time keeps even seconds"
        );
        Ok(())
    }
}
