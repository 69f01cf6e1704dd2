//! Orders in SQL: import from Shopify JSON, lookups and the store actions.
//!
//! The actions (cancel, change address, open a case) read the order inside a
//! transaction, apply `InMemoryStore`'s own rules to it (so refusals and
//! messages are identical), write the result back and commit.

use chrono::{DateTime, SubsecRound, Utc};
use wismo_core::store::memory::InMemoryStore;
use wismo_core::store::shopify::parse_orders;
use wismo_core::store::{Address, Case, Order, OrderService, StoreError};

use crate::backend::number_key;
use crate::{dispatch, Db, StoreDbError};

/// What an import did, counted in orders.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Orders that were not in the database.
    pub inserted: usize,
    /// Orders that were there with different data (replaced, child rows too).
    pub updated: usize,
    /// Orders already stored exactly as in the file.
    pub unchanged: usize,
}

/// A case's public id from its sequence number: `CASE-0001`.
pub(crate) fn case_id(seq: i64) -> String {
    format!("CASE-{seq:04}")
}

/// Timestamps are kept to the microsecond (PostgreSQL's precision), on
/// both dialects, so what an action returns is what a later read returns.
pub(crate) fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

pub(crate) fn order_micros(mut o: Order) -> Order {
    o.created_at = micros(o.created_at);
    o.cancelled_at = o.cancelled_at.map(micros);
    for f in &mut o.fulfillments {
        f.created_at = micros(f.created_at);
        f.updated_at = f.updated_at.map(micros);
        f.estimated_delivery_at = f.estimated_delivery_at.map(micros);
        f.delivered_at = f.delivered_at.map(micros);
    }
    for r in &mut o.refunds {
        r.created_at = micros(r.created_at);
    }
    o
}

/// PostgreSQL text cannot hold NUL: shopper-typed text that is stored gets
/// U+FFFD in its place (on both dialects, so they agree).
fn no_nul(s: &str) -> String {
    s.replace('\0', "\u{FFFD}")
}

fn address_no_nul(a: Address) -> Address {
    let opt = |o: Option<String>| o.map(|s| no_nul(&s));
    Address {
        name: opt(a.name),
        address1: no_nul(&a.address1),
        address2: opt(a.address2),
        city: no_nul(&a.city),
        province: opt(a.province),
        zip: opt(a.zip),
        country: opt(a.country),
        country_code: opt(a.country_code),
        phone: opt(a.phone),
    }
}

use wismo_core::store::memory::newest_first;

impl Db {
    /// Imports a Shopify Admin REST export (`{"orders": [...]}`, `{"order": {...}}`
    /// or a bare array).
    ///
    /// The whole file is parsed first: a broken file is rejected with
    /// [`StoreDbError::InvalidOrders`] (naming the order index and field) and
    /// nothing is written. Then every order is inserted, replaced (with all
    /// its line items, fulfillments and refunds) or left alone, in one
    /// transaction. When a number appears twice in the file the first wins.
    pub async fn import_shopify(&self, json: &str) -> Result<ImportReport, StoreDbError> {
        let parsed = parse_orders(json)?;
        let mut seen = std::collections::HashSet::new();
        let orders: Vec<Order> = parsed
            .into_iter()
            .filter(|o| seen.insert(o.number.clone()))
            .map(order_micros)
            .collect();
        let mut report = ImportReport::default();
        dispatch!(self, b, p => {
            let mut tx = p.begin().await?;
            b::lock_all(&mut tx).await?;
            for o in &orders {
                match b::load_order(&mut tx, &self.crypt, &o.number).await? {
                    Some(stored) if stored == *o => report.unchanged += 1,
                    Some(_) => {
                        b::write_order(&mut tx, &self.crypt, o).await?;
                        report.updated += 1;
                    }
                    None => {
                        b::write_order(&mut tx, &self.crypt, o).await?;
                        report.inserted += 1;
                    }
                }
            }
            tx.commit().await?;
        });
        self.orders.invalidate();
        tracing::info!(
            inserted = report.inserted,
            updated = report.updated,
            unchanged = report.unchanged,
            "orders imported"
        );
        Ok(report)
    }

    /// Imports the demo store ([`InMemoryStore::demo_json`]) when there are no
    /// orders yet; `None` when there were.
    pub async fn load_demo_if_empty(&self) -> Result<Option<ImportReport>, StoreDbError> {
        if !self.order_numbers().await?.is_empty() {
            return Ok(None);
        }
        self.import_shopify(InMemoryStore::demo_json())
            .await
            .map(Some)
    }

    /// Imports the demo store as of `now` ([`wismo_core::store::memory::demo_json_at`]:
    /// its dates moved to tell the same story on any day) when there are no
    /// orders yet; `None` when there were.
    pub async fn load_demo_at_if_empty(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        tz: chrono_tz::Tz,
    ) -> Result<Option<ImportReport>, StoreDbError> {
        if !self.order_numbers().await?.is_empty() {
            return Ok(None);
        }
        self.import_shopify(&wismo_core::store::memory::demo_json_at(now, tz))
            .await
            .map(Some)
    }

    /// Every stored order number, sorted.
    pub async fn order_numbers(&self) -> Result<Vec<String>, StoreDbError> {
        dispatch!(self, b, p => {
            let mut conn = p.acquire().await?;
            b::all_numbers(&mut conn).await
        })
    }

    /// Every case opened so far, oldest first.
    pub async fn cases(&self) -> Result<Vec<Case>, StoreDbError> {
        dispatch!(self, b, p => {
            let mut conn = p.acquire().await?;
            b::cases(&mut conn, &self.crypt).await
        })
    }

    async fn try_find_order(&self, number: &str) -> Result<Option<Order>, StoreDbError> {
        if number.contains('\0') {
            return Ok(None);
        }
        let key = number_key(number);
        let generation = self.orders.generation();
        if let Some(hit) = self.orders.get(&key, generation) {
            return Ok(hit);
        }
        let found = dispatch!(self, b, p => {
            let mut conn = p.acquire().await?;
            match b::number_for(&mut conn, number).await? {
                Some(n) => b::load_order(&mut conn, &self.crypt, &n).await?,
                None => None,
            }
        });
        self.orders.put(key, generation, found.clone());
        Ok(found)
    }

    /// The order with this number (`1042`, `#1042`, ` #eu-1001 `), if any.
    pub async fn find_order(&self, number: &str) -> Result<Option<Order>, StoreError> {
        Ok(self.try_find_order(number).await?)
    }

    async fn try_orders_by_email(&self, email: &str) -> Result<Vec<Order>, StoreDbError> {
        let key = email.trim().to_lowercase();
        if key.is_empty() || key.contains('\0') {
            return Ok(Vec::new());
        }
        let key = self.crypt.email_hash(&key);
        dispatch!(self, b, p => {
            let mut conn = p.acquire().await?;
            let mut out = Vec::new();
            for n in b::numbers_by_email(&mut conn, &key).await? {
                out.extend(b::load_order(&mut conn, &self.crypt, &n).await?);
            }
            Ok(newest_first(out))
        })
    }

    /// Orders whose email or customer email is `email` (any case), newest first.
    pub async fn orders_by_email(&self, email: &str) -> Result<Vec<Order>, StoreError> {
        Ok(self.try_orders_by_email(email).await?)
    }

    async fn try_orders_by_customer(&self, customer_id: &str) -> Result<Vec<Order>, StoreDbError> {
        let key = customer_id.trim();
        if key.is_empty() || key.contains('\0') {
            return Ok(Vec::new());
        }
        dispatch!(self, b, p => {
            let mut conn = p.acquire().await?;
            let mut out = Vec::new();
            for n in b::numbers_by_customer(&mut conn, key).await? {
                out.extend(b::load_order(&mut conn, &self.crypt, &n).await?);
            }
            Ok(newest_first(out))
        })
    }

    /// Orders of the customer with this id, newest first.
    pub async fn orders_by_customer(&self, customer_id: &str) -> Result<Vec<Order>, StoreError> {
        Ok(self.try_orders_by_customer(customer_id).await?)
    }

    /// Reads the order `number` in a transaction, lets `InMemoryStore` apply
    /// `action` to it, and stores the changed order.
    async fn change_order(
        &self,
        number: &str,
        action: impl FnOnce(&InMemoryStore) -> Result<Order, StoreError>,
    ) -> Result<Order, StoreDbError> {
        let key = number_key(number);
        if key.contains('\0') {
            return Ok(action(&InMemoryStore::default())?);
        }
        dispatch!(self, b, p => {
            let mut tx = p.begin().await?;
            b::lock_orders(&mut tx, &key).await?;
            let current = match b::number_for(&mut tx, number).await? {
                Some(n) => b::load_order(&mut tx, &self.crypt, &n).await?,
                None => None,
            };
            let changed = action(&InMemoryStore::new(current.into_iter().collect()))?;
            b::write_order(&mut tx, &self.crypt, &changed).await?;
            tx.commit().await?;
            self.orders.invalidate();
            Ok(changed)
        })
    }

    /// Cancels an order (same rules and messages as `InMemoryStore::cancel_order`).
    /// A NUL in `reason` is stored as U+FFFD (also in address fields and cases).
    pub async fn cancel_order(
        &self,
        number: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Order, StoreError> {
        Ok(self
            .change_order(number, |m| {
                m.cancel_order(number, &no_nul(reason), micros(now))
            })
            .await?)
    }

    /// Replaces the shipping address (same rules and messages as `InMemoryStore`).
    pub async fn change_shipping_address(
        &self,
        number: &str,
        address: Address,
    ) -> Result<Order, StoreError> {
        Ok(self
            .change_order(number, |m| {
                m.change_shipping_address(number, address_no_nul(address))
            })
            .await?)
    }

    async fn try_open_case(
        &self,
        order_number: Option<&str>,
        kind: &str,
        description: &str,
        now: DateTime<Utc>,
    ) -> Result<Case, StoreDbError> {
        let (kind, description) = (no_nul(kind), no_nul(description));
        let (kind, description) = (kind.as_str(), description.as_str());
        dispatch!(self, b, p => {
            let mut tx = p.begin().await?;
            b::lock_all(&mut tx).await?;
            let current = match order_number {
                Some(typed) if typed.contains('\0') => None,
                Some(typed) => match b::number_for(&mut tx, typed).await? {
                    Some(n) => b::load_order(&mut tx, &self.crypt, &n).await?,
                    None => None,
                },
                None => None,
            };
            let mem = InMemoryStore::new(current.into_iter().collect());
            let mut case = mem.open_case(order_number, kind, description, micros(now))?;
            let seq = b::insert_case(&mut tx, &self.crypt, &case).await?;
            case.id = case_id(seq);
            tx.commit().await?;
            Ok(case)
        })
    }

    /// Opens a case `CASE-0001`, `CASE-0002`, … (an order number given must exist).
    pub async fn open_case(
        &self,
        order_number: Option<&str>,
        kind: &str,
        description: &str,
        now: DateTime<Utc>,
    ) -> Result<Case, StoreError> {
        Ok(self
            .try_open_case(order_number, kind, description, now)
            .await?)
    }
}

/// How long a looked-up order is reused without reading it again. Changes
/// made through this process (imports, cancels, address changes) take effect
/// at once; changes by another process within this time, or at once when
/// that process tells this one ([`Db::on_orders_changed`],
/// [`Db::forget_cached_orders`]: the server does it through NATS).
pub const ORDER_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(2);
const ORDER_CACHE_MAX: usize = 10_000;

/// Recently looked-up orders by number key (also "no such order"), so a
/// conversation asking about its order turn after turn reads it once.
#[derive(Default)]
pub(crate) struct OrderCache {
    generation: std::sync::atomic::AtomicU64,
    entries: std::sync::Mutex<CachedOrders>,
    /// Called after this process changed orders (set once).
    changed: std::sync::OnceLock<OrdersChanged>,
}

/// What [`Db::on_orders_changed`] is given.
pub type OrdersChanged = std::sync::Arc<dyn Fn() + Send + Sync>;

impl std::fmt::Debug for OrderCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderCache")
            .field("generation", &self.generation())
            .finish_non_exhaustive()
    }
}

/// Number key → (generation read at, when read, the order or "none").
type CachedOrders = std::collections::HashMap<String, (u64, std::time::Instant, Option<Order>)>;

impl OrderCache {
    fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, CachedOrders> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, key: &str, generation: u64) -> Option<Option<Order>> {
        let entries = self.entries();
        let (g, at, order) = entries.get(key)?;
        (*g == generation && at.elapsed() < ORDER_CACHE_TTL).then(|| order.clone())
    }

    /// Stores what was read at `generation` (dropped if orders changed since).
    fn put(&self, key: String, generation: u64, order: Option<Order>) {
        if self.generation() != generation {
            return;
        }
        let mut entries = self.entries();
        if entries.len() >= ORDER_CACHE_MAX {
            entries.clear();
        }
        entries.insert(key, (generation, std::time::Instant::now(), order));
    }

    /// Forgets everything (after this process changed orders) and tells
    /// the hook, if any.
    pub(crate) fn invalidate(&self) {
        self.forget();
        if let Some(hook) = self.changed.get() {
            hook();
        }
    }

    /// Forgets everything.
    fn forget(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        self.entries().clear();
    }
}

impl Db {
    /// Calls `hook` every time this process changed orders (an import, a
    /// cancel, an address change, an erasure), after the change committed:
    /// the server uses it to tell the other instances. Set once; later
    /// calls are ignored.
    pub fn on_orders_changed(&self, hook: OrdersChanged) {
        let _ = self.orders.changed.set(hook);
    }

    /// Forgets the orders cached in this process (another process changed
    /// some).
    pub fn forget_cached_orders(&self) {
        self.orders.forget();
    }

    /// Counts how often the cache was emptied (for tests).
    pub fn order_cache_generation(&self) -> u64 {
        self.orders.generation()
    }
}
