//! The store: Shopify JSON loading, the demo store, lookups and actions.

use chrono::{DateTime, Utc};
use wismo_core::store::memory::{demo_now, InMemoryStore, LoadError};
use wismo_core::store::{
    Address, FinancialStatus, FulfillmentStatus, Order, OrderService, ShipmentStatus, StoreError,
};

fn demo() -> InMemoryStore {
    match InMemoryStore::demo() {
        Ok(s) => s,
        Err(e) => panic!("demo store must load: {e}"),
    }
}

fn order(store: &InMemoryStore, number: &str) -> Order {
    match store.find_order(number) {
        Ok(Some(o)) => o,
        other => panic!("order {number}: {other:?}"),
    }
}

fn ts(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn status(o: &Order) -> Option<ShipmentStatus> {
    o.fulfillments.last().and_then(|f| f.shipment_status)
}

// ---------------------------------------------------------------------------
// The demo store
// ---------------------------------------------------------------------------

#[test]
fn demo_has_every_shopper_state() {
    let store = demo();
    let orders = store.orders();
    assert!(orders.len() >= 40, "only {} demo orders", orders.len());
    let now = demo_now();

    type Pred = fn(&Order, DateTime<Utc>) -> bool;
    let states: &[(&str, Pred)] = &[
        ("unpaid (pending)", |o, _| {
            o.financial_status == FinancialStatus::Pending && o.cancelled_at.is_none()
        }),
        ("paid, processing", |o, _| {
            o.financial_status == FinancialStatus::Paid
                && o.fulfillment_status == FulfillmentStatus::Unfulfilled
                && o.fulfillments.is_empty()
                && o.cancelled_at.is_none()
        }),
        ("partially shipped", |o, _| {
            o.fulfillment_status == FulfillmentStatus::Partial && !o.fulfillments.is_empty()
        }),
        ("label printed", |o, _| {
            status(o) == Some(ShipmentStatus::LabelPrinted)
        }),
        ("in transit", |o, now| {
            status(o) == Some(ShipmentStatus::InTransit)
                && o.fulfillments
                    .iter()
                    .any(|f| f.estimated_delivery_at.is_some_and(|e| e > now))
        }),
        ("out for delivery", |o, _| {
            status(o) == Some(ShipmentStatus::OutForDelivery)
        }),
        ("delivery attempted", |o, _| {
            status(o) == Some(ShipmentStatus::AttemptedDelivery)
        }),
        ("delayed", |o, _| status(o) == Some(ShipmentStatus::Delayed)),
        ("exception (failure)", |o, _| {
            status(o) == Some(ShipmentStatus::Failure) && o.refunds.is_empty()
        }),
        ("delivered recently", |o, now| {
            o.fulfillments
                .iter()
                .any(|f| f.delivered_at.is_some_and(|d| (now - d).num_days() < 3))
        }),
        ("delivered weeks ago", |o, now| {
            o.refunds.is_empty()
                && o.fulfillments
                    .iter()
                    .any(|f| f.delivered_at.is_some_and(|d| (now - d).num_days() > 30))
        }),
        ("cancelled", |o, _| {
            o.cancelled_at.is_some() && o.cancel_reason.is_some()
        }),
        ("refunded", |o, _| {
            o.financial_status == FinancialStatus::Refunded && !o.returned
        }),
        ("partially refunded", |o, _| {
            o.financial_status == FinancialStatus::PartiallyRefunded
        }),
        ("returned with a refund", |o, _| {
            o.returned && !o.refunds.is_empty()
        }),
        ("GB address", |o, _| country(o) == "GB"),
        ("DE address", |o, _| country(o) == "DE"),
        ("CA address", |o, _| country(o) == "CA"),
        ("ES address", |o, _| country(o) == "ES"),
    ];
    for (name, pred) in states {
        let hits: Vec<&str> = orders
            .iter()
            .filter(|o| pred(o, now))
            .map(|o| o.number.as_str())
            .collect();
        assert!(!hits.is_empty(), "no demo order is {name}");
    }

    // 1031 is the "delivered but never came" order.
    let disputed = order(&store, "1031");
    assert_eq!(status(&disputed), Some(ShipmentStatus::Delivered));
    assert!(disputed.refunds.is_empty());
}

fn country(o: &Order) -> &str {
    o.shipping_address
        .as_ref()
        .and_then(|a| a.country_code.as_deref())
        .unwrap_or("")
}

#[test]
fn demo_order_1042_is_in_transit_with_ups_for_a_repeat_customer() {
    let store = demo();
    let o = order(&store, "#1042");
    assert_eq!(o.number, "1042");
    assert_eq!(o.email.as_deref(), Some("emma.johnson@example.com"));
    let f = &o.fulfillments[0];
    assert_eq!(f.tracking_company.as_deref(), Some("UPS"));
    assert_eq!(f.shipment_status, Some(ShipmentStatus::InTransit));
    assert!(f.tracking_numbers[0].starts_with("1Z"));
    assert_eq!(
        f.tracking_urls[0],
        format!(
            "https://www.ups.com/track?tracknum={}",
            f.tracking_numbers[0]
        )
    );
    assert_eq!(f.estimated_delivery_at, Some(ts("2026-11-25T20:00:00Z")));
    assert_eq!(f.delivered_at, None);
    assert_eq!(o.line_items[0].title, "Trail Running Shoes");
    let customer = o
        .customer
        .as_ref()
        .map(|c| c.id.clone())
        .unwrap_or_default();
    let theirs = store.orders_by_customer(&customer).unwrap_or_default();
    assert!(theirs.len() >= 3, "{}", theirs.len());
}

#[test]
fn demo_has_repeat_customers_and_a_spanish_speaker() {
    let store = demo();
    let mut per_customer = std::collections::BTreeMap::<String, usize>::new();
    for o in store.orders() {
        if let Some(c) = &o.customer {
            *per_customer.entry(c.id.clone()).or_default() += 1;
        }
    }
    assert!(per_customer.values().filter(|&&n| n >= 3).count() >= 5);
    // Locale is not part of Order; the raw file carries it.
    assert!(InMemoryStore::demo_json().contains("\"customer_locale\": \"es\""));
    let sofia = store
        .orders_by_email("sofia.garcia@example.com")
        .unwrap_or_default();
    assert_eq!(sofia.len(), 3);
    assert_eq!(
        sofia[0]
            .customer
            .as_ref()
            .and_then(|c| c.first_name.clone()),
        Some("Sofía".to_string())
    );
}

#[test]
fn demo_data_is_plausible() {
    let store = demo();
    let now = demo_now();
    for o in store.orders() {
        let n: u32 = o.number.parse().unwrap_or(0);
        assert!((1001..=1060).contains(&n), "{}", o.number);
        assert!(o.created_at < now && (now - o.created_at).num_days() <= 62);
        if let Some(e) = &o.email {
            assert!(e.ends_with("example.com"), "{e}");
        }
        if let Some(phone) = o.shipping_address.as_ref().and_then(|a| a.phone.as_ref()) {
            assert!(phone.contains("555"), "{phone}");
        }
        for f in &o.fulfillments {
            assert!(f.created_at > o.created_at && f.created_at < now);
            if let Some(d) = f.delivered_at {
                assert!(d < now && d > f.created_at, "{}", o.number);
            }
            for (t, url) in f.tracking_numbers.iter().zip(&f.tracking_urls) {
                assert!(
                    url.starts_with("https://") && url.contains(t.as_str()),
                    "{url}"
                );
                assert!(
                    tracking_number_is_valid(f.tracking_company.as_deref().unwrap_or(""), t),
                    "order {}: {t} fails its check digit",
                    o.number
                );
            }
        }
    }
    // Numbers grow with time, as in Shopify.
    let orders = store.orders();
    for w in orders.windows(2) {
        assert!(w[0].created_at < w[1].created_at, "{}", w[1].number);
    }
}

/// Independent check-digit definitions (UPS 1Z, USPS IMpb, FedEx 12, DHL
/// 10 mod 7, UPU S10 for Royal Mail / Canada Post).
fn tracking_number_is_valid(carrier: &str, t: &str) -> bool {
    let digits = |s: &str| -> Option<Vec<u32>> { s.chars().map(|c| c.to_digit(10)).collect() };
    match carrier {
        "UPS" => {
            let Some(body) = t.strip_prefix("1Z") else {
                return false;
            };
            if body.len() != 16 {
                return false;
            }
            let vals: Vec<u32> = body
                .chars()
                .map(|c| c.to_digit(10).unwrap_or((c as u32).wrapping_sub(63) % 10))
                .collect();
            let sum: u32 = vals[..15]
                .iter()
                .enumerate()
                .map(|(i, v)| if i % 2 == 1 { v * 2 } else { *v })
                .sum();
            (10 - sum % 10) % 10 == vals[15]
        }
        "USPS" => {
            let Some(d) = digits(t) else { return false };
            if d.len() != 22 || !t.starts_with("94") {
                return false;
            }
            let sum: u32 = d[..21]
                .iter()
                .rev()
                .enumerate()
                .map(|(i, v)| if i % 2 == 0 { v * 3 } else { *v })
                .sum();
            (10 - sum % 10) % 10 == d[21]
        }
        "FedEx" => {
            let Some(d) = digits(t) else { return false };
            if d.len() != 12 {
                return false;
            }
            let w = [3, 1, 7];
            let sum: u32 = d[..11].iter().enumerate().map(|(i, v)| v * w[i % 3]).sum();
            sum % 11 % 10 == d[11]
        }
        "DHL Express" => {
            let Some(d) = digits(t) else { return false };
            d.len() == 10 && t[..9].parse::<u64>().map(|n| (n % 7) as u32) == Ok(d[9])
        }
        "Royal Mail" | "Canada Post" => {
            if t.len() != 13 || !t.is_ascii() {
                return false;
            }
            let Some(d) = digits(&t[2..11]) else {
                return false;
            };
            let w = [8, 6, 4, 2, 3, 5, 9, 7];
            let sum: u32 = d[..8].iter().zip(w).map(|(a, b)| a * b).sum();
            let check = match 11 - sum % 11 {
                10 => 0,
                11 => 5,
                c => c,
            };
            let suffix = if carrier == "Royal Mail" { "GB" } else { "CA" };
            check == d[8] && t.ends_with(suffix)
        }
        _ => false,
    }
}

#[test]
fn tracking_check_digits_accept_published_examples_and_reject_typos() {
    let check = |carrier: &str, t: &str, want: bool| {
        assert_eq!(tracking_number_is_valid(carrier, t), want, "{carrier} {t}");
    };
    check("UPS", "1Z999AA10123456784", true);
    check("UPS", "1Z999AA10123456785", false);
    check("FedEx", "986578788855", true);
    check("FedEx", "986578788856", false);
    check("DHL Express", "3318810025", true);
    check("DHL Express", "3318810026", false);
}

// ---------------------------------------------------------------------------
// Conversion details
// ---------------------------------------------------------------------------

#[test]
fn conversion_of_demo_orders() {
    let store = demo();
    // (number, financial, fulfillment, returned, refund amounts, total)
    let check = |n: &str,
                 fin: FinancialStatus,
                 ful: FulfillmentStatus,
                 returned: bool,
                 refunds: &[&str],
                 total: &str| {
        let o = order(&store, n);
        assert_eq!(o.financial_status, fin, "{n}");
        assert_eq!(o.fulfillment_status, ful, "{n}");
        assert_eq!(o.returned, returned, "{n}");
        let got: Vec<&str> = o.refunds.iter().map(|r| r.amount.as_str()).collect();
        assert_eq!(got, refunds, "{n}");
        assert_eq!(o.total_price, total, "{n}");
    };
    use FinancialStatus as F;
    use FulfillmentStatus as S;
    // Returned; refund paid back in two successful transactions (189.00 - 50 + 50).
    check(
        "1004",
        F::Refunded,
        S::Fulfilled,
        true,
        &["189.00"],
        "194.99",
    );
    // One failed and one successful refund transaction: only the success counts.
    check(
        "1008",
        F::PartiallyRefunded,
        S::Fulfilled,
        false,
        &["34.00"],
        "163.99",
    );
    // One of three items returned.
    check(
        "1011",
        F::PartiallyRefunded,
        S::Fulfilled,
        true,
        &["68.00"],
        "121.99",
    );
    check(
        "1006",
        F::Refunded,
        S::Fulfilled,
        false,
        &["89.99"],
        "89.99",
    );
    check(
        "1012",
        F::Refunded,
        S::Unfulfilled,
        false,
        &["104.99"],
        "104.99",
    );
    check("1019", F::Voided, S::Unfulfilled, false, &[], "54.99");
    check("1021", F::Refunded, S::Fulfilled, true, &["62.41"], "69.91");
    check("1039", F::Paid, S::Partial, false, &[], "175.99");
    check("1050", F::Pending, S::Unfulfilled, false, &[], "69.99");
    check("1051", F::Authorized, S::Unfulfilled, false, &[], "63.99");

    let o = order(&store, "1039");
    assert_eq!(o.fulfillments[0].line_items.len(), 2);
    assert_eq!(o.line_items.len(), 3);

    // A voided label fulfillment is dropped; the live one stays.
    let o = order(&store, "1047");
    assert_eq!(o.fulfillments.len(), 1);
    assert_eq!(
        o.fulfillments[0].shipment_status,
        Some(ShipmentStatus::LabelPurchased)
    );

    // Fulfilled without tracking.
    let o = order(&store, "1017");
    assert!(o.customer.is_none());
    assert!(o.fulfillments[0].tracking_numbers.is_empty());
    assert_eq!(o.fulfillments[0].shipment_status, None);

    // Mixed-case email is lower-cased; timestamps with offsets become UTC.
    let o = order(&store, "1022");
    assert_eq!(o.email.as_deref(), Some("emma.johnson@example.com"));
    let o = order(&store, "1049");
    assert_eq!(o.currency, "EUR");
    let a = o.shipping_address.unwrap_or_else(|| panic!("address"));
    assert_eq!(
        (a.zip.as_deref(), a.city.as_str(), a.name.as_deref()),
        (Some("28013"), "Madrid", Some("Sofía García"))
    );
}

// ---------------------------------------------------------------------------
// Lookups
// ---------------------------------------------------------------------------

#[test]
fn order_number_lookups() {
    let store = demo();
    let check = |query: &str, want: Option<&str>| {
        let got = store.find_order(query).map(|o| o.map(|o| o.number));
        assert_eq!(got, Ok(want.map(str::to_string)), "{query:?}");
    };
    check("1042", Some("1042"));
    check("#1042", Some("1042"));
    check("  # 1042 ", Some("1042"));
    check("##1042", Some("1042"));
    check("9999", None);
    check("", None);
    check("#", None);
    check("10 42", None);

    // Coded numbers match case-insensitively.
    let coded = InMemoryStore::from_shopify_json(
        r##"{"orders":[{"name":"#EU-1001","created_at":"2026-11-01T10:00:00Z"}]}"##,
        "coded.json",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let found = coded.find_order("#eu-1001").map(|o| o.map(|o| o.number));
    assert_eq!(found, Ok(Some("EU-1001".to_string())));
}

#[test]
fn email_and_customer_lookups_are_newest_first() {
    let store = demo();
    let check = |email: &str, want: &[&str]| {
        let got: Vec<String> = store
            .orders_by_email(email)
            .unwrap_or_default()
            .into_iter()
            .map(|o| o.number)
            .collect();
        assert_eq!(got, want, "{email:?}");
    };
    let emma = ["1048", "1042", "1036", "1022", "1011", "1001"];
    check("emma.johnson@example.com", &emma);
    check("  Emma.Johnson@EXAMPLE.com ", &emma);
    // 1023 was placed with a work email but belongs to the same customer.
    let liam = ["1050", "1046", "1035", "1023", "1013", "1002"];
    check("liam.smith@example.com", &liam);
    check("liam.smith@work.example.com", &["1023"]);
    check("jordan.lee@example.com", &["1052"]);
    check("nobody@example.com", &[]);
    check("", &[]);

    let by_customer: Vec<String> = store
        .orders_by_customer("7301000002")
        .unwrap_or_default()
        .into_iter()
        .map(|o| o.number)
        .collect();
    assert_eq!(by_customer, liam);
    assert_eq!(store.orders_by_customer(""), Ok(vec![]));
    assert_eq!(store.orders_by_customer("0"), Ok(vec![]));
}

// ---------------------------------------------------------------------------
// Actions
// ---------------------------------------------------------------------------

fn not_allowed(r: Result<Order, StoreError>) -> String {
    match r {
        Err(StoreError::NotAllowed(why)) => why,
        other => panic!("expected NotAllowed, got {other:?}"),
    }
}

#[test]
fn cancel_allowed_and_refused() {
    let store = demo();
    let now = demo_now();

    // Paid and unfulfilled: cancelled and fully refunded.
    let o = store
        .cancel_order("#1048", "changed my mind", now)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.cancelled_at, Some(now));
    assert_eq!(o.cancel_reason.as_deref(), Some("changed my mind"));
    assert_eq!(o.financial_status, FinancialStatus::Refunded);
    assert_eq!(o.refunds.len(), 1);
    assert_eq!(o.refunds[0].amount, o.total_price);
    assert_eq!(o.refunds[0].line_items.len(), o.line_items.len());
    // The change is visible to later lookups.
    assert_eq!(order(&store, "1048").cancelled_at, Some(now));

    // Unpaid: cancelled, financial status unchanged, no refund.
    let o = store
        .cancel_order("1050", "  ", now)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.financial_status, FinancialStatus::Pending);
    assert_eq!(o.cancel_reason.as_deref(), Some("customer"));
    assert!(o.refunds.is_empty());

    let check = |number: &str, want: &str| {
        let why = not_allowed(store.cancel_order(number, "customer", now));
        assert_eq!(why, want, "{number}");
    };
    check(
        "1048",
        "order #1048 was already cancelled on November 24, 2026",
    );
    check(
        "1019",
        "order #1019 was already cancelled on October 27, 2026",
    );
    check(
        "1042",
        "order #1042 has already shipped, so it can't be cancelled any more; it can be returned once it arrives",
    );
    check(
        "1039",
        "order #1039 has already been partly shipped, so it can't be cancelled any more; it can be returned once it arrives",
    );
    // A label counts as a fulfillment.
    assert!(not_allowed(store.cancel_order("1045", "x", now)).contains("already shipped"));
    assert_eq!(
        store.cancel_order("#9999", "x", now),
        Err(StoreError::NotFound("#9999".to_string()))
    );
}

fn new_address() -> Address {
    Address {
        name: Some("Emma Johnson".to_string()),
        address1: "800 NW 23rd Ave".to_string(),
        address2: None,
        city: "Portland".to_string(),
        province: Some("Oregon".to_string()),
        zip: Some("97210".to_string()),
        country: Some("United States".to_string()),
        country_code: Some("US".to_string()),
        phone: Some("+1 503-555-0199".to_string()),
    }
}

#[test]
fn change_address_allowed_and_refused() {
    let store = demo();
    let o = store
        .change_shipping_address("#1053", new_address())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        o.shipping_address.and_then(|a| a.zip),
        Some("97210".to_string())
    );
    assert_eq!(
        order(&store, "1053").shipping_address.map(|a| a.address1),
        Some("800 NW 23rd Ave".to_string())
    );

    let check = |number: &str, want: &str| {
        let why = not_allowed(store.change_shipping_address(number, new_address()));
        assert_eq!(why, want, "{number}");
    };
    check(
        "1042",
        "order #1042 has already shipped, so its shipping address can't be changed any more",
    );
    check(
        "1039",
        "order #1039 has already been partly shipped, so its shipping address can't be changed any more",
    );
    check(
        "1012",
        "order #1012 was cancelled on October 13, 2026, so its shipping address can't be changed",
    );
    let mut blank = new_address();
    blank.address1 = "   ".to_string();
    assert_eq!(
        not_allowed(store.change_shipping_address("1052", blank)),
        "the new address needs at least a street and a city"
    );
    assert_eq!(
        store.change_shipping_address("1", new_address()),
        Err(StoreError::NotFound("#1".to_string()))
    );
}

#[test]
fn cases_get_sequential_ids() {
    let store = demo();
    let now = demo_now();
    let a = store
        .open_case(
            Some("#1031"),
            "missing_package",
            "Shopper says it never came",
            now,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.id, "CASE-0001");
    assert_eq!(a.order_number.as_deref(), Some("1031"));
    assert_eq!(a.kind, "missing_package");
    let b = store
        .open_case(None, "general", "Question about gift wrap", now)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(b.id, "CASE-0002");
    assert_eq!(b.order_number, None);
    assert_eq!(
        store.open_case(Some("5555"), "damaged", "x", now),
        Err(StoreError::NotFound("#5555".to_string()))
    );
    let c = store
        .open_case(Some("1006"), "damaged", "x", now)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.id, "CASE-0003");
    assert_eq!(store.cases().len(), 3);
}

#[test]
fn unavailable_switch_fails_every_call() {
    let store = demo();
    let now = demo_now();
    store.set_unavailable(true);
    let down = |r: Result<(), StoreError>| {
        assert!(matches!(r, Err(StoreError::Unavailable(_))), "{r:?}");
    };
    down(store.find_order("1042").map(|_| ()));
    down(
        store
            .orders_by_email("emma.johnson@example.com")
            .map(|_| ()),
    );
    down(store.orders_by_customer("7301000001").map(|_| ()));
    down(store.cancel_order("1048", "x", now).map(|_| ()));
    down(
        store
            .change_shipping_address("1048", new_address())
            .map(|_| ()),
    );
    down(store.open_case(None, "general", "x", now).map(|_| ()));
    // Nothing changed while it was down.
    store.set_unavailable(false);
    assert_eq!(order(&store, "1048").cancelled_at, None);
    assert!(store.cases().is_empty());
}

// ---------------------------------------------------------------------------
// Malformed files
// ---------------------------------------------------------------------------

fn load_err(src: &str) -> LoadError {
    match InMemoryStore::from_shopify_json(src, "orders.json") {
        Err(e) => e,
        Ok(s) => panic!("expected an error, loaded {} orders", s.orders().len()),
    }
}

#[test]
fn malformed_files_report_where() {
    // (source, order index, field, message fragment, full Display)
    let check = |src: &str, index: Option<usize>, field: Option<&str>, shown: &str| {
        let e = load_err(src);
        assert_eq!(e.file, "orders.json");
        assert_eq!(e.order_index, index, "{src}");
        assert_eq!(e.field.as_deref(), field, "{src}");
        assert!(e.to_string().contains(shown), "{src}: {e}");
    };
    let ok = r##""name":"#1","created_at":"2026-11-01T10:00:00Z""##;

    check(
        "{\"orders\": [\n  {\"name\": \"#1\",\n   \"created_at\": }\n]}",
        None,
        None,
        "orders.json:3:",
    );
    check("", None, None, "orders.json:1:0: EOF while parsing");
    check("[1, 2", None, None, "orders.json:1:5");
    check(r#"{"customers": []}"#, None, None, "`orders` array");
    check(r#"{"orders": {}}"#, None, None, "`orders` is not an array");
    check("42", None, None, "`orders` array");
    check(
        &format!(r#"{{"orders":[{{{ok}}}, {{"created_at":"2026-11-01T10:00:00Z"}}]}}"#),
        Some(1),
        Some("name"),
        "orders.json: order 1, field `name`: missing order name",
    );
    check(
        r##"{"orders":[{"name":"#1"}]}"##,
        Some(0),
        Some("created_at"),
        "order 0, field `created_at`: missing creation time",
    );
    check(
        r##"{"orders":[{"name":"#1","created_at":"yesterday"}]}"##,
        Some(0),
        Some("created_at"),
        "not an RFC 3339 timestamp",
    );
    check(
        r##"{"orders":[{"name":"#","created_at":"2026-11-01T10:00:00Z"}]}"##,
        Some(0),
        Some("name"),
        "no number",
    );
    check(
        &format!(
            r#"{{"orders":[{{{ok},"line_items":[{{"title":"A","quantity":1}},{{"title":"B","quantity":"two"}}]}}]}}"#
        ),
        Some(0),
        Some("line_items[1]"),
        "invalid type",
    );
    check(
        &format!(r#"{{"orders":[{{{ok},"email":42}}]}}"#),
        Some(0),
        Some("email"),
        "invalid type",
    );
    check(
        &format!(r#"{{"orders":[{{{ok},"total_price":"12,50"}}]}}"#),
        Some(0),
        Some("total_price"),
        "not a decimal amount",
    );
    check(
        &format!(r#"{{"orders":[{{{ok},"fulfillments":[{{"delivered_at":"soon"}}]}}]}}"#),
        Some(0),
        Some("fulfillments[0].delivered_at"),
        "not an RFC 3339",
    );
    check(
        &format!(r#"{{"orders":[{{{ok},"line_items":[{{"quantity":-1,"title":"A"}}]}}]}}"#),
        Some(0),
        Some("line_items[0]"),
        "invalid value",
    );
    check(
        r#"{"orders":["nope"]}"#,
        Some(0),
        None,
        "must be a JSON object",
    );
    check(
        &format!(
            r#"{{"orders":[{{{ok},"refunds":[{{"transactions":[{{"kind":"refund","status":"success","amount":"lots"}}]}}]}}]}}"#
        ),
        Some(0),
        Some("refunds[0].transactions[0].amount"),
        "not a decimal amount",
    );
}

#[test]
fn lenient_where_shopify_is() {
    let src = r##"{"order": {
        "id": "gid-7", "name": "#77", "created_at": "2026-11-01T10:00:00-05:00",
        "email": null, "contact_email": "Buyer@Example.com",
        "financial_status": "expired", "fulfillment_status": "partial",
        "total_price": 12.5, "currency": null, "customer": null,
        "line_items": [{"id": 1, "name": "Mug - Blue", "quantity": null, "price": null}],
        "shipping_address": {"first_name": "Ana", "last_name": "Ruiz", "address1": null, "city": "Bilbao", "country_code": "es"},
        "fulfillments": [{"id": 9, "tracking_number": "X1", "tracking_numbers": null, "tracking_url": null,
                          "shipment_status": "teleported", "line_items": null}],
        "refunds": null, "tags": ["vip", "Returned, gift"], "note_attributes": null
    }}"##;
    let store = InMemoryStore::from_shopify_json(src, "one.json").unwrap_or_else(|e| panic!("{e}"));
    let o = order(&store, "77");
    assert_eq!(o.id, "gid-7");
    assert_eq!(o.email.as_deref(), Some("buyer@example.com"));
    assert_eq!(o.created_at, ts("2026-11-01T15:00:00Z"));
    assert_eq!(o.financial_status, FinancialStatus::Unknown);
    assert_eq!(o.fulfillment_status, FulfillmentStatus::Partial);
    assert_eq!(o.total_price, "12.50");
    assert_eq!(o.currency, "USD");
    assert_eq!(o.line_items[0].title, "Mug - Blue");
    assert_eq!(o.line_items[0].quantity, 1);
    assert_eq!(o.line_items[0].price, "0.00");
    let a = o
        .shipping_address
        .as_ref()
        .unwrap_or_else(|| panic!("address"));
    assert_eq!(a.name.as_deref(), Some("Ana Ruiz"));
    assert_eq!(a.address1, "");
    assert_eq!(a.country_code.as_deref(), Some("ES"));
    let f = &o.fulfillments[0];
    assert_eq!(f.tracking_numbers, vec!["X1".to_string()]);
    assert_eq!(f.shipment_status, None);
    assert_eq!(f.created_at, o.created_at);
    assert!(o.returned, "the `Returned` tag marks a return");

    // A bare array and an empty or null list are accepted too.
    for src in [
        r##"[{"name":"#5","created_at":"2026-11-01T10:00:00Z"}]"##,
        r#"{"orders": []}"#,
        r#"{"orders": null}"#,
    ] {
        assert!(
            InMemoryStore::from_shopify_json(src, "x.json").is_ok(),
            "{src}"
        );
    }
}

/// Shaped like the sample order in Shopify's REST Order docs (our own text),
/// with many fields wismo does not use; they must be ignored.
const SHOPIFY_SAMPLE: &str = r##"{
  "orders": [
    {
      "id": 450789469,
      "admin_graphql_api_id": "gid://shopify/Order/450789469",
      "app_id": null,
      "browser_ip": "0.0.0.0",
      "buyer_accepts_marketing": false,
      "cancel_reason": null,
      "cancelled_at": null,
      "cart_token": "68778783ad298f1c80c3bafcddeea02f",
      "checkout_id": 901414060,
      "client_details": {"accept_language": null, "browser_height": null, "user_agent": null},
      "closed_at": null,
      "confirmed": true,
      "contact_email": "bob.norman@mail.example.com",
      "created_at": "2008-01-10T11:00:00-05:00",
      "currency": "USD",
      "current_total_price": "10.00",
      "current_total_price_set": {"shop_money": {"amount": "10.00", "currency_code": "USD"}},
      "discount_codes": [{"code": "TENOFF", "amount": "10.00", "type": "fixed_amount"}],
      "email": "Bob.Norman@mail.example.com",
      "financial_status": "partially_refunded",
      "fulfillment_status": null,
      "gateway": "authorize_net",
      "landing_site": "http://www.example.com?source=abc",
      "name": "#1001",
      "note": null,
      "note_attributes": [{"name": "custom engraving", "value": "Happy Birthday"}],
      "number": 1,
      "order_number": 1001,
      "payment_gateway_names": ["bogus"],
      "processed_at": "2008-01-10T11:00:00-05:00",
      "subtotal_price": "597.00",
      "tags": "",
      "tax_lines": [{"price": "11.94", "rate": 0.06, "title": "State Tax"}],
      "taxes_included": false,
      "total_price": "598.94",
      "total_weight": 0,
      "updated_at": "2008-01-10T11:00:00-05:00",
      "customer": {
        "id": 207119551, "email": "bob.norman@mail.example.com", "accepts_marketing": false,
        "created_at": "2026-01-01T14:00:00-05:00", "first_name": "Bob", "last_name": "Norman",
        "orders_count": 1, "state": "disabled", "total_spent": "199.65", "tags": "",
        "default_address": {"id": 207119551, "address1": "Chestnut Street 92"}
      },
      "line_items": [
        {
          "id": 466157049, "admin_graphql_api_id": "gid://shopify/LineItem/466157049",
          "fulfillable_quantity": 0, "fulfillment_service": "manual", "fulfillment_status": null,
          "gift_card": false, "grams": 200, "name": "IPod Nano - 8gb - green",
          "price": "199.00", "price_set": {"shop_money": {"amount": "199.00", "currency_code": "USD"}},
          "product_exists": true, "product_id": 632910392,
          "properties": [{"name": "Custom Engraving Front", "value": "Happy Birthday"}],
          "quantity": 1, "requires_shipping": true, "sku": "IPOD2008GREEN", "taxable": true,
          "title": "IPod Nano - 8gb", "total_discount": "0.00", "variant_id": 39072856,
          "variant_inventory_management": "shopify", "variant_title": "green", "vendor": null,
          "tax_lines": [], "duties": [], "discount_allocations": []
        },
        {
          "id": 518995019, "name": "IPod Nano - 8gb - red", "price": "199.00", "quantity": 2,
          "sku": "IPOD2008RED", "title": "IPod Nano - 8gb", "variant_title": "red",
          "fulfillment_status": null, "grams": 200, "product_id": 632910392
        }
      ],
      "shipping_address": {
        "address1": "Chestnut Street 92", "address2": "", "city": "Louisville", "company": null,
        "country": "United States", "first_name": "Bob", "last_name": "Norman",
        "latitude": 45.41634, "longitude": -75.6868, "phone": "+1(502)-459-2181",
        "province": "Kentucky", "zip": "40202", "name": "Bob Norman",
        "country_code": "US", "province_code": "KY"
      },
      "shipping_lines": [{"id": 369256396, "carrier_identifier": null, "code": "Free Shipping", "price": "0.00", "title": "Free Shipping"}],
      "fulfillments": [
        {
          "id": 255858046, "admin_graphql_api_id": "gid://shopify/Fulfillment/255858046",
          "created_at": "2026-11-14T13:36:47-05:00", "location_id": 655441491,
          "name": "#1001.0", "order_id": 450789469,
          "origin_address": {}, "receipt": {"testcase": true, "authorization": "123456"},
          "service": "manual", "shipment_status": null, "status": "failure",
          "tracking_company": "USPS", "tracking_number": "1Z2345",
          "tracking_numbers": ["1Z2345"],
          "tracking_url": "https://tools.usps.com/go/TrackConfirmAction_input?qtc_tLabels1=1Z2345",
          "tracking_urls": ["https://tools.usps.com/go/TrackConfirmAction_input?qtc_tLabels1=1Z2345"],
          "updated_at": "2026-11-14T13:36:47-05:00",
          "line_items": [{"id": 466157049, "quantity": 1, "title": "IPod Nano - 8gb"}]
        }
      ],
      "refunds": [
        {
          "id": 509562969, "admin_graphql_api_id": "gid://shopify/Refund/509562969",
          "created_at": "2026-11-14T13:36:47-05:00", "note": "it broke during shipping",
          "order_id": 450789469, "processed_at": "2026-11-14T13:36:47-05:00",
          "restock": true, "total_duties_set": {}, "user_id": 548380009, "order_adjustments": [],
          "transactions": [
            {"id": 179259969, "admin_graphql_api_id": "gid://shopify/OrderTransaction/179259969",
             "amount": "209.00", "authorization": "authorization-key", "created_at": "2005-08-05T12:59:12-04:00",
             "currency": "USD", "device_id": null, "error_code": null, "gateway": "bogus",
             "kind": "refund", "location_id": null, "message": null, "order_id": 450789469,
             "parent_id": 801038806, "processed_at": "2005-08-05T12:59:12-04:00", "receipt": {},
             "source_name": "web", "status": "success", "test": false, "user_id": null}
          ],
          "refund_line_items": [
            {"id": 104689539, "line_item_id": 703073504, "location_id": 487838322, "quantity": 1,
             "restock_type": "legacy_restock", "subtotal": 195.66, "total_tax": 3.98,
             "line_item": {"id": 703073504}}
          ]
        }
      ]
    }
  ]
}"##;

#[test]
fn real_shaped_shopify_sample_loads_and_ignores_unknown_fields() {
    let store = InMemoryStore::from_shopify_json(SHOPIFY_SAMPLE, "sample.json")
        .unwrap_or_else(|e| panic!("{e}"));
    let o = order(&store, "#1001");
    assert_eq!(o.id, "450789469");
    assert_eq!(o.email.as_deref(), Some("bob.norman@mail.example.com"));
    assert_eq!(o.created_at, ts("2008-01-10T16:00:00Z"));
    assert_eq!(o.financial_status, FinancialStatus::PartiallyRefunded);
    assert_eq!(o.fulfillment_status, FulfillmentStatus::Unfulfilled);
    assert_eq!(o.total_price, "598.94");
    assert_eq!(
        o.customer
            .as_ref()
            .map(|c| (c.id.as_str(), c.first_name.as_deref())),
        Some(("207119551", Some("Bob")))
    );
    assert_eq!(o.line_items.len(), 2);
    assert_eq!(o.line_items[1].quantity, 2);
    assert_eq!(o.line_items[1].variant_title.as_deref(), Some("red"));
    let a = o
        .shipping_address
        .as_ref()
        .unwrap_or_else(|| panic!("address"));
    assert_eq!(
        (a.zip.as_deref(), a.address2.as_deref()),
        (Some("40202"), None)
    );
    let f = &o.fulfillments[0];
    assert_eq!(f.tracking_numbers, vec!["1Z2345".to_string()]);
    assert_eq!(f.tracking_urls.len(), 1);
    assert_eq!(f.shipment_status, None);
    assert_eq!(f.line_items, vec![("466157049".to_string(), 1)]);
    assert_eq!(o.refunds[0].amount, "209.00");
    assert_eq!(
        o.refunds[0].note.as_deref(),
        Some("it broke during shipping")
    );
    assert_eq!(o.refunds[0].line_items, vec![("703073504".to_string(), 1)]);
    assert!(!o.returned, "legacy_restock is not a return");
}

// ---------------------------------------------------------------------------
// Hostile input
// ---------------------------------------------------------------------------

#[test]
fn hostile_input_never_panics() {
    let store = demo();
    let now = demo_now();
    let long = "9".repeat(100_000);
    let nested = "[".repeat(10_000);
    let inputs = [
        "",
        " ",
        "#",
        "\u{0}",
        "\u{202e}1042",
        "١٠٤٢",
        "1042\u{301}",
        "👩‍👩‍👧‍👦",
        "e\u{301}\u{302}\u{303}",
        "\r\n\t",
        "שלום 1042",
        long.as_str(),
        "{\"orders\": [",
        "null",
        "{\"orders\": [null, 1, \"x\", [], {}]}",
        "{\"orders\": [{\"name\": \"#\u{1F600}\", \"created_at\": \"2026-11-01T10:00:00Z\", \"total_price\": \"99999999999999999999.999999\"}]}",
        "{\"orders\": [{\"name\": \"#1\", \"created_at\": \"+999999-01-01T00:00:00Z\"}]}",
        "{\"orders\": [{\"name\": \"#1\", \"created_at\": \"2026-11-01T10:00:00Z\", \"total_price\": 1e308}]}",
        nested.as_str(),
    ];
    for s in inputs {
        let _ = store.find_order(s);
        let _ = store.orders_by_email(s);
        let _ = store.orders_by_customer(s);
        let _ = store.open_case(Some(s), s, s, now);
        let _ = store.cancel_order(s, s, now);
        let _ = store.change_shipping_address(
            s,
            Address {
                name: Some(s.to_string()),
                address1: s.to_string(),
                address2: None,
                city: s.to_string(),
                province: None,
                zip: None,
                country: None,
                country_code: None,
                phone: None,
            },
        );
        if let Err(e) = InMemoryStore::from_shopify_json(s, s) {
            assert!(!e.message.is_empty());
            let _ = e.to_string();
        }
    }
    // Errors quote at most a short prefix of what they did not understand.
    let e = load_err(&format!(
        r##"{{"orders":[{{"name":"#1","created_at":"{}"}}]}}"##,
        "x".repeat(10_000)
    ));
    assert!(e.to_string().len() < 300, "{}", e.to_string().len());
}
