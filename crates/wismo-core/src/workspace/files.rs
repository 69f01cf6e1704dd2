//! A store workspace as a set of files: read from a folder, or rebuilt from a
//! stored version (so every server of a cluster can load the same version
//! from the database, whatever its own disk holds).

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Component, Path};

/// Largest workspace file accepted (a policy page, a training file).
pub const MAX_FILE_BYTES: usize = 2 * 1024 * 1024;
/// Largest workspace accepted in all.
pub const MAX_TOTAL_BYTES: usize = 32 * 1024 * 1024;
/// Most files a workspace may hold.
pub const MAX_FILES: usize = 2_000;

/// The workspace's text files by relative path (`/`-separated, no `..`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct WorkspaceFiles(BTreeMap<String, String>);

#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("{0}: cannot read: {1}")]
    Io(String, std::io::Error),
    #[error("{0}: not UTF-8 text")]
    NotText(String),
    #[error("{0}: {1} bytes is over the {MAX_FILE_BYTES}-byte limit for one file")]
    FileTooLarge(String, usize),
    #[error("the workspace is over {MAX_TOTAL_BYTES} bytes or {MAX_FILES} files")]
    TooLarge,
    #[error("{0}: not a valid workspace path (relative, `/`-separated, no `..`)")]
    BadPath(String),
    #[error("{0}: cannot write: {1}")]
    Write(String, std::io::Error),
}

/// Files a workspace may hold (anything else in the folder is ignored: a
/// README, editor backups, the store's own notes).
fn is_workspace_file(rel: &str) -> bool {
    let ext = rel.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    let ext = ext.as_deref();
    match rel.split_once('/') {
        None => matches!(rel, "store.toml" | "flows.yml" | "catalogue.json"),
        Some(("knowledge", _)) => matches!(ext, Some("md" | "markdown" | "txt" | "html" | "htm")),
        Some(("templates", _)) | Some(("tests", _)) => matches!(ext, Some("yml" | "yaml")),
        Some(("nlu", _)) => matches!(ext, Some("yml" | "yaml" | "csv")),
        Some(_) => false,
    }
}

/// A relative path is kept only in normal form: `a/b.md`.
fn valid_path(rel: &str) -> bool {
    !rel.is_empty()
        && rel.len() <= 512
        && !rel.starts_with('/')
        && !rel.contains('\\')
        && rel
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != ".." && !p.starts_with('.'))
}

impl WorkspaceFiles {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the workspace files under `dir` (hidden files and folders,
    /// symlinks out of it and files of other kinds are skipped).
    pub fn read_dir(dir: &Path) -> Result<Self, FilesError> {
        let mut files = WorkspaceFiles::new();
        let mut total = 0usize;
        read_into(dir, dir, &mut files, &mut total, 0)?;
        Ok(files)
    }

    /// Makes the workspace files in `dir` these: writes each file whose text
    /// differs (to a hidden temporary file, then renamed over, so a reader
    /// never sees half a file) and removes workspace files `self` does not
    /// hold. Anything else in the folder is left alone. Returns the paths
    /// written or removed.
    pub fn write_dir(&self, dir: &Path) -> Result<Vec<String>, FilesError> {
        let on_disk = Self::read_dir(dir)?;
        let mut touched = Vec::new();
        for (rel, text) in self.iter() {
            if on_disk.get(rel) == Some(text) {
                continue;
            }
            let path = dir.join(rel);
            let show = || path.display().to_string();
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| FilesError::Write(show(), e))?;
            }
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            let tmp = path.with_file_name(format!(".{}.wismo-tmp", name.unwrap_or_default()));
            std::fs::write(&tmp, text).map_err(|e| FilesError::Write(show(), e))?;
            std::fs::rename(&tmp, &path).map_err(|e| FilesError::Write(show(), e))?;
            touched.push(rel.to_string());
        }
        for (rel, _) in on_disk.iter().filter(|(rel, _)| self.get(rel).is_none()) {
            let path = dir.join(rel);
            std::fs::remove_file(&path)
                .map_err(|e| FilesError::Write(path.display().to_string(), e))?;
            touched.push(rel.to_string());
        }
        Ok(touched)
    }

    /// Adds or replaces one file (used by editors and tests).
    pub fn insert(&mut self, rel: &str, text: impl Into<String>) -> Result<(), FilesError> {
        let text = text.into();
        if !valid_path(rel) {
            return Err(FilesError::BadPath(rel.to_string()));
        }
        if text.len() > MAX_FILE_BYTES {
            return Err(FilesError::FileTooLarge(rel.to_string(), text.len()));
        }
        if self.0.len() >= MAX_FILES && !self.0.contains_key(rel) {
            return Err(FilesError::TooLarge);
        }
        self.0.insert(rel.to_string(), text);
        Ok(())
    }

    pub fn remove(&mut self, rel: &str) -> Option<String> {
        self.0.remove(rel)
    }

    pub fn get(&self, rel: &str) -> Option<&str> {
        self.0.get(rel).map(String::as_str)
    }

    /// `(path, text)` in path order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Files under `prefix/` in path order.
    pub fn under<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.iter()
            .filter(move |(k, _)| k.strip_prefix(prefix).is_some_and(|r| r.starts_with('/')))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Content hash of the whole workspace (hex SHA-256 over every path and
    /// text in path order): the version's identity.
    pub fn hash(&self) -> String {
        self.hash_of(|_| true)
    }

    /// Hash of what training depends on (`nlu/` and `catalogue.json`): a
    /// reload retrains only when it changes.
    pub fn training_hash(&self) -> String {
        self.hash_of(|p| p.starts_with("nlu/") || p == "catalogue.json")
    }

    fn hash_of(&self, keep: impl Fn(&str) -> bool) -> String {
        let mut h = Sha256::new();
        for (k, v) in self.iter().filter(|(k, _)| keep(k)) {
            h.update((k.len() as u64).to_le_bytes());
            h.update(k.as_bytes());
            h.update((v.len() as u64).to_le_bytes());
            h.update(v.as_bytes());
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Paths added, removed or changed from `old` to `self`, each prefixed
    /// with `+`, `-` or `~` (for the version record).
    pub fn changes_from(&self, old: &WorkspaceFiles) -> Vec<String> {
        let mut out = Vec::new();
        for (k, v) in self.iter() {
            match old.get(k) {
                None => out.push(format!("+{k}")),
                Some(o) if o != v => out.push(format!("~{k}")),
                Some(_) => {}
            }
        }
        for (k, _) in old.iter() {
            if self.get(k).is_none() {
                out.push(format!("-{k}"));
            }
        }
        out.sort_by(|a, b| a[1..].cmp(&b[1..]));
        out
    }
}

fn read_into(
    root: &Path,
    dir: &Path,
    files: &mut WorkspaceFiles,
    total: &mut usize,
    depth: usize,
) -> Result<(), FilesError> {
    let show = |p: &Path| p.display().to_string();
    if depth > 8 {
        return Ok(());
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| FilesError::Io(show(dir), e))?
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        // Symlinks are followed only when they stay inside the workspace.
        let meta = std::fs::metadata(&path).map_err(|e| FilesError::Io(show(&path), e))?;
        if entry.file_type().is_ok_and(|t| t.is_symlink()) {
            let (Ok(target), Ok(root)) = (path.canonicalize(), root.canonicalize()) else {
                continue;
            };
            if !target.starts_with(root) {
                continue;
            }
        }
        let Ok(rel) = path.strip_prefix(root) else {
            continue;
        };
        let rel: Vec<String> = rel
            .components()
            .filter_map(|c| match c {
                Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
                _ => None,
            })
            .collect();
        let rel = rel.join("/");
        if meta.is_dir() {
            read_into(root, &path, files, total, depth + 1)?;
            continue;
        }
        if !meta.is_file() || !is_workspace_file(&rel) {
            continue;
        }
        let len = meta.len() as usize;
        if len > MAX_FILE_BYTES {
            return Err(FilesError::FileTooLarge(rel, len));
        }
        *total += len;
        if *total > MAX_TOTAL_BYTES || files.len() >= MAX_FILES {
            return Err(FilesError::TooLarge);
        }
        let bytes = std::fs::read(&path).map_err(|e| FilesError::Io(show(&path), e))?;
        let text = String::from_utf8(bytes).map_err(|_| FilesError::NotText(rel.clone()))?;
        // CRLF and a byte-order mark are editors' noise, not content.
        let text = text
            .strip_prefix('\u{feff}')
            .unwrap_or(&text)
            .replace("\r\n", "\n");
        files.insert(&rel, text)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_workspace_files_and_skips_the_rest() {
        let dir = std::env::temp_dir().join(format!("wismo-ws-files-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("knowledge/es")).expect("mkdir");
        std::fs::create_dir_all(dir.join(".git")).expect("mkdir");
        std::fs::write(dir.join("store.toml"), "name = \"X\"\r\n").expect("write");
        std::fs::write(dir.join("knowledge/es/envios.md"), "Envíos\n").expect("write");
        std::fs::write(dir.join("knowledge/es/notes.docx"), "x").expect("write");
        std::fs::write(dir.join(".git/config"), "x").expect("write");
        std::fs::write(dir.join("README.md"), "x").expect("write");
        let f = WorkspaceFiles::read_dir(&dir).expect("reads");
        let _ = std::fs::remove_dir_all(&dir);
        let paths: Vec<&str> = f.iter().map(|(k, _)| k).collect();
        assert_eq!(paths, ["knowledge/es/envios.md", "store.toml"]);
        assert_eq!(f.get("store.toml"), Some("name = \"X\"\n"));
        assert_eq!(f.under("knowledge").count(), 1);
    }

    #[test]
    fn writes_changed_files_removes_dropped_ones_and_leaves_the_rest() {
        let dir = std::env::temp_dir().join(format!("wismo-ws-write-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("knowledge/en")).expect("mkdir");
        std::fs::write(dir.join("store.toml"), "name = \"X\"\r\n").expect("write");
        std::fs::write(dir.join("knowledge/en/old.md"), "Old\n").expect("write");
        std::fs::write(dir.join("README.md"), "mine").expect("write");
        let mut f = WorkspaceFiles::new();
        f.insert("store.toml", "name = \"X\"\n").expect("ok");
        f.insert("knowledge/en/new.md", "New\n").expect("ok");
        let touched = f.write_dir(&dir).expect("writes");
        assert_eq!(touched, ["knowledge/en/new.md", "knowledge/en/old.md"]);
        let back = WorkspaceFiles::read_dir(&dir).expect("reads");
        assert_eq!(back.hash(), f.hash());
        assert_eq!(
            std::fs::read_to_string(dir.join("README.md"))
                .ok()
                .as_deref(),
            Some("mine")
        );
        // Nothing changed: nothing written.
        assert!(f.write_dir(&dir).expect("writes").is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn hashes_follow_content_and_training_hash_only_training_files() {
        let mut a = WorkspaceFiles::new();
        a.insert("store.toml", "name = \"A\"").expect("ok");
        a.insert("nlu/extra.yml", "nlu: []").expect("ok");
        let mut b = a.clone();
        b.insert("store.toml", "name = \"B\"").expect("ok");
        assert_ne!(a.hash(), b.hash());
        assert_eq!(a.training_hash(), b.training_hash());
        b.insert("nlu/extra.yml", "nlu: [x]").expect("ok");
        assert_ne!(a.training_hash(), b.training_hash());
        assert_eq!(b.changes_from(&a), ["~nlu/extra.yml", "~store.toml"]);
        assert_eq!(a.hash().len(), 64);
    }

    #[test]
    fn refuses_paths_that_leave_the_workspace() {
        let mut f = WorkspaceFiles::new();
        for bad in [
            "../x.md",
            "/etc/passwd",
            "a//b",
            "knowledge/./x",
            ".hidden",
            "a\\b",
            "",
        ] {
            assert!(
                matches!(f.insert(bad, "x"), Err(FilesError::BadPath(_))),
                "{bad}"
            );
        }
        assert!(f
            .insert("knowledge/x.md", "x".repeat(MAX_FILE_BYTES + 1))
            .is_err());
    }
}
