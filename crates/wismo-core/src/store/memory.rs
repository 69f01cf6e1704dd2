//! An in-memory [`super::OrderService`] loaded from Shopify order JSON.
