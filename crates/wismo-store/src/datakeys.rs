//! Data key management on the database side: which key ids the stored
//! values use, the re-encryption sweep (rows under older keys or in
//! plaintext → the active key, keyed hashes filled in), rotation and
//! retirement of keys.
//!
//! The sweep works in batches, one transaction each, and changes a row only
//! if it still holds the values it read (compare and swap), so it is
//! resumable (stop it anywhere; the next run goes on), idempotent, and safe
//! next to a running server writing the same rows.

use sqlx::Row;

use crate::crypto::{CryptoError, Keyring, PREFIX};
use crate::{with_pool, Db, StoreDbError};

/// One table's encrypted columns.
struct Spec {
    table: &'static str,
    /// Primary key columns, and whether each is an integer.
    pk: &'static [(&'static str, bool)],
    cols: &'static [&'static str],
    /// (hash column, the encrypted column it is the keyed hash of).
    hashes: &'static [(&'static str, &'static str)],
}

const SPECS: &[Spec] = &[
    Spec {
        table: "customers",
        pk: &[("id", false)],
        cols: &["email", "first_name", "last_name"],
        hashes: &[("email_hash", "email")],
    },
    Spec {
        table: "orders",
        pk: &[("number", false)],
        cols: &[
            "email",
            "ship_name",
            "ship_address1",
            "ship_address2",
            "ship_city",
            "ship_province",
            "ship_zip",
            "ship_phone",
        ],
        hashes: &[("email_hash", "email")],
    },
    Spec {
        table: "cases",
        pk: &[("seq", true)],
        cols: &["description"],
        hashes: &[],
    },
    Spec {
        table: "conversations",
        pk: &[("id", false)],
        cols: &["metadata", "customer"],
        hashes: &[("customer_hash", "customer")],
    },
    Spec {
        table: "conversation_events",
        pk: &[("conversation_id", false), ("seq", true)],
        cols: &["event"],
        hashes: &[],
    },
    Spec {
        table: "client_message_ids",
        pk: &[("conversation_id", false), ("client_message_id", false)],
        cols: &["response"],
        hashes: &[],
    },
    Spec {
        table: "handoffs",
        pk: &[("id", true)],
        cols: &["contact_email", "last_text"],
        hashes: &[("contact_email_hash", "contact_email")],
    },
    Spec {
        table: "csat",
        pk: &[("conversation_id", false)],
        cols: &["comment"],
        hashes: &[],
    },
    Spec {
        table: "outbox",
        pk: &[("id", true)],
        cols: &["body"],
        hashes: &[],
    },
    Spec {
        table: "integration_connections",
        pk: &[("provider", false)],
        cols: &["settings"],
        hashes: &[],
    },
    Spec {
        table: "sso_pending",
        pk: &[("state_hash", false)],
        cols: &["nonce", "verifier"],
        hashes: &[],
    },
];

/// How many stored values use one key id (`None`: plaintext).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUsage {
    pub kid: Option<String>,
    pub values: u64,
}

/// What a sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Rows rewritten under the active key.
    pub rows: u64,
    /// True when nothing is left to do (false: stopped after `max_batches`).
    pub complete: bool,
}

fn like_escape(kid: &str) -> String {
    // Key ids are [A-Za-z0-9-] in practice; escape LIKE's wildcards anyway.
    kid.replace(['%', '_'], "")
}

impl Db {
    /// Counts the stored personal values per data key id, plaintext ones
    /// under `None`. Ids of keys not in the key file show up too.
    pub async fn data_key_usage(&self) -> Result<Vec<KeyUsage>, StoreDbError> {
        let mut per: std::collections::BTreeMap<Option<String>, u64> = Default::default();
        for spec in SPECS {
            for col in spec.cols {
                let sql = format!(
                    "SELECT {col} FROM {t} WHERE {col} IS NOT NULL",
                    t = spec.table
                );
                // Reads only the prefixes' key ids; values are not decrypted.
                let rows: Vec<(String,)> = with_pool!(self, p => {
                    sqlx::query_as(&sql).fetch_all(p).await?
                });
                for (v,) in rows {
                    let kid = Keyring::kid_of(&v).map(str::to_string);
                    *per.entry(kid).or_default() += 1;
                }
            }
        }
        Ok(per
            .into_iter()
            .map(|(kid, values)| KeyUsage { kid, values })
            .collect())
    }

    /// The data key ids that stored values are sealed with but that the
    /// keys in use cannot open: ids missing from the key file, or present
    /// under the same id with other key material (another server's fresh
    /// key file also starts at `k1`). One value per column and id is tried;
    /// nothing is decrypted beyond that. Empty: every stored value is readable.
    pub async fn unreadable_data_keys(&self) -> Result<Vec<String>, StoreDbError> {
        let keys = self.crypt().keyring();
        let mut bad = std::collections::BTreeSet::new();
        for spec in SPECS {
            for col in spec.cols {
                let column = format!("{}.{col}", spec.table);
                let sql = format!(
                    "SELECT {col} FROM {t} WHERE {col} LIKE 'enc:%'",
                    t = spec.table
                );
                let rows: Vec<(String,)> = with_pool!(self, p => {
                    sqlx::query_as(&sql).fetch_all(p).await?
                });
                let mut tried = std::collections::BTreeSet::new();
                for (v,) in rows {
                    let Some(kid) = Keyring::kid_of(&v) else {
                        continue;
                    };
                    if tried.contains(kid) {
                        continue;
                    }
                    tried.insert(kid.to_string());
                    if keys.open(&column, &v).is_err() {
                        bad.insert(kid.to_string());
                    }
                }
            }
        }
        Ok(bad.into_iter().collect())
    }

    /// Re-encrypts, in batches of `batch` rows, every row with a personal
    /// value in plaintext or under a key other than the active one, and
    /// fills in its keyed hashes. Stops after `max_batches` batches when
    /// given (the next run resumes).
    pub async fn reencrypt_sweep(
        &self,
        batch: usize,
        max_batches: Option<usize>,
    ) -> Result<SweepReport, StoreDbError> {
        let batch = i64::try_from(batch.max(1)).unwrap_or(500);
        let mut report = SweepReport::default();
        let mut batches = 0usize;
        for spec in SPECS {
            loop {
                if max_batches.is_some_and(|m| batches >= m) {
                    return Ok(report);
                }
                let (n, more) = self.sweep_batch(spec, batch).await?;
                if n > 0 {
                    batches += 1;
                }
                report.rows += n;
                if !more {
                    break;
                }
            }
        }
        report.complete = true;
        if report.rows > 0 {
            // The plaintext and old ciphertexts must not linger in the WAL.
            self.scrub_files().await?;
            tracing::info!(
                rows = report.rows,
                "personal data re-encrypted under the active data key"
            );
        }
        Ok(report)
    }

    /// One batch of one table: (rows rewritten, maybe more left).
    async fn sweep_batch(&self, spec: &Spec, batch: i64) -> Result<(u64, bool), StoreDbError> {
        let keys = self.crypt().keyring();
        let pattern = format!("{PREFIX}{}:%", like_escape(keys.active_id()));
        let pk_select: Vec<String> = spec
            .pk
            .iter()
            .map(|(c, _)| format!("CAST({c} AS TEXT)"))
            .collect();
        let needs: Vec<String> = spec
            .cols
            .iter()
            .map(|c| format!("({c} IS NOT NULL AND {c} NOT LIKE $1)"))
            .chain(
                spec.hashes
                    .iter()
                    .map(|(h, c)| format!("({c} IS NOT NULL AND {h} IS NULL)")),
            )
            .collect();
        let select = format!(
            "SELECT {}, {} FROM {} WHERE {} LIMIT $2",
            pk_select.join(", "),
            spec.cols.join(", "),
            spec.table,
            needs.join(" OR ")
        );
        let sets: Vec<String> = spec
            .cols
            .iter()
            .chain(spec.hashes.iter().map(|(h, _)| h))
            .enumerate()
            .map(|(i, c)| format!("{c} = ${}", i + 1))
            .collect();
        let mut n = sets.len();
        let mut conds = Vec::new();
        for (c, _) in spec.pk {
            n += 1;
            conds.push(format!("{c} = ${n}"));
        }
        for c in spec.cols {
            n += 1;
            conds.push(format!("{c} IS NOT DISTINCT FROM ${n}"));
        }
        let update = format!(
            "UPDATE {} SET {} WHERE {}",
            spec.table,
            sets.join(", "),
            conds.join(" AND ")
        );
        let npk = spec.pk.len();
        let mut done = 0u64;
        let found = with_pool!(self, p => {
            let mut tx = p.begin().await?;
            let rows = sqlx::query(&select)
                .bind(&pattern)
                .bind(batch)
                .fetch_all(&mut *tx)
                .await?;
            let found = rows.len();
            for row in rows {
                let mut pk = Vec::with_capacity(npk);
                for i in 0..npk {
                    pk.push(row.try_get::<String, _>(i)?);
                }
                let mut old = Vec::with_capacity(spec.cols.len());
                for i in 0..spec.cols.len() {
                    old.push(row.try_get::<Option<String>, _>(npk + i)?);
                }
                let mut plain = Vec::with_capacity(old.len());
                for (c, v) in spec.cols.iter().zip(&old) {
                    let column = format!("{}.{c}", spec.table);
                    plain.push(self.crypt().open_opt(&column, v.clone())?);
                }
                let mut q = sqlx::query(&update);
                for (c, v) in spec.cols.iter().zip(&plain) {
                    let column = format!("{}.{c}", spec.table);
                    q = q.bind(keys.seal_opt(&column, v.as_deref())?);
                }
                for (_, from) in spec.hashes {
                    let i = spec.cols.iter().position(|c| c == from).unwrap_or(0);
                    q = q.bind(plain[i].as_deref().map(|v| keys.email_hash(v)));
                }
                for ((_, is_int), v) in spec.pk.iter().zip(&pk) {
                    if *is_int {
                        let n: i64 = v.parse().map_err(|_| {
                            StoreDbError::Corrupt(format!("{} key {v:?} is not a number", spec.table))
                        })?;
                        q = q.bind(n);
                    } else {
                        q = q.bind(v.clone());
                    }
                }
                for v in &old {
                    q = q.bind(v.clone());
                }
                done += q.execute(&mut *tx).await?.rows_affected();
            }
            tx.commit().await?;
            found
        });
        if found > 0 && done == 0 {
            // Every row changed under us: let the caller come back later
            // rather than spin.
            return Ok((0, false));
        }
        Ok((done, found as i64 == batch))
    }

    /// Adds a new data key to the key file, makes it active, and reloads it
    /// here. Returns (old active id, new active id). Rows are moved to the
    /// new key by [`Db::reencrypt_sweep`].
    pub async fn rotate_data_key(&self) -> Result<(String, String), StoreDbError> {
        let path = self
            .crypt()
            .path()
            .map(|p| p.to_path_buf())
            .ok_or_else(|| {
                CryptoError::Refused("this database's data key has no key file to rotate".into())
            })?;
        let old = self.crypt().keyring().active_id().to_string();
        let new = Keyring::rotate_file(&path)?;
        self.crypt().reload()?;
        Ok((old, new))
    }

    /// Removes a data key from the key file, refused while it is the active
    /// key or any stored value still uses it.
    pub async fn retire_data_key(&self, kid: &str) -> Result<(), StoreDbError> {
        let path = self
            .crypt()
            .path()
            .map(|p| p.to_path_buf())
            .ok_or_else(|| {
                CryptoError::Refused("this database's data key has no key file".into())
            })?;
        if self.crypt().keyring().active_id() == kid {
            return Err(CryptoError::Refused(format!(
                "{kid} is the active data key; rotate first"
            ))
            .into());
        }
        let used = self
            .data_key_usage()
            .await?
            .into_iter()
            .find(|u| u.kid.as_deref() == Some(kid))
            .map_or(0, |u| u.values);
        if used > 0 {
            return Err(CryptoError::Refused(format!(
                "{used} stored values still use data key {kid}; run the re-encryption first"
            ))
            .into());
        }
        Keyring::retire_in_file(&path, kid)?;
        self.crypt().reload()?;
        Ok(())
    }
}
