//! Encryption of personal data at rest: AES-256-GCM data keys with key ids,
//! and a keyed hash (HMAC-SHA256) for looking values up by email.
//!
//! A stored value is `enc:1:<kid>:<base64(nonce ‖ ciphertext ‖ tag)>`: a
//! fresh random 96-bit nonce per value, and `table.column` as associated data
//! so a value copied into another column (or table) fails to decrypt. Values
//! without the `enc:` prefix are read as plaintext (rows written before
//! encryption was on); the re-encryption sweep ([`crate::Db::reencrypt_sweep`])
//! encrypts them.
//!
//! Keys live in a key file (JSON, mode 0600): every data key by id, which one
//! is active (used for new writes; the others are kept for reading until no
//! row uses them), and the lookup key. The lookup key is never rotated by
//! `rotate-data-key`: every email hash would have to be recomputed from the
//! plaintext in one step, and hashes are only comparable under one key.
//!
//! Never depends on the server or the CLI; never logs keys or values.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

/// The prefix of every encrypted value (format version 1).
pub const PREFIX: &str = "enc:1:";

/// Why a key file or a stored value could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("the data key file {path} cannot be used: {reason}")]
    KeyFile { path: String, reason: String },
    #[error(
        "{column} is encrypted under data key {kid:?}, which is not in the key file \
         (wrong or outdated key file?)"
    )]
    UnknownKey { column: String, kid: String },
    #[error(
        "{column} does not decrypt under data key {kid:?}: wrong key, or the value was \
         tampered with or moved from another column"
    )]
    Decrypt { column: String, kid: String },
    #[error("{column} holds a malformed encrypted value")]
    Malformed { column: String },
    #[error("the system random number generator failed")]
    Random,
    #[error("{0}")]
    Refused(String),
}

/// The key file as stored (all keys base64, 32 bytes each).
#[derive(Serialize, Deserialize, Clone)]
struct KeyFileDoc {
    version: u32,
    active: String,
    lookup: String,
    keys: BTreeMap<String, String>,
}

/// The data keys and the lookup key.
pub struct Keyring {
    active: String,
    keys: BTreeMap<String, LessSafeKey>,
    lookup: hmac::Key,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("active", &self.active)
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn random_key() -> Result<[u8; 32], CryptoError> {
    let mut k = [0u8; 32];
    SystemRandom::new()
        .fill(&mut k)
        .map_err(|_| CryptoError::Random)?;
    Ok(k)
}

fn file_err(path: &Path, reason: impl std::fmt::Display) -> CryptoError {
    CryptoError::KeyFile {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// The normalised form of an email for hashing: trimmed, lower case.
pub fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

impl KeyFileDoc {
    fn generate() -> Result<Self, CryptoError> {
        let mut keys = BTreeMap::new();
        keys.insert("k1".to_string(), B64.encode(random_key()?));
        Ok(KeyFileDoc {
            version: 1,
            active: "k1".into(),
            lookup: B64.encode(random_key()?),
            keys,
        })
    }

    fn read(path: &Path) -> Result<Self, CryptoError> {
        let text = std::fs::read_to_string(path).map_err(|e| file_err(path, e))?;
        serde_json::from_str(&text).map_err(|_| file_err(path, "not a wismo key file"))
    }

    /// Writes atomically (temp file with mode 0600, then rename).
    fn write(&self, path: &Path, replace: bool) -> Result<(), CryptoError> {
        let text = serde_json::to_string_pretty(self).map_err(|e| file_err(path, e))?;
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| file_err(path, e))?;
            }
        }
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        write_private(&tmp, text.as_bytes()).map_err(|e| file_err(path, e))?;
        let done = if replace {
            std::fs::rename(&tmp, path)
        } else {
            // Never overwrites a key file another process just created.
            std::fs::hard_link(&tmp, path)
        };
        let _ = std::fs::remove_file(&tmp);
        done.map_err(|e| file_err(path, e))
    }

    fn keyring(&self, path: &Path) -> Result<Keyring, CryptoError> {
        let decode = |what: &str, b: &str| -> Result<Vec<u8>, CryptoError> {
            let bytes = B64
                .decode(b.trim())
                .map_err(|_| file_err(path, format!("{what} is not base64")))?;
            if bytes.len() != 32 {
                return Err(file_err(path, format!("{what} is not 32 bytes")));
            }
            Ok(bytes)
        };
        let mut keys = BTreeMap::new();
        for (kid, b) in &self.keys {
            if kid.is_empty() || kid.contains(':') {
                return Err(file_err(path, format!("bad key id {kid:?}")));
            }
            let bytes = decode(&format!("key {kid}"), b)?;
            let key = UnboundKey::new(&AES_256_GCM, &bytes)
                .map_err(|_| file_err(path, format!("key {kid} is unusable")))?;
            keys.insert(kid.clone(), LessSafeKey::new(key));
        }
        if !keys.contains_key(&self.active) {
            return Err(file_err(path, "the active key is not in the file"));
        }
        let lookup = hmac::Key::new(hmac::HMAC_SHA256, &decode("the lookup key", &self.lookup)?);
        Ok(Keyring {
            active: self.active.clone(),
            keys,
            lookup,
        })
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

impl Keyring {
    /// A new random keyring that lives only in memory (in-memory databases).
    pub fn ephemeral() -> Result<Keyring, CryptoError> {
        KeyFileDoc::generate()?.keyring(Path::new("(in memory)"))
    }

    /// Reads keys given as text in the key file's JSON format (the
    /// `data_keys` setting, e.g. from a secrets manager). `source` names
    /// where they came from in error messages; the keys themselves never
    /// appear in one.
    pub fn from_json(json: &str, source: &str) -> Result<Keyring, CryptoError> {
        let path = Path::new(source);
        let doc: KeyFileDoc = serde_json::from_str(json)
            .map_err(|_| file_err(path, "not in the wismo key file format"))?;
        doc.keyring(path)
    }

    /// Reads a key file.
    pub fn load(path: &Path) -> Result<Keyring, CryptoError> {
        KeyFileDoc::read(path)?.keyring(path)
    }

    /// Reads a key file, creating it (mode 0600, one new key) when there is
    /// none. The flag says whether it was created now.
    pub fn load_or_create(path: &Path) -> Result<(Keyring, bool), CryptoError> {
        if !path.exists() {
            let doc = KeyFileDoc::generate()?;
            match doc.write(path, false) {
                Ok(()) => return Ok((doc.keyring(path)?, true)),
                // Someone else created it first: use theirs.
                Err(_) if path.exists() => {}
                Err(e) => return Err(e),
            }
        }
        Ok((Keyring::load(path)?, false))
    }

    /// Adds a new random data key to the key file and makes it the active
    /// one (the file is replaced atomically). Returns the new key id.
    pub fn rotate_file(path: &Path) -> Result<String, CryptoError> {
        let mut doc = KeyFileDoc::read(path)?;
        let next = doc
            .keys
            .keys()
            .filter_map(|k| k.strip_prefix('k').and_then(|n| n.parse::<u64>().ok()))
            .max()
            .unwrap_or(0)
            + 1;
        let kid = format!("k{next}");
        doc.keys.insert(kid.clone(), B64.encode(random_key()?));
        doc.active = kid.clone();
        doc.keyring(path)?;
        doc.write(path, true)?;
        Ok(kid)
    }

    /// Removes a (non-active) data key from the key file. The caller checks
    /// first that no row uses it.
    pub fn retire_in_file(path: &Path, kid: &str) -> Result<(), CryptoError> {
        let mut doc = KeyFileDoc::read(path)?;
        if doc.active == kid {
            return Err(CryptoError::Refused(format!(
                "{kid} is the active data key; rotate first"
            )));
        }
        if doc.keys.remove(kid).is_none() {
            return Err(CryptoError::Refused(format!("there is no data key {kid}")));
        }
        doc.write(path, true)
    }

    pub fn active_id(&self) -> &str {
        &self.active
    }

    pub fn key_ids(&self) -> Vec<String> {
        self.keys.keys().cloned().collect()
    }

    /// Encrypts `plain` for `column` (`table.column`) under the active key.
    pub fn seal(&self, column: &str, plain: &str) -> Result<String, CryptoError> {
        let key = self
            .keys
            .get(&self.active)
            .ok_or_else(|| CryptoError::UnknownKey {
                column: column.into(),
                kid: self.active.clone(),
            })?;
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| CryptoError::Random)?;
        let mut buf = plain.as_bytes().to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(column.as_bytes()),
            &mut buf,
        )
        .map_err(|_| CryptoError::Random)?;
        let mut out = Vec::with_capacity(NONCE_LEN + buf.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        Ok(format!("{PREFIX}{}:{}", self.active, B64.encode(out)))
    }

    pub fn seal_opt(
        &self,
        column: &str,
        plain: Option<&str>,
    ) -> Result<Option<String>, CryptoError> {
        plain.map(|p| self.seal(column, p)).transpose()
    }

    /// The key id of a stored value (`None`: plaintext).
    pub fn kid_of(stored: &str) -> Option<&str> {
        stored.strip_prefix(PREFIX)?.split(':').next()
    }

    /// Decrypts a stored value of `column`; plaintext passes through.
    pub fn open(&self, column: &str, stored: &str) -> Result<String, CryptoError> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_string());
        };
        let malformed = || CryptoError::Malformed {
            column: column.into(),
        };
        let (kid, b64) = rest.split_once(':').ok_or_else(malformed)?;
        let key = self.keys.get(kid).ok_or_else(|| CryptoError::UnknownKey {
            column: column.into(),
            kid: kid.into(),
        })?;
        let mut bytes = B64.decode(b64).map_err(|_| malformed())?;
        if bytes.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(malformed());
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&bytes[..NONCE_LEN]);
        let plain = key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(column.as_bytes()),
                &mut bytes[NONCE_LEN..],
            )
            .map_err(|_| CryptoError::Decrypt {
                column: column.into(),
                kid: kid.into(),
            })?;
        String::from_utf8(plain.to_vec()).map_err(|_| malformed())
    }

    /// The keyed hash that lookups by email use: hex HMAC-SHA256 of the
    /// normalised email under the lookup key.
    pub fn email_hash(&self, email: &str) -> String {
        let tag = hmac::sign(&self.lookup, normalise_email(email).as_bytes());
        tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The keyring a [`crate::Db`] uses, reloaded from its key file when a value
/// names a key id it does not know (another process rotated).
#[derive(Debug)]
pub struct Crypt {
    current: RwLock<Arc<Keyring>>,
    path: Option<PathBuf>,
}

impl Crypt {
    pub fn new(keyring: Keyring, path: Option<PathBuf>) -> Crypt {
        Crypt {
            current: RwLock::new(Arc::new(keyring)),
            path,
        }
    }

    pub fn keyring(&self) -> Arc<Keyring> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Reads the key file again (after a rotation); false without a file.
    pub fn reload(&self) -> Result<bool, CryptoError> {
        let Some(path) = &self.path else {
            return Ok(false);
        };
        let fresh = Keyring::load(path)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(fresh);
        Ok(true)
    }

    pub fn seal(&self, column: &str, plain: &str) -> Result<String, CryptoError> {
        self.keyring().seal(column, plain)
    }

    pub fn seal_opt(
        &self,
        column: &str,
        plain: Option<&str>,
    ) -> Result<Option<String>, CryptoError> {
        plain.map(|p| self.seal(column, p)).transpose()
    }

    pub fn open(&self, column: &str, stored: &str) -> Result<String, CryptoError> {
        match self.keyring().open(column, stored) {
            Err(CryptoError::UnknownKey { .. }) if self.path.is_some() => {
                self.reload()?;
                self.keyring().open(column, stored)
            }
            other => other,
        }
    }

    pub fn open_opt(
        &self,
        column: &str,
        stored: Option<String>,
    ) -> Result<Option<String>, CryptoError> {
        stored.map(|s| self.open(column, &s)).transpose()
    }

    pub fn email_hash(&self, email: &str) -> String {
        self.keyring().email_hash(email)
    }

    pub fn email_hash_opt(&self, email: Option<&str>) -> Option<String> {
        email.map(|e| self.email_hash(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_binding() {
        let k = Keyring::ephemeral().expect("keys");
        let s = k.seal("orders.email", "ann@example.com").expect("seals");
        assert!(s.starts_with("enc:1:k1:"));
        assert!(!s.contains("ann"));
        assert_eq!(
            k.open("orders.email", &s).expect("opens"),
            "ann@example.com"
        );
        // A fresh nonce per value.
        assert_ne!(s, k.seal("orders.email", "ann@example.com").expect("seals"));
        // Moved to another column: refused.
        assert!(matches!(
            k.open("customers.email", &s),
            Err(CryptoError::Decrypt { .. })
        ));
        // Another key: refused.
        let other = Keyring::ephemeral().expect("keys");
        assert!(matches!(
            other.open("orders.email", &s),
            Err(CryptoError::Decrypt { .. })
        ));
        // Plaintext passes.
        assert_eq!(k.open("orders.email", "plain").expect("plain"), "plain");
        assert_eq!(
            k.email_hash(" Ann@Example.com"),
            k.email_hash("ann@example.com")
        );
        assert_ne!(
            k.email_hash("ann@example.com"),
            other.email_hash("ann@example.com")
        );
    }
}
