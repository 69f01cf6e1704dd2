//! GDPR: everything wismo holds about one shopper (export), erasing it, and
//! the retention policy.
//!
//! A shopper is named by email and/or the store's customer id. Their
//! conversations are the ones signed in as them, the ones where they proved
//! an order of theirs (a `Verified` event naming their email or one of their
//! orders), the ones they signed in to later (`CustomerSignedIn`) and the hand-off cases where they left that email. Erasing
//! deletes those conversations (their events, cases, ratings and
//! client-message ids go with them), every outbox row about them, the
//! customer record, and the personal fields of their orders (kept, without
//! name, email or address, so the shop's order history still adds up). On
//! SQLite, deleted content is overwritten (`secure_delete`) and the
//! write-ahead log is truncated, so it is gone from the files too.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use wismo_core::dialogue::Event;

use crate::orders::micros;
use crate::{with_pool, Db, Pool, StoreDbError};

/// id, email, first name, last name.
type CustomerRow = (String, Option<String>, Option<String>, Option<String>);

/// Who to export or erase.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shopper {
    pub email: Option<String>,
    pub customer_id: Option<String>,
}

/// What an erasure removed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Erased {
    pub conversations: u64,
    pub orders_anonymised: u64,
    pub customers: u64,
    pub outbox_rows: u64,
}

impl Shopper {
    fn email(&self) -> Option<String> {
        self.email
            .as_deref()
            .map(|e| e.trim().to_lowercase())
            .filter(|e| !e.is_empty())
    }

    fn customer(&self) -> Option<&str> {
        self.customer_id
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
    }
}

impl Db {
    /// The shopper's order numbers (by email and by customer id).
    async fn shopper_orders(&self, who: &Shopper) -> Result<BTreeSet<String>, StoreDbError> {
        let mut numbers = BTreeSet::new();
        if let Some(e) = who.email() {
            let rows: Vec<(String,)> = with_pool!(self, p => {
                sqlx::query_as(
                    "SELECT o.number FROM orders o LEFT JOIN customers c ON c.id = o.customer_id \
                     WHERE o.email_hash = $1 OR c.email_hash = $1",
                )
                .bind(self.crypt().email_hash(&e))
                .fetch_all(p)
                .await?
            });
            numbers.extend(rows.into_iter().map(|(n,)| n));
        }
        if let Some(c) = who.customer() {
            let rows: Vec<(String,)> = with_pool!(self, p => {
                sqlx::query_as("SELECT number FROM orders WHERE customer_id = $1")
                    .bind(c)
                    .fetch_all(p)
                    .await?
            });
            numbers.extend(rows.into_iter().map(|(n,)| n));
        }
        Ok(numbers)
    }

    /// The ids of the shopper's conversations (see the module docs).
    pub async fn shopper_conversations(&self, who: &Shopper) -> Result<Vec<String>, StoreDbError> {
        let email = who.email();
        let orders = self.shopper_orders(who).await?;
        let mut ids = BTreeSet::new();
        for key in [email.as_deref(), who.customer()].into_iter().flatten() {
            let rows: Vec<(String,)> = with_pool!(self, p => {
                sqlx::query_as("SELECT id FROM conversations WHERE customer_hash = $1")
                    .bind(self.crypt().email_hash(key))
                    .fetch_all(p)
                    .await?
            });
            ids.extend(rows.into_iter().map(|(i,)| i));
        }
        if let Some(e) = &email {
            let rows: Vec<(String,)> = with_pool!(self, p => {
                sqlx::query_as("SELECT conversation_id FROM handoffs WHERE contact_email_hash = $1")
                    .bind(self.crypt().email_hash(e))
                    .fetch_all(p)
                    .await?
            });
            ids.extend(rows.into_iter().map(|(i,)| i));
        }
        let verified: Vec<(String, i64, Option<i64>, String)> = with_pool!(self, p => {
            sqlx::query_as(
                "SELECT conversation_id, seq, last_seq, event FROM conversation_events \
                 WHERE kind IN ('verified', 'customer_signed_in')",
            )
            .fetch_all(p)
            .await?
        });
        let mut found = Vec::new();
        for (id, seq, last, stored) in verified {
            let text = self.crypt().open("conversation_events.event", &stored)?;
            for (_, event) in crate::conversations::unpack(seq, last, &text)? {
                found.push((id.clone(), event));
            }
        }
        for (id, event) in found {
            match event {
                Event::Verified {
                    order_number,
                    email: proved,
                } => {
                    let by_email = proved
                        .as_deref()
                        .is_some_and(|m| Some(m.to_lowercase()) == email);
                    let by_order = order_number.as_ref().is_some_and(|n| orders.contains(n));
                    if by_email || by_order {
                        ids.insert(id);
                    }
                }
                // Signed in later with a customer token (the row's
                // `customer` names only who was signed in at creation).
                Event::CustomerSignedIn {
                    customer_id,
                    email: signed,
                    ..
                } => {
                    let by_email = signed
                        .as_deref()
                        .is_some_and(|m| Some(m.to_lowercase()) == email);
                    let by_id = customer_id.is_some() && customer_id.as_deref() == who.customer();
                    if by_email || by_id {
                        ids.insert(id);
                    }
                }
                _ => {}
            }
        }
        Ok(ids.into_iter().collect())
    }

    /// Everything about the shopper, as one JSON document.
    pub async fn export_shopper(&self, who: &Shopper) -> Result<Value, StoreDbError> {
        let orders = self.shopper_orders(who).await?;
        let mut order_docs = Vec::new();
        for n in &orders {
            if let Ok(Some(o)) = self.find_order(n).await {
                order_docs.push(serde_json::to_value(&o)?);
            }
        }
        let mut conversations = Vec::new();
        for id in self.shopper_conversations(who).await? {
            let Some(row) = self.conversation(&id).await? else {
                continue;
            };
            let events: Vec<Value> = self
                .events_after(&id, 0)
                .await?
                .into_iter()
                .map(|(seq, e)| json!({"seq": seq, "event": e}))
                .collect();
            let handoffs: Vec<Value> = self
                .handoffs_of(&id)
                .await?
                .iter()
                .map(|h| {
                    json!({
                        "case_id": h.case_id(), "status": h.status, "reason": h.reason,
                        "requested_at": h.requested_at, "closed_at": h.closed_at,
                        "outcome": h.outcome, "tags": h.tags, "contact_email": h.contact_email,
                    })
                })
                .collect();
            let csat = self.csat(&id).await?.map(
                |c| json!({"score": c.score, "comment": c.comment, "created_at": c.created_at}),
            );
            conversations.push(json!({
                "id": row.id,
                "channel": row.channel,
                "locale": row.locale,
                "metadata": row.metadata,
                "created_at": row.created_at,
                "last_active_at": row.last_active_at,
                "events": events,
                "handoffs": handoffs,
                "csat": csat,
            }));
        }
        let mut customers = Vec::new();
        for key in [who.email(), who.customer().map(str::to_string)]
            .into_iter()
            .flatten()
        {
            let rows: Vec<CustomerRow> = with_pool!(self, p => {
                sqlx::query_as(
                    "SELECT id, email, first_name, last_name FROM customers \
                     WHERE id = $1 OR email_hash = $2",
                )
                .bind(&key)
                .bind(self.crypt().email_hash(&key))
                .fetch_all(p)
                .await?
            });
            for (id, email, first, last) in rows {
                let k = self.crypt();
                let email = k.open_opt("customers.email", email)?;
                let first = k.open_opt("customers.first_name", first)?;
                let last = k.open_opt("customers.last_name", last)?;
                let c = json!({"id": id, "email": email, "first_name": first, "last_name": last});
                if !customers.contains(&c) {
                    customers.push(c);
                }
            }
        }
        Ok(json!({
            "shopper": {"email": who.email(), "customer_id": who.customer()},
            "customers": customers,
            "orders": order_docs,
            "conversations": conversations,
        }))
    }

    /// Erases the shopper (see the module docs). Idempotent.
    pub async fn erase_shopper(&self, who: &Shopper) -> Result<Erased, StoreDbError> {
        let email = who.email();
        let orders = self.shopper_orders(who).await?;
        let conversations = self.shopper_conversations(who).await?;
        let mut out = Erased::default();
        // Outbox bodies are encrypted: find the rows about the shopper by
        // decrypting each (the outbox is short: delivered rows are purged).
        let bodies: Vec<(i64, String)> = with_pool!(self, p => {
            sqlx::query_as("SELECT id, body FROM outbox").fetch_all(p).await?
        });
        let mut outbox_ids = Vec::new();
        for (row, stored) in bodies {
            let body = self.crypt().open("outbox.body", &stored)?;
            let about_conversation = conversations
                .iter()
                .any(|id| body.contains(&format!("\"conversation_id\":\"{id}\"")));
            let about_email = email
                .as_deref()
                .is_some_and(|e| body.to_lowercase().contains(e));
            if about_conversation || about_email {
                outbox_ids.push(row);
            }
        }
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            for row in &outbox_ids {
                out.outbox_rows += sqlx::query("DELETE FROM outbox WHERE id = $1")
                    .bind(row)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            for id in &conversations {
                out.conversations += sqlx::query("DELETE FROM conversations WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            for n in &orders {
                out.orders_anonymised += sqlx::query(
                    "UPDATE orders SET email = NULL, email_hash = NULL, customer_id = NULL, \
                     ship_name = NULL, \
                     ship_address1 = NULL, ship_address2 = NULL, ship_city = NULL, \
                     ship_province = NULL, ship_zip = NULL, ship_phone = NULL WHERE number = $1",
                )
                .bind(n)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            for key in [email.as_deref(), who.customer()].into_iter().flatten() {
                out.customers += sqlx::query(
                    "DELETE FROM customers WHERE id = $1 OR email_hash = $2",
                )
                .bind(key)
                .bind(self.crypt().email_hash(key))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            tx.commit().await?;
        });
        self.orders.invalidate();
        self.scrub_files().await?;
        Ok(out)
    }

    /// Deletes conversations idle since before `cutoff` (with everything
    /// that hangs off them) and outbox rows created before it. Returns how
    /// their ids.
    pub async fn purge_before(&self, cutoff: DateTime<Utc>) -> Result<Vec<String>, StoreDbError> {
        let cutoff = micros(cutoff);
        let ids: Vec<(String,)> = with_pool!(self, p => {
            let mut tx = p.begin().await?;
            sqlx::query("DELETE FROM outbox WHERE created_at < $1")
                .bind(cutoff)
                .execute(&mut *tx)
                .await?;
            let ids = sqlx::query_as("DELETE FROM conversations WHERE last_active_at < $1 RETURNING id")
                .bind(cutoff)
                .fetch_all(&mut *tx)
                .await?;
            tx.commit().await?;
            ids
        });
        if !ids.is_empty() {
            self.scrub_files().await?;
        }
        Ok(ids.into_iter().map(|(i,)| i).collect())
    }

    /// On SQLite, moves everything from the write-ahead log into the
    /// database (where `secure_delete` zeroed the deleted content) and
    /// truncates the log, so erased data is not left in either file.
    pub(crate) async fn scrub_files(&self) -> Result<(), StoreDbError> {
        if let Pool::Sqlite(p) = &self.pool {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(p)
                .await?;
        }
        Ok(())
    }
}
