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
