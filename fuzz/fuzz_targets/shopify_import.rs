//! The Shopify order-export parser (`wismo import`, `POST /v1/admin/import/shopify`)
//! on arbitrary bytes: it must return orders or an error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wismo_core::store::memory::InMemoryStore;
use wismo_core::store::shopify;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
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
