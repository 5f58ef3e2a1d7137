//! `--output-dir`: one file per container, `DIR/NAMESPACE/POD/CONTAINER.log`, written by
//! the writer thread beside stdout.
//!
//! A file is created (or emptied) the first time a run opens it, and appended to after
//! that: a container's restarts and its `--previous` instance share one file. Batches
//! are collected per file and written when the writer is idle, like stdout, so a file
//! costs one `write(2)` per burst rather than per line. At most `MAX_OPEN_FILES` stay
//! open; the least recently written is closed first and re-opened for appending when it
//! is written again, so a thousand containers do not need a thousand descriptors more.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Open log files at most; beyond this the least recently written one is closed.
pub(crate) const MAX_OPEN_FILES: usize = 256;
/// A file's collected batches are written once they reach this size…
const FILE_BUFFER: usize = 64 * 1024;
/// …and all of them once the files together hold this much: under a load that never
/// leaves the writer idle, quiet containers' lines still reach their files.
const TOTAL_BUFFER: usize = 1024 * 1024;

/// The file of one container under `dir`. Names are made path-safe even though
/// Kubernetes names cannot contain `/` or be `.`/`..`: a file must never land outside
/// `dir`. With several contexts the context is the first level.
pub(crate) fn path_for(
    dir: &Path,
    context: &str,
    namespace: &str,
    pod: &str,
    container: &str,
) -> PathBuf {
    let dir = match context {
        "" => dir.to_path_buf(),
        _ => dir.join(component(context)),
    };
    dir.join(component(namespace))
        .join(component(pod))
        .join(format!("{}.log", component(container)))
}

fn component(name: &str) -> String {
    match name {
        "" => "%".to_string(),
        "." | ".." => name.replace('.', "%2E"),
        _ => name
            .replace('%', "%25")
            .replace('/', "%2F")
            .replace('\0', "%00"),
    }
}

/// `--output-dir` must be a directory ktail can write: checked before anything streams,
/// so that a typo is one line and exit 2 rather than a failure after the first line.
pub(crate) fn prepare(dir: &Path) -> crate::error::Result<()> {
    let fail = |e: io::Error| {
        crate::error::Error::usage(format!(
            "cannot use --output-dir '{}': {e}; give a directory ktail can create and write",
            dir.display()
        ))
    };
    fs::create_dir_all(dir).map_err(fail)?;
    // Creating a directory needs write permission here: try it the way files will.
    let probe = dir.join(format!(".ktail-probe-{}", std::process::id()));
    fs::create_dir(&probe).map_err(fail)?;
    fs::remove_dir(&probe).map_err(fail)
}

/// The writer's log files.
#[derive(Default)]
pub(crate) struct LogFiles {
    entries: Vec<Entry>,
    index: HashMap<Arc<Path>, usize>,
    /// Entries with collected bytes, written at the next `flush`.
    dirty: Vec<usize>,
    /// Bytes collected in all entries.
    pending: usize,
    open: usize,
    tick: u64,
}

struct Entry {
    path: Arc<Path>,
    file: Option<File>,
    pending: Vec<u8>,
    /// Listed in `LogFiles::dirty` (once, until the next `flush`).
    dirty: bool,
    last_used: u64,
}

impl LogFiles {
    /// Creates (or empties) the file the first time this run names it; later calls,
    /// for a restarted container, keep what it holds.
    pub(crate) fn open(&mut self, path: &Arc<Path>) -> io::Result<()> {
        self.entry(path).map(|_| ())
    }

    /// Appends `bytes` to the file, collected until the next `flush`.
    pub(crate) fn write(&mut self, path: &Arc<Path>, bytes: Vec<u8>) -> io::Result<()> {
        let i = self.entry(path)?;
        let e = &mut self.entries[i];
        self.pending += bytes.len();
        if e.pending.is_empty() {
            // Keep the tail's batch rather than copy it.
            e.pending = bytes;
        } else {
            e.pending.extend_from_slice(&bytes);
        }
        if !e.dirty {
            e.dirty = true;
            self.dirty.push(i);
        }
        if self.pending >= TOTAL_BUFFER {
            self.flush()?;
        } else if self.entries[i].pending.len() >= FILE_BUFFER {
            self.write_pending(i)?;
        }
        Ok(())
    }

    /// Writes what the file holds and closes it: its container's tail has ended.
    pub(crate) fn close(&mut self, path: &Arc<Path>) -> io::Result<()> {
        let Some(&i) = self.index.get(path) else {
            return Ok(());
        };
        self.write_pending(i)?;
        if self.entries[i].file.take().is_some() {
            self.open -= 1;
        }
        Ok(())
    }

    /// Writes every file's collected batches.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        while let Some(i) = self.dirty.pop() {
            self.entries[i].dirty = false;
            self.write_pending(i)?;
        }
        Ok(())
    }

    fn write_pending(&mut self, i: usize) -> io::Result<()> {
        if self.entries[i].pending.is_empty() {
            return Ok(());
        }
        self.reopen(i)?;
        self.write_out(i)
    }

    /// Writes entry `i`'s collected bytes to its open file.
    fn write_out(&mut self, i: usize) -> io::Result<()> {
        let e = &mut self.entries[i];
        let pending = std::mem::take(&mut e.pending);
        self.pending -= pending.len();
        if let Some(f) = e.file.as_mut() {
            f.write_all(&pending).map_err(|err| in_file(&e.path, err))?;
        }
        Ok(())
    }

    /// The entry of `path`, its file open; created (emptied) on first use in this run.
    fn entry(&mut self, path: &Arc<Path>) -> io::Result<usize> {
        self.tick += 1;
        let i = match self.index.get(path) {
            Some(&i) => i,
            None => {
                if let Some(dir) = path.parent() {
                    fs::create_dir_all(dir).map_err(|e| in_file(dir, e))?;
                }
                let file = File::create(path).map_err(|e| in_file(path, e))?;
                self.make_room()?;
                self.open += 1;
                self.entries.push(Entry {
                    path: path.clone(),
                    file: Some(file),
                    pending: Vec::new(),
                    dirty: false,
                    last_used: self.tick,
                });
                self.index.insert(path.clone(), self.entries.len() - 1);
                return Ok(self.entries.len() - 1);
            }
        };
        self.reopen(i)?;
        self.entries[i].last_used = self.tick;
        Ok(i)
    }

    /// Opens entry `i` again, for appending, if it was closed.
    fn reopen(&mut self, i: usize) -> io::Result<()> {
        if self.entries[i].file.is_some() {
            return Ok(());
        }
        self.make_room()?;
        let path = self.entries[i].path.clone();
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| in_file(&path, e))?;
        self.entries[i].file = Some(file);
        self.open += 1;
        Ok(())
    }

    /// Closes the least recently used file when `MAX_OPEN_FILES` are open.
    fn make_room(&mut self) -> io::Result<()> {
        if self.open < MAX_OPEN_FILES {
            return Ok(());
        }
        let oldest = self
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.file.is_some())
            .min_by_key(|(_, e)| e.last_used)
            .map(|(i, _)| i);
        if let Some(i) = oldest {
            self.write_out(i)?;
            self.entries[i].file = None;
            self.open -= 1;
        }
        Ok(())
    }
}

fn in_file(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ktail-files-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn read(p: &Path) -> String {
        fs::read_to_string(p).unwrap()
    }

    #[test]
    fn paths_stay_inside_the_directory() {
        let d = Path::new("/logs");
        assert_eq!(
            path_for(d, "", "prod", "web-1", "app"),
            Path::new("/logs/prod/web-1/app.log")
        );
        let odd = path_for(d, "", "..", "a/b", ".");
        assert_eq!(odd, Path::new("/logs/%2E%2E/a%2Fb/%2E.log"));
        assert!(odd.starts_with(d));
        assert_eq!(
            path_for(d, "prod-eu", "prod", "web-1", "app"),
            Path::new("/logs/prod-eu/prod/web-1/app.log"),
            "several contexts: one level more"
        );
        assert!(path_for(d, "..", "n", "p", "c").starts_with(d));
    }

    #[test]
    fn first_open_empties_later_opens_append() {
        let dir = temp_dir("append");
        let path: Arc<Path> = path_for(&dir, "", "ns", "p", "c").into();
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, "from an earlier run\n").unwrap();

        let mut files = LogFiles::default();
        files.open(&path).unwrap();
        assert_eq!(read(&path), "", "an earlier run's file is emptied");
        files.write(&path, b"one\n".to_vec()).unwrap();
        files.write(&path, b"two\n".to_vec()).unwrap();
        assert_eq!(read(&path), "", "batches wait for the idle flush");
        files.flush().unwrap();
        assert_eq!(read(&path), "one\ntwo\n");
        files.close(&path).unwrap();
        // The container restarts: its next instance continues the file.
        files.open(&path).unwrap();
        files.write(&path, b"three\n".to_vec()).unwrap();
        files.close(&path).unwrap();
        assert_eq!(read(&path), "one\ntwo\nthree\n");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn open_files_are_capped_and_reopened_for_appending() {
        let dir = temp_dir("cap");
        let mut files = LogFiles::default();
        let paths: Vec<Arc<Path>> = (0..MAX_OPEN_FILES + 20)
            .map(|i| path_for(&dir, "", "ns", &format!("p{i}"), "c").into())
            .collect();
        for round in 0..2 {
            for p in &paths {
                files
                    .write(p, format!("line {round}\n").into_bytes())
                    .unwrap();
                assert!(files.open <= MAX_OPEN_FILES);
            }
        }
        files.flush().unwrap();
        for p in &paths {
            assert_eq!(read(p), "line 0\nline 1\n", "{}", p.display());
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_busy_file_is_listed_once_between_flushes() {
        let dir = temp_dir("busy");
        let path: Arc<Path> = path_for(&dir, "", "ns", "p", "c").into();
        let mut files = LogFiles::default();
        let chunk = vec![b'x'; FILE_BUFFER / 4];
        for _ in 0..40 {
            files.write(&path, chunk.clone()).unwrap();
        }
        assert_eq!(
            files.dirty.len(),
            1,
            "written out ten times at 64 KiB, listed once"
        );
        files.flush().unwrap();
        assert!(files.dirty.is_empty());
        assert_eq!(fs::metadata(&path).unwrap().len(), 40 * chunk.len() as u64);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_path_that_cannot_be_created_names_itself() {
        let dir = temp_dir("blocked");
        fs::create_dir_all(&dir).unwrap();
        // A file where the namespace's directory should be.
        fs::write(dir.join("ns"), "").unwrap();
        let path: Arc<Path> = path_for(&dir, "", "ns", "p", "c").into();
        let err = LogFiles::default().open(&path).unwrap_err();
        assert!(
            err.to_string()
                .contains(&dir.join("ns").join("p").display().to_string()),
            "{err}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
