//! Writing a generated module and its weights file as one transaction: both are written to
//! temporary files beside their targets and renamed into place only when both were written
//! whole, so a failure (a full disk, a read-only directory) leaves the previous pair as it
//! was and no temporary file behind. Targets that are not regular files (devices, FIFOs,
//! directories) and the model itself are refused before anything is written.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// How file contents reach the disk: `std::fs::write` unless a test injects a failure
/// (see [`crate::Builder::file_writer`]).
pub type WriteFile = fn(&Path, &[u8]) -> std::io::Result<()>;

/// What [`crate::Builder::generate_written`] put on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The module's path (written, or already up to date).
    pub module: PathBuf,
    /// The weights file's path, when the module reads one.
    pub weights: Option<PathBuf>,
    /// A weights file of an earlier generation that the module no longer reads, removed.
    pub removed: Option<PathBuf>,
}

/// What to do with the weights file beside the module.
pub enum WeightsPlan<'a> {
    Write(&'a [u8]),
    /// Remove it (an earlier generation's, which the module no longer reads).
    Remove,
    Keep,
}

/// Refuses an output path that is not a regular file where it exists (writing would replace
/// a device node or block on a FIFO) or that is the model being read.
pub fn check_target(target: &Path, model: &Path) -> Result<()> {
    let refuse = |why: &str| Error::Write {
        path: target.to_path_buf(),
        source: std::io::Error::other(why.to_string()),
    };
    // Metadata only: opening a FIFO to look at it would block.
    let Ok(meta) = std::fs::metadata(target) else {
        return Ok(()); // absent: it will be created
    };
    if !meta.is_file() {
        return Err(refuse(
            "it exists and is not a regular file (a directory, device, FIFO or socket); onnx2esp only replaces regular files",
        ));
    }
    if same_file(&meta, model) {
        return Err(refuse("it is the input model"));
    }
    Ok(())
}

#[cfg(unix)]
fn same_file(meta: &std::fs::Metadata, other: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(other).is_ok_and(|o| o.dev() == meta.dev() && o.ino() == meta.ino())
}

#[cfg(not(unix))]
fn same_file(_: &std::fs::Metadata, other: &Path) -> bool {
    let _ = other;
    false
}

/// Writes `code` to `module` and applies `weights` to `weights_path`, all or nothing. Files
/// whose content is already right are not touched (cargo then rebuilds nothing).
pub fn write_pair(
    write: WriteFile,
    module: &Path,
    code: &[u8],
    weights_path: &Path,
    weights: WeightsPlan,
) -> Result<()> {
    let unchanged = |path: &Path, content: &[u8]| {
        // Compare lengths first: never read a large unrelated file whole.
        std::fs::metadata(path).is_ok_and(|m| m.len() == content.len() as u64)
            && std::fs::read(path).ok().as_deref() == Some(content)
    };
    let mut transaction = Transaction::default();
    let result = (|| {
        if let WeightsPlan::Write(bytes) = weights {
            if !unchanged(weights_path, bytes) {
                transaction.stage(write, weights_path, bytes)?;
            }
        }
        if !unchanged(module, code) {
            transaction.stage(write, module, code)?;
        }
        // The weights first: the module never names a file that is not there yet.
        transaction.commit()?;
        if let WeightsPlan::Remove = weights {
            std::fs::remove_file(weights_path).map_err(|source| Error::Write {
                path: weights_path.to_path_buf(),
                source,
            })?;
        }
        Ok(())
    })();
    transaction.clean_up();
    result
}

/// Staged files: each content written whole to a temporary file beside its target.
#[derive(Default)]
struct Transaction {
    /// (temporary, target)
    staged: Vec<(PathBuf, PathBuf)>,
    /// Targets replaced so far, with the temporary holding their previous content (`None`
    /// when there was none), to put back if a later rename fails.
    replaced: Vec<(PathBuf, Option<PathBuf>)>,
    /// Every temporary file created, removed at the end whatever happened.
    temporaries: Vec<PathBuf>,
}

impl Transaction {
    fn temporary(&mut self, target: &Path, what: &str) -> PathBuf {
        let mut name = target.as_os_str().to_owned();
        name.push(format!(".{}.{what}.tmp", std::process::id()));
        let path = PathBuf::from(name);
        self.temporaries.push(path.clone());
        path
    }

    fn stage(&mut self, write: WriteFile, target: &Path, content: &[u8]) -> Result<()> {
        let temporary = self.temporary(target, "new");
        write(&temporary, content).map_err(|source| Error::Write {
            path: target.to_path_buf(),
            source,
        })?;
        self.staged.push((temporary, target.to_path_buf()));
        Ok(())
    }

    /// Renames every staged file over its target; on a failure, puts back the targets
    /// already replaced.
    fn commit(&mut self) -> Result<()> {
        for (temporary, target) in std::mem::take(&mut self.staged) {
            let backup = if target.exists() {
                let backup = self.temporary(&target, "old");
                if std::fs::hard_link(&target, &backup).is_ok() {
                    Some(backup)
                } else {
                    None
                }
            } else {
                None
            };
            if let Err(source) = std::fs::rename(&temporary, &target) {
                self.roll_back();
                return Err(Error::Write {
                    path: target,
                    source,
                });
            }
            self.replaced.push((target, backup));
        }
        Ok(())
    }

    fn roll_back(&mut self) {
        for (target, backup) in self.replaced.drain(..).rev() {
            let _ = match backup {
                Some(backup) => std::fs::rename(&backup, &target),
                None => std::fs::remove_file(&target),
            };
        }
    }

    fn clean_up(&mut self) {
        for temporary in self.temporaries.drain(..) {
            let _ = std::fs::remove_file(temporary);
        }
    }
}
