//! Free space of the file system holding the data: readiness reports it, and below the floor
//! (`DATAPUMP_MIN_FREE_DISK_MB`) requests nobody signed in for write nothing to the audit log.

use std::path::Path;

/// Free space of the file system holding `path`, in MiB (`None` where it cannot be told).
pub fn free_mb(path: &Path) -> Option<u64> {
    #[cfg(unix)]
    {
        let stat = rustix::fs::statvfs(path).ok()?;
        Some(stat.f_bavail.saturating_mul(stat.f_frsize) / (1024 * 1024))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// Whether the file system holding `path` has at least `floor_mb` free (or cannot tell).
pub fn has_room(path: &Path, floor_mb: u64) -> bool {
    free_mb(path).is_none_or(|mb| mb >= floor_mb)
}

/// The kind of network file system holding `path`, if it is one SQLite should not live on:
/// its locks and shared memory need a local file system (sqlite.org/wal.html, "WAL does not
/// work over a network filesystem").
pub fn network_filesystem(path: &Path) -> Option<&'static str> {
    #[cfg(target_os = "linux")]
    {
        let stat = rustix::fs::statfs(path).ok()?;
        // Magic numbers of statfs(2).
        #[allow(clippy::unnecessary_cast)]
        match stat.f_type as i64 {
            0x6969 => Some("NFS"),
            0x517B => Some("SMB"),
            0xFF53_4D42 => Some("CIFS"),
            0xFE53_4D42 => Some("SMB2"),
            0x6B41_4653 => Some("AFS"),
            0x65735546 => Some("FUSE"),
            _ => None,
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = path;
        None
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_temporary_directory_is_local() {
        let dir = tempfile::tempdir().expect("dir");
        assert_eq!(super::network_filesystem(dir.path()), None);
        assert!(super::free_mb(dir.path()).is_some_and(|mb| mb > 0));
    }
}
