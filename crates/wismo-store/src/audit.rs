//! The audit trail: who did what to personal data or configuration, when
//! and from where. Append-only (triggers refuse updates and deletes) and
//! hash-chained: each row's SHA-256 covers its fields and the previous
//! row's hash, and `audit_head` holds the last seq and hash, so
//! [`Db::audit_verify`] notices an edited, inserted or deleted row — also a
//! deleted tail — even when someone with database access removed the
//! triggers first.

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};

use crate::conversations::check;
use crate::orders::micros;
use crate::{with_pool, Db, StoreDbError};

/// What to record.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Who: an agent's id, `admin`, `cli:<user>`, `system`.
    pub actor: String,
    /// `agent`, `admin`, `cli` or `system`.
    pub actor_kind: String,
    /// What, as a stable name: `agent.sign_in`, `transcript.view`, …
    pub action: String,
    /// On what: a conversation id, an agent's id, a file name.
    pub target: Option<String>,
    /// From where (client IP), when known.
    pub ip: Option<String>,
    /// More about it, as JSON (never message text).
    pub details: serde_json::Value,
    pub at: DateTime<Utc>,
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct AuditRecord {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub actor_kind: String,
    pub action: String,
    pub target: Option<String>,
    pub ip: Option<String>,
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The result of checking the chain.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditReport {
    /// Entries checked.
    pub entries: i64,
    /// The first problem found: the seq and what is wrong.
    pub broken: Option<(i64, String)>,
}

/// The hash of an entry: SHA-256 over its fields and the previous hash, as
/// one JSON array (unambiguous however the fields are written).
#[allow(clippy::too_many_arguments)]
fn entry_hash(
    seq: i64,
    at: DateTime<Utc>,
    actor: &str,
    actor_kind: &str,
    action: &str,
    target: Option<&str>,
    ip: Option<&str>,
    details: &str,
    prev_hash: &str,
) -> String {
    let canonical = serde_json::json!([
        seq,
        at.to_rfc3339_opts(SecondsFormat::Micros, true),
        actor,
        actor_kind,
        action,
        target,
        ip,
        details,
        prev_hash
    ])
    .to_string();
    Sha256::digest(canonical.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn record_hash(r: &AuditRecord) -> String {
    entry_hash(
        r.seq,
        r.at,
        &r.actor,
        &r.actor_kind,
        &r.action,
        r.target.as_deref(),
        r.ip.as_deref(),
        &r.details,
        &r.prev_hash,
    )
}

impl Db {
    /// Appends an entry to the chain (one transaction: the head row is
    /// locked, so concurrent appends — also from other servers — queue).
    pub async fn audit(&self, e: &AuditEntry) -> Result<AuditRecord, StoreDbError> {
        for v in [&e.actor, &e.actor_kind, &e.action] {
            check("audit entry", v)?;
        }
        let target = e.target.as_deref().map(|t| t.replace('\0', ""));
        let ip = e.ip.as_deref().map(|t| t.replace('\0', ""));
        let details = e.details.to_string().replace("\\u0000", "");
        let at = micros(e.at);
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            let (seq, prev): (i64, String) = sqlx::query_as(
                "UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash",
            )
            .fetch_one(&mut *tx)
            .await?;
            let hash = entry_hash(
                seq,
                at,
                &e.actor,
                &e.actor_kind,
                &e.action,
                target.as_deref(),
                ip.as_deref(),
                &details,
                &prev,
            );
            sqlx::query(
                "INSERT INTO audit_log (seq, at, actor, actor_kind, action, target, ip, details, prev_hash, hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(seq)
            .bind(at)
            .bind(&e.actor)
            .bind(&e.actor_kind)
            .bind(&e.action)
            .bind(&target)
            .bind(&ip)
            .bind(&details)
            .bind(&prev)
            .bind(&hash)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
                .bind(&hash)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(AuditRecord {
                seq,
                at,
                actor: e.actor.clone(),
                actor_kind: e.actor_kind.clone(),
                action: e.action.clone(),
                target,
                ip,
                details,
                prev_hash: prev,
                hash,
            })
        })
    }

    /// Entries with a seq greater than `after`, oldest first, at most `limit`.
    pub async fn audit_entries(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<AuditRecord>, StoreDbError> {
        Ok(with_pool!(self, p => {
            sqlx::query_as::<_, AuditRecord>(
                "SELECT seq, at, actor, actor_kind, action, target, ip, details, prev_hash, hash \
                 FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
            )
            .bind(after)
            .bind(limit)
            .fetch_all(p)
            .await?
        }))
    }

    /// Checks the whole chain: seqs 1, 2, 3… without gaps, each hash
    /// recomputed, each link to the previous hash, and the head.
    pub async fn audit_verify(&self) -> Result<AuditReport, StoreDbError> {
        let mut expected_seq = 1;
        let mut prev = String::new();
        let mut checked = 0;
        loop {
            let page = self.audit_entries(expected_seq - 1, 1000).await?;
            if page.is_empty() {
                break;
            }
            for r in page {
                checked += 1;
                let problem = if r.seq != expected_seq {
                    Some(format!(
                        "entry {expected_seq} is missing (next is {})",
                        r.seq
                    ))
                } else if r.prev_hash != prev {
                    Some("its link to the previous entry is broken".to_string())
                } else if record_hash(&r) != r.hash {
                    Some("its content does not match its hash (edited)".to_string())
                } else {
                    None
                };
                if let Some(p) = problem {
                    return Ok(AuditReport {
                        entries: checked,
                        broken: Some((expected_seq.min(r.seq), p)),
                    });
                }
                prev = r.hash;
                expected_seq += 1;
            }
        }
        let (head_seq, head_hash): (i64, String) = with_pool!(self, p => {
            sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
                .fetch_one(p)
                .await?
        });
        let last = expected_seq - 1;
        let broken = if head_seq != last {
            Some((
                last + 1,
                format!(
                    "the log ends at entry {last} but {head_seq} were written (entries deleted)"
                ),
            ))
        } else if head_hash != prev {
            Some((
                last,
                "the last entry does not match the recorded head".to_string(),
            ))
        } else {
            None
        };
        Ok(AuditReport {
            entries: checked,
            broken,
        })
    }
}
