//! The fingerprint of everything a packaging run is made from; equal fingerprints and zips that
//! still verify mean there is nothing to rebuild.

use std::path::{Path, PathBuf};

use anyhow::Context;
use sha2::{Digest, Sha256};

/// Accumulates named inputs into one SHA-256. Every item is length-prefixed, so no two
/// different sequences of items hash alike.
pub struct Fingerprint(Sha256);

impl Fingerprint {
    pub fn new(kind: &str) -> Fingerprint {
        let mut fingerprint = Fingerprint(Sha256::new());
        fingerprint.item("kind", kind.as_bytes());
        fingerprint
    }

    pub fn item(&mut self, name: &str, value: &[u8]) {
        for part in [name.as_bytes(), value] {
            self.0.update((part.len() as u64).to_le_bytes());
            self.0.update(part);
        }
    }

    /// A file's content under a name that does not depend on where the checkout is.
    pub fn file(&mut self, name: &str, path: &Path) -> anyhow::Result<()> {
        let content = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        self.item(&format!("file {name}"), &content);
        Ok(())
    }

    /// Every file under `dir` (sorted, named relative to `base`), skipping hidden entries,
    /// `target` directories, nested packages (they are fingerprinted on their own when they are
    /// dependencies) and the directories in `exclude` (build and output directories).
    pub fn tree(&mut self, base: &Path, dir: &Path, exclude: &[PathBuf]) -> anyhow::Result<()> {
        let mut entries = std::fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("reading {}", dir.display()))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let file_name = entry.file_name();
            let file_name = file_name.to_string_lossy();
            if file_name.starts_with('.') || exclude.iter().any(|e| e == &path) {
                continue;
            }
            let file_type = entry.file_type()?;
            let relative = path
                .strip_prefix(base)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            if file_type.is_dir() {
                if file_name == "target" || path.join("Cargo.toml").is_file() {
                    continue;
                }
                self.tree(base, &path, exclude)?;
            } else if file_type.is_symlink() {
                let target = std::fs::read_link(&path)?;
                self.item(
                    &format!("symlink {relative}"),
                    target.to_string_lossy().as_bytes(),
                );
                if path.is_file() {
                    self.file(&relative, &path)?;
                }
            } else if file_type.is_file() {
                self.file(&relative, &path)?;
            }
        }
        Ok(())
    }

    pub fn finish(self) -> String {
        self.0
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree_hash(dir: &Path) -> String {
        let mut f = Fingerprint::new("test");
        f.tree(dir, dir, &[]).unwrap();
        f.finish()
    }

    #[test]
    fn item_boundaries_matter() {
        let mut a = Fingerprint::new("k");
        a.item("ab", b"c");
        let mut b = Fingerprint::new("k");
        b.item("a", b"bc");
        assert_ne!(a.finish(), b.finish());
    }

    #[test]
    fn tree_depends_on_content_and_names_not_location() {
        let one = tempfile::tempdir().unwrap();
        let two = tempfile::tempdir().unwrap();
        for root in [one.path(), two.path()] {
            std::fs::create_dir_all(root.join("src/bin")).unwrap();
            std::fs::write(root.join("src/bin/a.rs"), "fn main() {}").unwrap();
            std::fs::write(root.join("Cargo.toml"), "[package]").unwrap();
            // Ignored: build output, hidden files.
            std::fs::create_dir_all(root.join("target")).unwrap();
            std::fs::write(root.join("target/junk"), root.to_string_lossy().as_bytes()).unwrap();
            std::fs::write(root.join(".swp"), root.to_string_lossy().as_bytes()).unwrap();
        }
        assert_eq!(tree_hash(one.path()), tree_hash(two.path()));

        std::fs::write(two.path().join("src/bin/a.rs"), "fn main() { }").unwrap();
        assert_ne!(tree_hash(one.path()), tree_hash(two.path()));
        std::fs::write(two.path().join("src/bin/a.rs"), "fn main() {}").unwrap();
        std::fs::rename(
            two.path().join("src/bin/a.rs"),
            two.path().join("src/bin/b.rs"),
        )
        .unwrap();
        assert_ne!(tree_hash(one.path()), tree_hash(two.path()));
    }
}
