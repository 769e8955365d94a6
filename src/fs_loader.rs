//! The compiler's [`Loader`] on the real file system.

use std::io;
use std::path::{Path, PathBuf};

use svcmodel_compiler::load::{EntryKind, Loader};

pub struct FsLoader;

impl Loader for FsLoader {
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        std::fs::canonicalize(path)
    }

    fn kind(&self, path: &Path) -> io::Result<EntryKind> {
        let metadata = std::fs::metadata(path)?;
        if metadata.is_dir() {
            Ok(EntryKind::Folder)
        } else if metadata.is_file() {
            Ok(EntryKind::File)
        } else {
            Err(io::Error::other("not a regular file"))
        }
    }

    fn size(&self, path: &Path) -> io::Result<u64> {
        Ok(std::fs::metadata(path)?.len())
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn list(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        std::fs::read_dir(path)?
            .map(|entry| entry.map(|e| e.path()))
            .collect()
    }
}
