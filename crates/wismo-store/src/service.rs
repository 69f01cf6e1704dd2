//! The synchronous [`OrderService`] the dialogue engine calls, over a [`Db`].

use std::future::Future;

use chrono::{DateTime, Utc};
use tokio::runtime::Handle;
use wismo_core::store::{Address, Case, Order, OrderService, StoreError};

use crate::{Db, StoreDbError};

/// [`OrderService`] over SQL: each call blocks on the stored runtime handle.
///
/// **Call it from a blocking thread** — e.g. run the engine's turn inside
/// `tokio::task::spawn_blocking`, or from a plain thread. Calling it on an
/// async worker thread panics (tokio refuses `block_on` inside a runtime) and
/// would stall the executor anyway. Database failures become
/// [`StoreError::Unavailable`]; refusals keep `InMemoryStore`'s messages.
#[derive(Debug, Clone)]
pub struct SqlOrderService {
    db: Db,
    handle: Handle,
}

impl SqlOrderService {
    pub fn new(db: Db, handle: Handle) -> SqlOrderService {
        SqlOrderService { db, handle }
    }

    /// Uses the runtime this is called from (fails outside a tokio runtime).
    pub fn on_current_runtime(db: Db) -> Result<SqlOrderService, StoreDbError> {
        let handle = Handle::try_current().map_err(|e| {
            StoreDbError::Store(StoreError::Unavailable(format!("no tokio runtime: {e}")))
        })?;
        Ok(SqlOrderService::new(db, handle))
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    fn run<T>(&self, fut: impl Future<Output = T>) -> T {
        self.handle.block_on(fut)
    }
}

impl OrderService for SqlOrderService {
    fn find_order(&self, number: &str) -> Result<Option<Order>, StoreError> {
        self.run(self.db.find_order(number))
    }

    fn orders_by_email(&self, email: &str) -> Result<Vec<Order>, StoreError> {
        self.run(self.db.orders_by_email(email))
    }

    fn orders_by_customer(&self, customer_id: &str) -> Result<Vec<Order>, StoreError> {
        self.run(self.db.orders_by_customer(customer_id))
    }

    fn cancel_order(
        &self,
        number: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Order, StoreError> {
        self.run(self.db.cancel_order(number, reason, now))
    }

    fn change_shipping_address(&self, number: &str, address: Address) -> Result<Order, StoreError> {
        self.run(self.db.change_shipping_address(number, address))
    }

    fn open_case(
        &self,
        order_number: Option<&str>,
        kind: &str,
        description: &str,
        now: DateTime<Utc>,
    ) -> Result<Case, StoreError> {
        self.run(self.db.open_case(order_number, kind, description, now))
    }
}
