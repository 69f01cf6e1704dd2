//! Every query, written once and compiled for each dialect.
//!
//! The `backend!` macro expands the same functions with the SQLite and with
//! the PostgreSQL types (`backend::sqlite`, `backend::postgres`). The SQL is
//! common to both: `$n` placeholders, `ON CONFLICT`, `RETURNING`; the column
//! types differ only in the migration files (TEXT vs TIMESTAMPTZ/JSONB), which
//! sqlx's chrono and `Json` types hide. Conversation JSON (events, metadata,
//! responses) is TEXT on both, serialised here.
//!
//! Transactions that read and then write start with a write to the rows they
//! are about to change (`UPDATE … SET x = x`): on SQLite this takes the write
//! lock up front (a deferred transaction that upgrades later can fail with
//! "database is locked" under concurrency), on PostgreSQL it locks the rows.
//! Imports and new cases take a table lock on PostgreSQL (the one statement
//! that differs per dialect, passed to the macro).

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::types::Json;
use wismo_core::store::{Address, Customer, Fulfillment, LineItem, Order, Refund};

use crate::crypto::Crypt;
use crate::StoreDbError;

/// A status enum as stored: its serde name (`partially_refunded`).
pub(crate) fn enum_text<T: Serialize>(value: &T) -> Result<String, StoreDbError> {
    match serde_json::to_value(value)? {
        serde_json::Value::String(s) => Ok(s),
        other => Err(StoreDbError::Corrupt(format!(
            "status {other} is not a string"
        ))),
    }
}

pub(crate) fn text_enum<T: DeserializeOwned>(field: &str, s: &str) -> Result<T, StoreDbError> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| StoreDbError::Corrupt(format!("unknown {field} {s:?}")))
}

fn quantity(field: &str, q: i64) -> Result<u32, StoreDbError> {
    u32::try_from(q).map_err(|_| StoreDbError::Corrupt(format!("{field} {q} out of range")))
}

#[derive(sqlx::FromRow)]
pub(crate) struct OrderRow {
    number: String,
    id: String,
    email: Option<String>,
    customer_id: Option<String>,
    customer_email: Option<String>,
    customer_first_name: Option<String>,
    customer_last_name: Option<String>,
    created_at: DateTime<Utc>,
    financial_status: String,
    fulfillment_status: String,
    cancelled_at: Option<DateTime<Utc>>,
    cancel_reason: Option<String>,
    currency: String,
    total_price: String,
    returned: bool,
    ship_name: Option<String>,
    ship_address1: Option<String>,
    ship_address2: Option<String>,
    ship_city: Option<String>,
    ship_province: Option<String>,
    ship_zip: Option<String>,
    ship_country: Option<String>,
    ship_country_code: Option<String>,
    ship_phone: Option<String>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct LineItemRow {
    id: String,
    title: String,
    variant_title: Option<String>,
    sku: Option<String>,
    quantity: i64,
    price: String,
}

#[derive(sqlx::FromRow)]
pub(crate) struct FulfillmentRow {
    id: String,
    created_at: DateTime<Utc>,
    updated_at: Option<DateTime<Utc>>,
    tracking_company: Option<String>,
    tracking_numbers: Json<Vec<String>>,
    tracking_urls: Json<Vec<String>>,
    shipment_status: Option<String>,
    estimated_delivery_at: Option<DateTime<Utc>>,
    delivered_at: Option<DateTime<Utc>>,
    line_items: Json<Vec<(String, u32)>>,
    last_checkpoint: Option<Json<wismo_core::store::Checkpoint>>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct RefundRow {
    id: String,
    created_at: DateTime<Utc>,
    amount: String,
    note: Option<String>,
    line_items: Json<Vec<(String, u32)>>,
    status: Option<String>,
}

pub(crate) fn assemble(
    k: &Crypt,
    mut o: OrderRow,
    items: Vec<LineItemRow>,
    fulfillments: Vec<FulfillmentRow>,
    refunds: Vec<RefundRow>,
) -> Result<Order, StoreDbError> {
    o.email = k.open_opt("orders.email", o.email)?;
    o.customer_email = k.open_opt("customers.email", o.customer_email)?;
    o.customer_first_name = k.open_opt("customers.first_name", o.customer_first_name)?;
    o.customer_last_name = k.open_opt("customers.last_name", o.customer_last_name)?;
    o.ship_name = k.open_opt("orders.ship_name", o.ship_name)?;
    o.ship_address1 = k.open_opt("orders.ship_address1", o.ship_address1)?;
    o.ship_address2 = k.open_opt("orders.ship_address2", o.ship_address2)?;
    o.ship_city = k.open_opt("orders.ship_city", o.ship_city)?;
    o.ship_province = k.open_opt("orders.ship_province", o.ship_province)?;
    o.ship_zip = k.open_opt("orders.ship_zip", o.ship_zip)?;
    o.ship_phone = k.open_opt("orders.ship_phone", o.ship_phone)?;
    let customer = o.customer_id.map(|id| Customer {
        id,
        email: o.customer_email,
        first_name: o.customer_first_name,
        last_name: o.customer_last_name,
    });
    let shipping_address = match (o.ship_address1, o.ship_city) {
        (Some(address1), Some(city)) => Some(Address {
            name: o.ship_name,
            address1,
            address2: o.ship_address2,
            city,
            province: o.ship_province,
            zip: o.ship_zip,
            country: o.ship_country,
            country_code: o.ship_country_code,
            phone: o.ship_phone,
        }),
        _ => None,
    };
    let line_items = items
        .into_iter()
        .map(|l| {
            Ok(LineItem {
                quantity: quantity("line item quantity", l.quantity)?,
                id: l.id,
                title: l.title,
                variant_title: l.variant_title,
                sku: l.sku,
                price: l.price,
            })
        })
        .collect::<Result<Vec<_>, StoreDbError>>()?;
    let fulfillments = fulfillments
        .into_iter()
        .map(|f| {
            Ok(Fulfillment {
                shipment_status: f
                    .shipment_status
                    .as_deref()
                    .map(|s| text_enum("shipment status", s))
                    .transpose()?,
                id: f.id,
                created_at: f.created_at,
                updated_at: f.updated_at,
                tracking_company: f.tracking_company,
                tracking_numbers: f.tracking_numbers.0,
                tracking_urls: f.tracking_urls.0,
                estimated_delivery_at: f.estimated_delivery_at,
                delivered_at: f.delivered_at,
                line_items: f.line_items.0,
                last_checkpoint: f.last_checkpoint.map(|c| c.0),
            })
        })
        .collect::<Result<Vec<_>, StoreDbError>>()?;
    let refunds = refunds
        .into_iter()
        .map(|r| Refund {
            status: r
                .status
                .as_deref()
                .map(wismo_core::store::RefundStatus::parse)
                .unwrap_or_default(),
            id: r.id,
            created_at: r.created_at,
            amount: r.amount,
            note: r.note,
            line_items: r.line_items.0,
        })
        .collect();
    Ok(Order {
        financial_status: text_enum("financial status", &o.financial_status)?,
        fulfillment_status: text_enum("fulfillment status", &o.fulfillment_status)?,
        number: o.number,
        id: o.id,
        email: o.email,
        customer,
        created_at: o.created_at,
        cancelled_at: o.cancelled_at,
        cancel_reason: o.cancel_reason,
        currency: o.currency,
        total_price: o.total_price,
        line_items,
        shipping_address,
        fulfillments,
        refunds,
        returned: o.returned,
    })
}

#[derive(sqlx::FromRow)]
pub(crate) struct ConversationDbRow {
    pub id: String,
    pub token_hash: String,
    pub locale: Option<String>,
    pub channel: String,
    /// JSON text.
    pub metadata: String,
    pub customer: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_active_at: DateTime<Utc>,
    pub last_seq: i64,
}

#[derive(sqlx::FromRow)]
pub(crate) struct EventRow {
    /// The first event's seq.
    pub seq: i64,
    /// The last event's seq in a pack; `None` for one event.
    pub last_seq: Option<i64>,
    /// Sealed JSON text: an event, or a pack's array of events.
    pub event: String,
}

#[derive(sqlx::FromRow)]
pub(crate) struct ClientMessageRow {
    pub seq: Option<i64>,
    /// JSON text.
    pub response: String,
}

/// The number the order tables are searched by (the same as `InMemoryStore`'s).
pub(crate) use wismo_core::store::memory::normalise_number as number_key;

const ORDER_SELECT: &str = "SELECT o.number, o.id, o.email, o.customer_id, \
     c.email AS customer_email, c.first_name AS customer_first_name, \
     c.last_name AS customer_last_name, o.created_at, o.financial_status, \
     o.fulfillment_status, o.cancelled_at, o.cancel_reason, o.currency, \
     o.total_price, o.returned, o.ship_name, o.ship_address1, o.ship_address2, \
     o.ship_city, o.ship_province, o.ship_zip, o.ship_country, \
     o.ship_country_code, o.ship_phone \
     FROM orders o LEFT JOIN customers c ON c.id = o.customer_id";

macro_rules! backend {
    (
        $DB:ty,
        $bulk_lock:expr,
        $reserve_seqs:expr,
        $insert_events:expr,
        $last_seq_locked:expr,
        $last_seqs_locked:expr,
        $known_cmids:expr
    ) => {
        use chrono::{DateTime, Utc};
        use sqlx::types::Json;
        use wismo_core::dialogue::state::Event;
        use wismo_core::store::{Case, Order};

        use crate::backend::{
            assemble, enum_text, number_key, ClientMessageRow, ConversationDbRow, EventRow,
            FulfillmentRow, LineItemRow, OrderRow, RefundRow, ORDER_SELECT,
        };
        use crate::conversations::NewConversation;
        use crate::crypto::Crypt;
        use crate::StoreDbError;

        pub(crate) type Conn = <$DB as sqlx::Database>::Connection;

        /// Takes the write lock / row locks for the orders matching `key`.
        pub(crate) async fn lock_orders(conn: &mut Conn, key: &str) -> Result<(), StoreDbError> {
            sqlx::query("UPDATE orders SET id = id WHERE number_key = $1")
                .bind(key)
                .execute(&mut *conn)
                .await?;
            Ok(())
        }

        /// Serialises bulk changes (imports, new cases) until the commit.
        pub(crate) async fn lock_all(conn: &mut Conn) -> Result<(), StoreDbError> {
            sqlx::query($bulk_lock)
                .execute(&mut *conn)
                .await?;
            Ok(())
        }

        pub(crate) async fn load_order(
            conn: &mut Conn,
            k: &Crypt,
            number: &str,
        ) -> Result<Option<Order>, StoreDbError> {
            let sql = format!("{ORDER_SELECT} WHERE o.number = $1");
            let Some(row) = sqlx::query_as::<_, OrderRow>(&sql)
                .bind(number)
                .fetch_optional(&mut *conn)
                .await?
            else {
                return Ok(None);
            };
            let items = sqlx::query_as::<_, LineItemRow>(
                "SELECT id, title, variant_title, sku, quantity, price FROM line_items \
                 WHERE order_number = $1 ORDER BY position",
            )
            .bind(number)
            .fetch_all(&mut *conn)
            .await?;
            let fulfillments = sqlx::query_as::<_, FulfillmentRow>(
                "SELECT id, created_at, updated_at, tracking_company, tracking_numbers, \
                 tracking_urls, shipment_status, estimated_delivery_at, delivered_at, line_items, \
                 last_checkpoint FROM fulfillments WHERE order_number = $1 ORDER BY position",
            )
            .bind(number)
            .fetch_all(&mut *conn)
            .await?;
            let refunds = sqlx::query_as::<_, RefundRow>(
                "SELECT id, created_at, amount, note, line_items, status FROM refunds \
                 WHERE order_number = $1 ORDER BY position",
            )
            .bind(number)
            .fetch_all(&mut *conn)
            .await?;
            assemble(k, row, items, fulfillments, refunds).map(Some)
        }

        /// The stored number for a shopper-typed one (`#eu-1001` -> `EU-1001`).
        pub(crate) async fn number_for(
            conn: &mut Conn,
            typed: &str,
        ) -> Result<Option<String>, StoreDbError> {
            let key = number_key(typed);
            if key.is_empty() {
                return Ok(None);
            }
            let n: Option<(String,)> = sqlx::query_as(
                "SELECT number FROM orders WHERE number_key = $1 ORDER BY number LIMIT 1",
            )
            .bind(&key)
            .fetch_optional(&mut *conn)
            .await?;
            Ok(n.map(|(n,)| n))
        }

        pub(crate) async fn numbers_by_email(
            conn: &mut Conn,
            email_hash: &str,
        ) -> Result<Vec<String>, StoreDbError> {
            let rows: Vec<(String,)> = sqlx::query_as(
                "SELECT o.number FROM orders o LEFT JOIN customers c ON c.id = o.customer_id \
                 WHERE o.email_hash = $1 OR c.email_hash = $1",
            )
            .bind(email_hash)
            .fetch_all(&mut *conn)
            .await?;
            Ok(rows.into_iter().map(|(n,)| n).collect())
        }

        pub(crate) async fn numbers_by_customer(
            conn: &mut Conn,
            customer_id: &str,
        ) -> Result<Vec<String>, StoreDbError> {
            let rows: Vec<(String,)> =
                sqlx::query_as("SELECT number FROM orders WHERE customer_id = $1")
                    .bind(customer_id)
                    .fetch_all(&mut *conn)
                    .await?;
            Ok(rows.into_iter().map(|(n,)| n).collect())
        }

        pub(crate) async fn all_numbers(conn: &mut Conn) -> Result<Vec<String>, StoreDbError> {
            let rows: Vec<(String,)> = sqlx::query_as("SELECT number FROM orders ORDER BY number")
                .fetch_all(&mut *conn)
                .await?;
            Ok(rows.into_iter().map(|(n,)| n).collect())
        }

        /// Whether this provider's delivery was applied before.
        pub(crate) async fn delivery_seen(
            conn: &mut Conn,
            provider: &str,
            delivery_id: &str,
        ) -> Result<bool, StoreDbError> {
            let seen: Option<String> = sqlx::query_scalar(
                "SELECT outcome FROM integration_deliveries WHERE provider = $1 AND delivery_id = $2",
            )
            .bind(provider)
            .bind(delivery_id)
            .fetch_optional(&mut *conn)
            .await?;
            Ok(seen.is_some())
        }

        /// Remembers an applied delivery and forgets those older than
        /// `DELIVERY_MEMORY`.
        pub(crate) async fn record_delivery(
            conn: &mut Conn,
            provider: &str,
            delivery_id: &str,
            outcome: &str,
            now: DateTime<Utc>,
        ) -> Result<(), StoreDbError> {
            sqlx::query(
                "INSERT INTO integration_deliveries (provider, delivery_id, received_at, outcome) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(provider)
            .bind(delivery_id)
            .bind(now)
            .bind(outcome)
            .execute(&mut *conn)
            .await?;
            sqlx::query("DELETE FROM integration_deliveries WHERE received_at < $1")
                .bind(now - crate::mirror::DELIVERY_MEMORY)
                .execute(&mut *conn)
                .await?;
            Ok(())
        }

        /// When the platform last changed the stored order `number`.
        pub(crate) async fn source_updated_at(
            conn: &mut Conn,
            number: &str,
        ) -> Result<Option<DateTime<Utc>>, StoreDbError> {
            Ok(sqlx::query_scalar("SELECT source_updated_at FROM orders WHERE number = $1")
                .bind(number)
                .fetch_one(&mut *conn)
                .await?)
        }

        /// [`write_order`], with when the platform last changed it.
        pub(crate) async fn write_sourced_order(
            conn: &mut Conn,
            k: &Crypt,
            o: &Order,
            source_updated_at: Option<DateTime<Utc>>,
        ) -> Result<(), StoreDbError> {
            write_order(conn, k, o).await?;
            sqlx::query("UPDATE orders SET source_updated_at = $1 WHERE number = $2")
                .bind(source_updated_at)
                .bind(&o.number)
                .execute(&mut *conn)
                .await?;
            // Every tracking number the platform gave gets a tracker (once).
            let now = chrono::Utc::now();
            for f in &o.fulfillments {
                for t in f.tracking_numbers.iter().filter(|t| !t.trim().is_empty()) {
                    sqlx::query(
                        "INSERT INTO carrier_trackers (tracking_number, carrier, order_number, next_at, created_at) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tracking_number) DO NOTHING",
                    )
                    .bind(t.trim())
                    .bind(f.tracking_company.as_deref())
                    .bind(&o.number)
                    .bind(now.timestamp_micros())
                    .bind(crate::orders::micros(now))
                    .execute(&mut *conn)
                    .await?;
                }
            }
            Ok(())
        }

        /// Records that the platform just told us about order `number`.
        pub(crate) async fn mark_mirrored(
            conn: &mut Conn,
            number: &str,
            at: DateTime<Utc>,
        ) -> Result<(), StoreDbError> {
            sqlx::query("UPDATE orders SET mirrored_at = $1 WHERE number = $2")
                .bind(at)
                .bind(number)
                .execute(&mut *conn)
                .await?;
            Ok(())
        }

        /// Replaces the order with `o.number` (row and every child row).
        pub(crate) async fn write_order(
            conn: &mut Conn,
            k: &Crypt,
            o: &Order,
        ) -> Result<(), StoreDbError> {
            for table in ["line_items", "fulfillments", "refunds"] {
                sqlx::query(&format!("DELETE FROM {table} WHERE order_number = $1"))
                    .bind(&o.number)
                    .execute(&mut *conn)
                    .await?;
            }
            sqlx::query("DELETE FROM orders WHERE number = $1")
                .bind(&o.number)
                .execute(&mut *conn)
                .await?;
            if let Some(c) = &o.customer {
                sqlx::query(
                    "INSERT INTO customers (id, email, first_name, last_name, email_hash) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET \
                     email = excluded.email, first_name = excluded.first_name, \
                     last_name = excluded.last_name, email_hash = excluded.email_hash",
                )
                .bind(&c.id)
                .bind(k.seal_opt("customers.email", c.email.as_deref())?)
                .bind(k.seal_opt("customers.first_name", c.first_name.as_deref())?)
                .bind(k.seal_opt("customers.last_name", c.last_name.as_deref())?)
                .bind(k.email_hash_opt(c.email.as_deref()))
                .execute(&mut *conn)
                .await?;
            }
            let a = o.shipping_address.as_ref();
            sqlx::query(
                "INSERT INTO orders (number, number_key, id, email, customer_id, created_at, \
                 financial_status, fulfillment_status, cancelled_at, cancel_reason, currency, \
                 total_price, returned, ship_name, ship_address1, ship_address2, ship_city, \
                 ship_province, ship_zip, ship_country, ship_country_code, ship_phone, \
                 email_hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
                 $16, $17, $18, $19, $20, $21, $22, $23)",
            )
            .bind(&o.number)
            .bind(number_key(&o.number))
            .bind(&o.id)
            .bind(k.seal_opt("orders.email", o.email.as_deref())?)
            .bind(o.customer.as_ref().map(|c| c.id.as_str()))
            .bind(o.created_at)
            .bind(enum_text(&o.financial_status)?)
            .bind(enum_text(&o.fulfillment_status)?)
            .bind(o.cancelled_at)
            .bind(&o.cancel_reason)
            .bind(&o.currency)
            .bind(&o.total_price)
            .bind(o.returned)
            .bind(k.seal_opt("orders.ship_name", a.and_then(|a| a.name.as_deref()))?)
            .bind(k.seal_opt("orders.ship_address1", a.map(|a| a.address1.as_str()))?)
            .bind(k.seal_opt("orders.ship_address2", a.and_then(|a| a.address2.as_deref()))?)
            .bind(k.seal_opt("orders.ship_city", a.map(|a| a.city.as_str()))?)
            .bind(k.seal_opt("orders.ship_province", a.and_then(|a| a.province.as_deref()))?)
            .bind(k.seal_opt("orders.ship_zip", a.and_then(|a| a.zip.as_deref()))?)
            .bind(a.and_then(|a| a.country.as_deref()))
            .bind(a.and_then(|a| a.country_code.as_deref()))
            .bind(k.seal_opt("orders.ship_phone", a.and_then(|a| a.phone.as_deref()))?)
            .bind(k.email_hash_opt(o.email.as_deref()))
            .execute(&mut *conn)
            .await?;
            for (i, l) in o.line_items.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO line_items (order_number, position, id, title, variant_title, \
                     sku, quantity, price) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&o.number)
                .bind(i as i64)
                .bind(&l.id)
                .bind(&l.title)
                .bind(&l.variant_title)
                .bind(&l.sku)
                .bind(i64::from(l.quantity))
                .bind(&l.price)
                .execute(&mut *conn)
                .await?;
            }
            for (i, f) in o.fulfillments.iter().enumerate() {
                let status = f.shipment_status.as_ref().map(enum_text).transpose()?;
                sqlx::query(
                    "INSERT INTO fulfillments (order_number, position, id, created_at, \
                     updated_at, tracking_company, tracking_numbers, tracking_urls, \
                     shipment_status, estimated_delivery_at, delivered_at, line_items, \
                     last_checkpoint) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                )
                .bind(&o.number)
                .bind(i as i64)
                .bind(&f.id)
                .bind(f.created_at)
                .bind(f.updated_at)
                .bind(&f.tracking_company)
                .bind(Json(&f.tracking_numbers))
                .bind(Json(&f.tracking_urls))
                .bind(status)
                .bind(f.estimated_delivery_at)
                .bind(f.delivered_at)
                .bind(Json(&f.line_items))
                .bind(f.last_checkpoint.as_ref().map(Json))
                .execute(&mut *conn)
                .await?;
            }
            for (i, r) in o.refunds.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO refunds (order_number, position, id, created_at, amount, note, \
                     line_items, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&o.number)
                .bind(i as i64)
                .bind(&r.id)
                .bind(r.created_at)
                .bind(&r.amount)
                .bind(&r.note)
                .bind(Json(&r.line_items))
                .bind(r.status.as_str())
                .execute(&mut *conn)
                .await?;
            }
            Ok(())
        }

        /// Stores a case and returns its sequence number (1, 2, …).
        pub(crate) async fn insert_case(
            conn: &mut Conn,
            k: &Crypt,
            c: &Case,
        ) -> Result<i64, StoreDbError> {
            let (seq,): (i64,) = sqlx::query_as(
                "INSERT INTO cases (order_number, kind, description, created_at) \
                 VALUES ($1, $2, $3, $4) RETURNING seq",
            )
            .bind(&c.order_number)
            .bind(&c.kind)
            .bind(k.seal("cases.description", &c.description)?)
            .bind(c.created_at)
            .fetch_one(&mut *conn)
            .await?;
            Ok(seq)
        }

        pub(crate) async fn cases(conn: &mut Conn, k: &Crypt) -> Result<Vec<Case>, StoreDbError> {
            let rows: Vec<(i64, Option<String>, String, String, DateTime<Utc>)> =
                sqlx::query_as(
                    "SELECT seq, order_number, kind, description, created_at FROM cases \
                     ORDER BY seq",
                )
                .fetch_all(&mut *conn)
                .await?;
            rows.into_iter()
                .map(|(seq, order_number, kind, description, created_at)| {
                    Ok(Case {
                        id: crate::orders::case_id(seq),
                        order_number,
                        kind,
                        description: k.open("cases.description", &description)?,
                        created_at,
                    })
                })
                .collect()
        }

        pub(crate) async fn insert_conversation(
            conn: &mut Conn,
            k: &Crypt,
            c: &NewConversation,
        ) -> Result<(), StoreDbError> {
            sqlx::query(
                "INSERT INTO conversations (id, token_hash, locale, channel, metadata, \
                 customer, created_at, last_active_at, last_seq, customer_hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 0, $8)",
            )
            .bind(&c.id)
            .bind(&c.token_hash)
            .bind(&c.locale)
            .bind(&c.channel)
            .bind(k.seal("conversations.metadata", &serde_json::to_string(&c.metadata)?)?)
            .bind(k.seal_opt("conversations.customer", c.customer.as_deref())?)
            .bind(c.created_at)
            .bind(k.email_hash_opt(c.customer.as_deref()))
            .execute(&mut *conn)
            .await?;
            Ok(())
        }

        /// Reserves `n` sequence numbers; returns the new last one (None: no such conversation).
        pub(crate) async fn reserve_seq(
            conn: &mut Conn,
            id: &str,
            n: i64,
            now: DateTime<Utc>,
        ) -> Result<Option<i64>, StoreDbError> {
            let row: Option<(i64,)> = sqlx::query_as(
                "UPDATE conversations SET last_seq = last_seq + $2, last_active_at = $3 \
                 WHERE id = $1 RETURNING last_seq",
            )
            .bind(id)
            .bind(n)
            .bind(now)
            .fetch_optional(&mut *conn)
            .await?;
            Ok(row.map(|(s,)| s))
        }

        /// The conversation's last seq, its row locked until the transaction
        /// ends (PostgreSQL; SQLite's writer holds the whole database).
        pub(crate) async fn last_seq_locked(
            conn: &mut Conn,
            id: &str,
        ) -> Result<Option<i64>, StoreDbError> {
            let row: Option<(i64,)> = sqlx::query_as($last_seq_locked)
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
            Ok(row.map(|(s,)| s))
        }

        /// [`last_seq_locked`] of every conversation in `ids` in one
        /// statement (rows locked in id order); absent ones are left out.
        pub(crate) async fn last_seqs_locked(
            conn: &mut Conn,
            ids: &[&str],
        ) -> Result<Vec<(String, i64)>, StoreDbError> {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            Ok(sqlx::query_as($last_seqs_locked)
                .bind(serde_json::to_string(ids)?)
                .fetch_all(&mut *conn)
                .await?)
        }

        /// Which of the (conversation, client message id) pairs are
        /// recorded already, in one statement.
        pub(crate) async fn known_client_messages(
            conn: &mut Conn,
            pairs: &[(&str, &str)],
        ) -> Result<Vec<(String, String)>, StoreDbError> {
            if pairs.is_empty() {
                return Ok(Vec::new());
            }
            let json: Vec<serde_json::Value> = pairs
                .iter()
                .map(|(c, m)| serde_json::json!({"c": c, "m": m}))
                .collect();
            Ok(sqlx::query_as($known_cmids)
                .bind(serde_json::to_string(&json)?)
                .fetch_all(&mut *conn)
                .await?)
        }

        /// Raises the conversation's `event_stream.wanted_seq` to `last` (the
        /// relay publishes up to there).
        pub(crate) async fn want_streamed(
            conn: &mut Conn,
            id: &str,
            last: i64,
        ) -> Result<(), StoreDbError> {
            sqlx::query(
                "INSERT INTO event_stream (conversation_id, wanted_seq) VALUES ($1, $2) \
                 ON CONFLICT (conversation_id) DO UPDATE SET wanted_seq = \
                 CASE WHEN excluded.wanted_seq > event_stream.wanted_seq \
                 THEN excluded.wanted_seq ELSE event_stream.wanted_seq END",
            )
            .bind(id)
            .bind(last)
            .execute(&mut *conn)
            .await?;
            Ok(())
        }

        /// Reserves `n` sequence numbers for each conversation in one
        /// statement; returns each found conversation's new last seq. The
        /// list travels as one JSON parameter, so the statement text never
        /// changes (prepared once, cached).
        pub(crate) async fn reserve_seqs(
            conn: &mut Conn,
            wanted: &[(&str, i64)],
            now: DateTime<Utc>,
        ) -> Result<Vec<(String, i64)>, StoreDbError> {
            if wanted.is_empty() {
                return Ok(Vec::new());
            }
            let list: Vec<serde_json::Value> = wanted
                .iter()
                .map(|(id, n)| serde_json::json!({"cid": id, "n": n}))
                .collect();
            Ok(sqlx::query_as::<_, (String, i64)>($reserve_seqs)
                .bind(serde_json::to_string(&list)?)
                .bind(now)
                .fetch_all(&mut *conn)
                .await?)
        }

        /// Inserts event rows (packs) in one statement with one JSON
        /// parameter (constant statement text).
        pub(crate) async fn insert_event_rows(
            conn: &mut Conn,
            rows: &[crate::conversations::PackRow<'_>],
            at: DateTime<Utc>,
        ) -> Result<(), StoreDbError> {
            if rows.is_empty() {
                return Ok(());
            }
            let list: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "c": r.conversation, "s": r.seq, "l": r.last_seq, "e": r.sealed, "k": r.kind,
                    })
                })
                .collect();
            sqlx::query($insert_events)
                .bind(serde_json::to_string(&list)?)
                .bind(at)
                .execute(&mut *conn)
                .await?;
            Ok(())
        }

        /// The events after `after`, in order, each with its seq (packs
        /// opened; a pack that straddles `after` yields only its later
        /// events).
        pub(crate) async fn events_after(
            conn: &mut Conn,
            k: &Crypt,
            id: &str,
            after: i64,
        ) -> Result<Vec<(i64, Event)>, StoreDbError> {
            let rows = sqlx::query_as::<_, EventRow>(
                "SELECT seq, last_seq, event FROM conversation_events \
                 WHERE conversation_id = $1 AND COALESCE(last_seq, seq) > $2 ORDER BY seq",
            )
            .bind(id)
            .bind(after)
            .fetch_all(&mut *conn)
            .await?;
            let mut out = Vec::new();
            for r in rows {
                let text = k.open("conversation_events.event", &r.event)?;
                let events = crate::conversations::unpack(r.seq, r.last_seq, &text)?;
                out.extend(events.into_iter().filter(|(seq, _)| *seq > after));
            }
            Ok(out)
        }

        /// Changes the event at `seq` in place with `change` (which says
        /// whether it changed anything) and stores its row again. False when
        /// there is no such event or `change` left it alone.
        pub(crate) async fn rewrite_event(
            conn: &mut Conn,
            k: &Crypt,
            id: &str,
            seq: i64,
            change: impl FnOnce(&mut Event) -> bool,
        ) -> Result<bool, StoreDbError> {
            let Some(row) = sqlx::query_as::<_, EventRow>(
                "SELECT seq, last_seq, event FROM conversation_events \
                 WHERE conversation_id = $1 AND seq <= $2 AND COALESCE(last_seq, seq) >= $2",
            )
            .bind(id)
            .bind(seq)
            .fetch_optional(&mut *conn)
            .await?
            else {
                return Ok(false);
            };
            let text = k.open("conversation_events.event", &row.event)?;
            let mut events: Vec<Event> = crate::conversations::unpack(row.seq, row.last_seq, &text)?
                .into_iter()
                .map(|(_, e)| e)
                .collect();
            let Some(event) = usize::try_from(seq - row.seq).ok().and_then(|i| events.get_mut(i)) else {
                return Ok(false);
            };
            if !change(event) {
                return Ok(false);
            }
            let json = match (&events[..], row.last_seq) {
                ([one], None) => serde_json::to_string(one)?,
                (all, _) => serde_json::to_string(all)?,
            };
            let done = sqlx::query(
                "UPDATE conversation_events SET event = $1 WHERE conversation_id = $2 AND seq = $3",
            )
            .bind(k.seal("conversation_events.event", &json)?)
            .bind(id)
            .bind(row.seq)
            .execute(&mut *conn)
            .await?;
            Ok(done.rows_affected() > 0)
        }

        pub(crate) async fn touch(
            conn: &mut Conn,
            id: &str,
            at: DateTime<Utc>,
        ) -> Result<bool, StoreDbError> {
            let done = sqlx::query("UPDATE conversations SET last_active_at = $2 WHERE id = $1")
                .bind(id)
                .bind(at)
                .execute(&mut *conn)
                .await?;
            Ok(done.rows_affected() > 0)
        }

        pub(crate) async fn conversation(
            conn: &mut Conn,
            id: &str,
        ) -> Result<Option<ConversationDbRow>, StoreDbError> {
            Ok(sqlx::query_as::<_, ConversationDbRow>(
                "SELECT id, token_hash, locale, channel, metadata, customer, created_at, \
                 last_active_at, last_seq FROM conversations WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?)
        }

        /// Stores the response unless one is stored already; true when stored now.
        pub(crate) async fn remember(
            conn: &mut Conn,
            k: &Crypt,
            id: &str,
            client_message_id: &str,
            seq: Option<i64>,
            response: &serde_json::Value,
            at: DateTime<Utc>,
        ) -> Result<bool, StoreDbError> {
            let done = sqlx::query(
                "INSERT INTO client_message_ids (conversation_id, client_message_id, seq, \
                 response, created_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (conversation_id, client_message_id) DO NOTHING",
            )
            .bind(id)
            .bind(client_message_id)
            .bind(seq)
            .bind(k.seal("client_message_ids.response", &serde_json::to_string(response)?)?)
            .bind(at)
            .execute(&mut *conn)
            .await?;
            Ok(done.rows_affected() > 0)
        }

        pub(crate) async fn complete_client_message(
            conn: &mut Conn,
            k: &Crypt,
            id: &str,
            client_message_id: &str,
            seq: Option<i64>,
            response: &serde_json::Value,
        ) -> Result<(), StoreDbError> {
            sqlx::query(
                "UPDATE client_message_ids SET seq = $3, response = $4 \
                 WHERE conversation_id = $1 AND client_message_id = $2",
            )
            .bind(id)
            .bind(client_message_id)
            .bind(seq)
            .bind(k.seal("client_message_ids.response", &serde_json::to_string(response)?)?)
            .execute(&mut *conn)
            .await?;
            Ok(())
        }

        pub(crate) async fn recall(
            conn: &mut Conn,
            id: &str,
            client_message_id: &str,
        ) -> Result<Option<ClientMessageRow>, StoreDbError> {
            Ok(sqlx::query_as::<_, ClientMessageRow>(
                "SELECT seq, response FROM client_message_ids \
                 WHERE conversation_id = $1 AND client_message_id = $2",
            )
            .bind(id)
            .bind(client_message_id)
            .fetch_optional(&mut *conn)
            .await?)
        }
    };
}

pub(crate) mod sqlite {
    // A write with no rows takes SQLite's (database-wide) write lock.
    backend!(
        sqlx::Sqlite,
        "UPDATE orders SET id = id WHERE 1 = 0",
        "UPDATE conversations SET last_seq = last_seq + j.n, last_active_at = $2 \
         FROM (SELECT value ->> 'cid' AS cid, value ->> 'n' AS n FROM json_each($1)) AS j \
         WHERE conversations.id = j.cid RETURNING id, last_seq",
        "INSERT INTO conversation_events (conversation_id, seq, last_seq, event, created_at, kind) \
         SELECT value ->> 'c', value ->> 's', value ->> 'l', value ->> 'e', $2, value ->> 'k' \
         FROM json_each($1)",
        // A write, so the transaction takes SQLite's write lock at once
        // (a read first would deadlock against another process's writer).
        "UPDATE conversations SET last_seq = last_seq WHERE id = $1 RETURNING last_seq",
        "UPDATE conversations SET last_seq = last_seq \
         WHERE id IN (SELECT value FROM json_each($1)) RETURNING id, last_seq",
        "SELECT conversation_id, client_message_id FROM client_message_ids \
         WHERE (conversation_id, client_message_id) IN \
         (SELECT value ->> 'c', value ->> 'm' FROM json_each($1))"
    );
}

pub(crate) mod postgres {
    // Conflicts with itself and with row updates; readers are not blocked.
    backend!(
        sqlx::Postgres,
        "LOCK TABLE orders IN SHARE ROW EXCLUSIVE MODE",
        "UPDATE conversations c SET last_seq = c.last_seq + j.n, last_active_at = $2 \
         FROM json_to_recordset($1::json) AS j(cid text, n bigint) \
         WHERE c.id = j.cid RETURNING c.id, c.last_seq",
        "INSERT INTO conversation_events (conversation_id, seq, last_seq, event, created_at, kind) \
         SELECT x.c, x.s, x.l, x.e, $2, x.k FROM json_to_recordset($1::json) \
         AS x(c text, s bigint, l bigint, e text, k text)",
        "SELECT last_seq FROM conversations WHERE id = $1 FOR UPDATE",
        "SELECT id, last_seq FROM conversations \
         WHERE id IN (SELECT json_array_elements_text($1::json)) ORDER BY id FOR UPDATE",
        "SELECT conversation_id, client_message_id FROM client_message_ids \
         WHERE (conversation_id, client_message_id) IN \
         (SELECT x.c, x.m FROM json_to_recordset($1::json) AS x(c text, m text))"
    );
}
