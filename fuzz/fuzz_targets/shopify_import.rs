//! The Shopify order-export parser (`wismo import`, `POST /v1/admin/import/shopify`)
//! and the webhook parser (`POST /v1/integrations/shopify/webhooks`, every
//! topic, with the mirror's merge of what it reads) on arbitrary bytes: they
//! must return orders or an error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wismo_core::store::memory::InMemoryStore;
use wismo_core::store::shopify::{self, WebhookChange, WebhookTopic};
use wismo_core::store::{mirror, Order};

/// A webhook's change merged into `base`, as the mirror does.
fn merge(base: &Order, change: WebhookChange) {
    let mut o = base.clone();
    match change {
        WebhookChange::Order { mut order, .. } => mirror::keep_newer_fulfillments(&mut order, base),
        WebhookChange::Fulfillment {
            fulfillment_id,
            fulfillment,
            ..
        } => {
            mirror::apply_fulfillment(&mut o, &fulfillment_id, fulfillment);
        }
        WebhookChange::Refund {
            refund, returned, ..
        } => {
            mirror::apply_refund(&mut o, refund, returned);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let base = InMemoryStore::demo()
        .ok()
        .and_then(|s| s.orders().into_iter().next());
    for topic in WebhookTopic::ALL {
        match shopify::parse_webhook(topic, src) {
            Ok(change) => {
                if let Some(base) = &base {
                    merge(base, change);
                }
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
    match shopify::parse_orders(src) {
        Ok(orders) => {
            // What the store does with an import: look every order up again.
            let store = InMemoryStore::new(orders.clone());
            assert_eq!(store.orders().len(), orders.len());
            for o in &orders {
                let _ = shopify::shipment_status(&o.number);
            }
        }
        Err(e) => {
            // The error renders (it is shown to the admin).
            let _ = e.to_string();
        }
    }
});
