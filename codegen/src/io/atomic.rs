//! Atomic file writes: every file kv2sql writes (an export, `generated/`) goes through here.
//!
//! The new contents go to a temporary file beside the target (same directory, so the rename
//! cannot cross file systems), which is flushed and fsynced, then renamed over the target, and
//! the directory is fsynced. A reader sees the old file or the new one, never a part; on any
//! failure before the rename the old file is left exactly as it was and the temporary file is
//! removed.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A write that did not happen (or, for [`Step::SyncDir`], whose durability is not assured).
#[derive(Debug)]
pub struct WriteError {
    /// The file that was to be written.
    pub path: PathBuf,
    /// What failed.
    pub step: Step,
    /// Whether a file was there before (and is still there, unchanged).
    pub existed: bool,
    pub source: io::Error,
}

/// The step of an atomic write that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The target is a directory, or its directory does not exist.
    Target,
    /// Creating, filling, flushing or fsyncing the temporary file.
    Write,
    /// Renaming the temporary file over the target.
    Rename,
    /// Fsyncing the directory after the rename: the new file is in place.
    SyncDir,
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.path.display();
        if self.step == Step::SyncDir {
            return write!(
                f,
                "{p} was written, but its directory could not be synced ({}): the new file may not survive a \
                 power loss; run the command again to be sure",
                self.source
            );
        }
        write!(f, "{p} was not written: {}", self.source)?;
        if self.step == Step::Target {
            Ok(())
        } else if self.existed {
            write!(f, "; {p} was left as it was")
        } else {
            write!(f, "; no file was created")
        }
    }
}

impl std::error::Error for WriteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Writes `contents` to `path` atomically.
pub fn write_file(path: &Path, contents: &[u8]) -> Result<(), WriteError> {
    write_with(path, |w| w.write_all(contents))
}

/// Writes what `fill` writes to `path` atomically. An error from `fill` (or from any later step
/// before the rename) leaves the old file whole and no temporary file behind.
pub fn write_with(path: &Path, fill: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<(), WriteError> {
    let err = |step, existed, source| WriteError { path: path.to_path_buf(), step, existed, source };
    let (target, existing) = resolve(path).map_err(|e| err(Step::Target, false, e))?;
    let existed = existing.is_some();
    if existing.as_ref().is_some_and(|m| !m.is_file()) {
        // A stream (`/dev/stdout`, a pipe): there is no old file to keep, nor one to replace.
        return write_stream(&target, fill).map_err(|e| err(Step::Write, false, e));
    }
    let dir = parent_dir(&target);
    let (tmp_path, file) = create_temp(&dir, &target).map_err(|e| err(Step::Write, existed, e))?;
    let filled = fill_and_sync(file, existing.as_ref(), fill);
    if let Err(e) = filled {
        let _ = fs::remove_file(&tmp_path);
        return Err(err(Step::Write, existed, e));
    }
    if let Err(e) = fs::rename(&tmp_path, &target) {
        let _ = fs::remove_file(&tmp_path);
        return Err(err(Step::Rename, existed, e));
    }
    sync_dir(&dir).map_err(|e| err(Step::SyncDir, existed, e))
}

fn write_stream(target: &Path, fill: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> io::Result<()> {
    let mut w = BufWriter::new(OpenOptions::new().write(true).open(target)?);
    fill(&mut w)?;
    w.flush()
}

/// The file to replace (a symbolic link is followed, so the link stays a link) and its
/// metadata when it exists. A directory, or a missing parent directory, is refused.
fn resolve(path: &Path) -> io::Result<(PathBuf, Option<fs::Metadata>)> {
    // A stream (`/dev/stdout` links to a pipe, which has no path to resolve).
    if let Ok(m) = fs::metadata(path) {
        if !m.is_file() && !m.is_dir() {
            return Ok((path.to_path_buf(), Some(m)));
        }
    }
    let target = match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => fs::canonicalize(path)?,
        _ => path.to_path_buf(),
    };
    match fs::metadata(&target) {
        Ok(m) if m.is_dir() => Err(io::Error::other("it is a directory; give a file name")),
        Ok(m) => Ok((target, Some(m))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let dir = parent_dir(&target);
            if dir.is_dir() {
                Ok((target, None))
            } else {
                Err(io::Error::other(format!("the directory {} does not exist; create it first", dir.display())))
            }
        }
        Err(e) => Err(e),
    }
}

fn parent_dir(target: &Path) -> PathBuf {
    match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A new, hidden file beside the target: `.<name>.tmp-<pid>-<n>`.
fn create_temp(dir: &Path, target: &Path) -> io::Result<(PathBuf, File)> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    loop {
        let tmp = dir.join(format!(".{name}.tmp-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Fills the temporary file, keeps the permissions of the file it replaces, and fsyncs it.
fn fill_and_sync(
    file: File,
    existing: Option<&fs::Metadata>,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let mut w = BufWriter::new(file);
    fill(&mut w)?;
    let file = w.into_inner().map_err(|e| e.into_error())?;
    if let Some(m) = existing {
        file.set_permissions(m.permissions())?;
    }
    file.sync_all()
}

/// Makes the rename durable (a no-op where directories cannot be opened).
fn sync_dir(dir: &Path) -> io::Result<()> {
    if cfg!(unix) {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("kv2sql-atomic-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> =
            fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    }

    #[test]
    fn writes_a_new_file_and_replaces_an_old_one() {
        let dir = scratch("replace");
        let p = dir.join("out.json");
        write_file(&p, b"first").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"first");
        write_file(&p, b"second, longer").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"second, longer");
        assert_eq!(names(&dir), ["out.json"], "no temporary file is left");
    }

    /// A writer failing midway (as a full disk does): the old file is byte-for-byte intact,
    /// no temporary file is left, and the message says so.
    #[test]
    fn a_failure_midway_leaves_the_old_file_whole() {
        let dir = scratch("midway");
        let p = dir.join("out.json");
        let old: Vec<u8> = (0..100_000u32).flat_map(|i| i.to_le_bytes()).collect();
        fs::write(&p, &old).unwrap();
        let e = write_with(&p, |w| {
            w.write_all(&[b'x'; 200_000])?;
            Err(io::Error::new(io::ErrorKind::StorageFull, "No space left on device"))
        })
        .unwrap_err();
        assert_eq!(fs::read(&p).unwrap(), old);
        assert_eq!(names(&dir), ["out.json"]);
        assert_eq!(e.step, Step::Write);
        assert_eq!(
            e.to_string(),
            format!("{0} was not written: No space left on device; {0} was left as it was", p.display())
        );
        // With no file before: none after.
        let q = dir.join("new.json");
        let e = write_with(&q, |_| Err(io::Error::other("boom"))).unwrap_err();
        assert!(!q.exists());
        assert_eq!(names(&dir), ["out.json"]);
        assert!(e.to_string().ends_with("boom; no file was created"), "{e}");
    }

    #[test]
    fn a_missing_directory_or_a_directory_target_is_refused() {
        let dir = scratch("targets");
        let e = write_file(&dir.join("no/such/dir/out.json"), b"x").unwrap_err();
        assert_eq!(e.step, Step::Target);
        assert!(e.to_string().contains("no/such/dir does not exist; create it first"), "{e}");
        assert!(!dir.join("no").exists());
        let e = write_file(&dir, b"x").unwrap_err();
        assert!(e.to_string().contains("it is a directory"), "{e}");
        assert!(names(&dir).is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_stays_a_link_and_permissions_are_kept() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("symlink");
        let real = dir.join("real.json");
        fs::write(&real, b"old").unwrap();
        fs::set_permissions(&real, fs::Permissions::from_mode(0o640)).unwrap();
        let link = dir.join("link.json");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_file(&link, b"new").unwrap();
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(fs::read(&real).unwrap(), b"new");
        assert_eq!(fs::metadata(&real).unwrap().permissions().mode() & 0o777, 0o640);
        assert_eq!(names(&dir), ["link.json", "real.json"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_stream_is_written_into() {
        write_file(Path::new("/dev/null"), b"into the void").unwrap();
    }

    #[test]
    fn a_relative_name_in_the_current_directory_has_a_directory() {
        assert_eq!(parent_dir(Path::new("out.json")), PathBuf::from("."));
        assert_eq!(parent_dir(Path::new("a/out.json")), PathBuf::from("a"));
    }
}
