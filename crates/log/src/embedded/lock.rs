//! The data directory is owned by one process at a time.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::Path;

use crate::error::{LogError, Result};

/// An exclusive advisory lock on `<dir>/.lock`, held for the life of the value. The file holds the
/// owner's pid so that the error for a second process can say who holds it.
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: File,
}

impl DirLock {
    pub fn acquire(dir: &Path) -> Result<Self> {
        let path = dir.join(".lock");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| LogError::io(format!("opening {}", path.display()), e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let holder = if holder.is_empty() { String::new() } else { format!(" (pid {holder})") };
                return Err(LogError::Locked { dir: dir.to_path_buf(), holder });
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(LogError::io(format!("locking {}", path.display()), e));
            }
        }
        let pid = std::process::id().to_string();
        let _ = file.set_len(0).and_then(|()| file.rewind()).and_then(|()| file.write_all(pid.as_bytes()));
        Ok(Self { _file: file })
    }
}
