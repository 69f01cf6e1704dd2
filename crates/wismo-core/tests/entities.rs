//! Built-in entity extraction, through the public API only.
//!
//! Expected entities are written as `"type | value | raw text"` with an
//! optional `" | start..end"` (char offsets). Values are shown compactly:
//! text values as is, tracking `NUMBER/CARRIER`, postal codes `CODE/COUNTRY`,
//! dates `YYYY-MM-DD`, money `AMOUNT CUR (MINOR)`, products by id.

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use wismo_core::nlu::entities::{
    demo_catalogue, postal::normalise_postal, Entity, EntityConfig, EntityConfigError,
    EntityExtractor, EntityValue, Expecting, ExtractionContext,
};

/// Tuesday 2026-11-24, 10:00 in New York.
fn ny() -> ExtractionContext {
    ExtractionContext {
        now: Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap(),
        tz: chrono_tz::America::New_York,
    }
}

fn at(now: DateTime<Utc>, tz: Tz) -> ExtractionContext {
    ExtractionContext { now, tz }
}

fn config() -> EntityConfig {
    EntityConfig {
        catalogue: demo_catalogue(),
        ..EntityConfig::default()
    }
}

fn show(v: &EntityValue) -> String {
    match v {
        EntityValue::Text(s) => s.clone(),
        EntityValue::Tracking { number, carrier } => {
            format!(
                "{number}/{}",
                serde_json::to_value(carrier).unwrap().as_str().unwrap()
            )
        }
        EntityValue::PostalCode { code, country } => format!("{code}/{country:?}"),
        EntityValue::Date { date } => date.to_string(),
        EntityValue::Money {
            amount,
            currency,
            minor_units,
        } => {
            format!("{amount} {currency} ({minor_units})")
        }
        EntityValue::Product { id, .. } => id.clone(),
    }
}

fn render(e: &Entity, with_span: bool) -> String {
    let base = format!("{} | {} | {}", e.kind, show(&e.value), e.text);
    if with_span {
        format!("{base} | {}..{}", e.start, e.end)
    } else {
        base
    }
}

/// Extracts with `ex`/`ctx` for the answer to `expecting` and compares
/// against `expected`, printing a diff.
fn check_expecting(
    ex: &EntityExtractor,
    ctx: &ExtractionContext,
    expecting: Expecting,
    text: &str,
    expected: &[&str],
) -> bool {
    let got = ex.extract_expecting(text, ctx, expecting);
    // invariants every result must satisfy
    let chars: Vec<char> = text.chars().collect();
    for (i, e) in got.iter().enumerate() {
        assert!(
            e.start < e.end && e.end <= chars.len(),
            "bad span in {text:?}: {e:?}"
        );
        let slice: String = chars[e.start..e.end].iter().collect();
        assert_eq!(slice, e.text, "text/span mismatch in {text:?}");
        if i > 0 {
            assert!(
                got[i - 1].end <= e.start,
                "overlap/order in {text:?}: {got:?}"
            );
        }
    }
    let rendered: Vec<String> = got
        .iter()
        .zip(expected.iter().chain(std::iter::repeat(&"")))
        .map(|(e, exp)| render(e, exp.matches(" | ").count() == 3))
        .collect();
    let ok = rendered.len() == expected.len() && rendered.iter().zip(expected).all(|(a, b)| a == b);
    if !ok {
        eprintln!("\n--- {text:?}");
        for e in expected {
            if !rendered.iter().any(|r| r == e) {
                eprintln!("  - expected: {e}");
            }
        }
        for r in &rendered {
            if !expected.iter().any(|e| e == r) {
                eprintln!("  + got:      {r}");
            }
        }
        if rendered.iter().zip(expected).any(|(a, b)| a != b) && rendered.len() == expected.len() {
            eprintln!("  (order differs) got: {rendered:?}");
        }
    }
    ok
}

fn run_table(ex: &EntityExtractor, ctx: &ExtractionContext, cases: &[(&str, &[&str])]) {
    run_table_expecting(ex, ctx, Expecting::Nothing, cases);
}

fn run_table_expecting(
    ex: &EntityExtractor,
    ctx: &ExtractionContext,
    expecting: Expecting,
    cases: &[(&str, &[&str])],
) {
    let failed = cases
        .iter()
        .filter(|(t, e)| !check_expecting(ex, ctx, expecting, t, e))
        .count();
    assert_eq!(
        failed,
        0,
        "{failed} of {} cases failed (see diff above)",
        cases.len()
    );
}

const NONE: &[&str] = &[];

/// Shopper messages, default store (US, USD, demo catalogue), New York time.
const CASES: &[(&str, &[&str])] = &[
    // ---- order numbers: explicit forms
    (
        "Where is my order #1042?",
        &["order_number | 1042 | #1042 | 18..23"],
    ),
    (
        "where is order 1042",
        &["order_number | 1042 | 1042 | 15..19"],
    ),
    (
        "order no. 1042 hasn't shipped",
        &["order_number | 1042 | 1042 | 10..14"],
    ),
    (
        "Order number: 1042",
        &["order_number | 1042 | 1042 | 14..18"],
    ),
    (
        "order #1042 still not here",
        &["order_number | 1042 | #1042 | 6..11"],
    ),
    (
        "status of ORD-2024-000123 please",
        &["order_number | ORD-2024-000123 | ORD-2024-000123 | 10..25"],
    ),
    ("my ordr 1042 is late", &["order_number | 1042 | 1042"]),
    ("oder #1042 never came", &["order_number | 1042 | #1042"]),
    (
        "Order ID: ord-2024-000123",
        &["order_number | ORD-2024-000123 | ord-2024-000123"],
    ),
    ("my order is 58213", &["order_number | 58213 | 58213"]),
    (
        "ORDER NUMBER 771234 where is it",
        &["order_number | 771234 | 771234"],
    ),
    (
        "#88812 hasn't arrived",
        &["order_number | 88812 | #88812 | 0..6"],
    ),
    (
        "orders 1042 and 1043 are both late",
        &["order_number | 1042 | 1042", "order_number | 1043 | 1043"],
    ),
    ("order # 20931", &["order_number | 20931 | # 20931"]),
    (
        "hi, order nr 4471 please check",
        &["order_number | 4471 | 4471"],
    ),
    ("order: A10425", &["order_number | A10425 | A10425"]),
    // bare numbers nobody else claims
    ("where is 1042?", &["order_number | 1042 | 1042 | 9..13"]),
    (
        "1042 hasn't arrived yet",
        &["order_number | 1042 | 1042 | 0..4"],
    ),
    (
        "can you check 558812 for me",
        &["order_number | 558812 | 558812"],
    ),
    (
        "still waiting on 123456789012",
        &["order_number | 123456789012 | 123456789012"],
    ),
    ("where is 10115", &["order_number | 10115 | 10115"]),
    (
        "I placed 90210 last week",
        &["order_number | 90210 | 90210"],
    ),
    // ---- not order numbers
    ("it's been 3 days", NONE),
    ("I bought 2 items", NONE),
    ("waited 100 days for this", NONE),
    (
        "1042 dollars is a lot",
        &["money | 1042.00 USD (104200) | 1042 dollars"],
    ),
    ("I've been a customer since 2019", NONE),
    ("I ordered it in 2024", NONE),
    ("delivery at 10:30 please", NONE),
    ("the app says v1.2.3", NONE),
    ("updated to iOS 17.4.1 and the app crashed", NONE),
    ("I need size 105", NONE),
    ("it weighs 250 g", NONE),
    ("got 120 reviews", NONE),
    ("room 204 at the front desk", NONE),
    ("ordered 12 of them", NONE),
    ("a 50% discount", NONE),
    ("it was 3-4 days late", NONE),
    ("1.5 weeks now", NONE),
    ("where's my order", NONE),
    ("order hasn't arrived", NONE),
    ("order 12 pairs of socks", &["product | APP-008 | socks"]),
    // ---- tracking numbers
    (
        "tracking 1Z999AA10123456784",
        &["tracking_number | 1Z999AA10123456784/UPS | 1Z999AA10123456784 | 9..27"],
    ),
    (
        "my ups is 1z999aa10123456784 thanks",
        &["tracking_number | 1Z999AA10123456784/UPS | 1z999aa10123456784"],
    ),
    (
        "1Z 999 AA1 01 2345 6784 is stuck",
        &["tracking_number | 1Z999AA10123456784/UPS | 1Z 999 AA1 01 2345 6784 | 0..23"],
    ),
    (
        "1Z4W8E203703167549",
        &["tracking_number | 1Z4W8E203703167549/UPS | 1Z4W8E203703167549"],
    ),
    (
        "label says 1ZA7X9360341223425.",
        &["tracking_number | 1ZA7X9360341223425/UPS | 1ZA7X9360341223425"],
    ),
    (
        "1Z879E930346834440 shows delivered",
        &["tracking_number | 1Z879E930346834440/UPS | 1Z879E930346834440"],
    ),
    ("1Z999AA10123456785 wrong check digit", NONE),
    ("abc1Z999AA10123456784", NONE),
    (
        "USPS 9400111899223855072611",
        &["tracking_number | 9400111899223855072611/USPS | 9400111899223855072611"],
    ),
    (
        "9400 1118 9922 3855 0726 11 not moving",
        &["tracking_number | 9400111899223855072611/USPS | 9400 1118 9922 3855 0726 11 | 0..27"],
    ),
    (
        "usps says 9205500000000000001237",
        &["tracking_number | 9205500000000000001237/USPS | 9205500000000000001237"],
    ),
    (
        "9400109699939938223564 delivered?",
        &["tracking_number | 9400109699939938223564/USPS | 9400109699939938223564"],
    ),
    (
        "certified mail 70190640000012345679",
        &["tracking_number | 70190640000012345679/USPS | 70190640000012345679"],
    ),
    ("9400111899223855072612 bad check", NONE),
    (
        "EA123456785US is my package",
        &["tracking_number | EA123456785US/USPS | EA123456785US | 0..13"],
    ),
    (
        "royal mail RB987654326GB",
        &["tracking_number | RB987654326GB/Post | RB987654326GB"],
    ),
    (
        "cp000012349us",
        &["tracking_number | CP000012349US/USPS | cp000012349us"],
    ),
    ("EA123456784US", NONE),
    (
        "fedex 449044304137821",
        &["tracking_number | 449044304137821/FedEx | 449044304137821"],
    ),
    (
        "123456789012343 is the number",
        &["tracking_number | 123456789012343/FedEx | 123456789012343"],
    ),
    (
        "fedex tracking 797806677146",
        &["tracking_number | 797806677146/FedEx | 797806677146"],
    ),
    (
        "FedEx 568838414941 not updated",
        &["tracking_number | 568838414941/FedEx | 568838414941"],
    ),
    (
        "9611020987654312345672",
        &["tracking_number | 9611020987654312345672/FedEx | 9611020987654312345672"],
    ),
    (
        "fedex 797806677147",
        &["order_number | 797806677147 | 797806677147"],
    ),
    (
        "where is 797806677146",
        &["order_number | 797806677146 | 797806677146"],
    ),
    (
        "order 797806677146 tracking?",
        &["order_number | 797806677146 | 797806677146"],
    ),
    (
        "DHL waybill 3318810025",
        &["tracking_number | 3318810025/DHL | 3318810025"],
    ),
    (
        "dhl 1234567891 stuck in customs",
        &["tracking_number | 1234567891/DHL | 1234567891"],
    ),
    (
        "dhl 1234567892",
        &["order_number | 1234567892 | 1234567892"],
    ),
    (
        "tracking number 4155550125",
        &["tracking_number | 4155550125/DHL | 4155550125"],
    ),
    // ---- emails
    (
        "my email is Jane.Doe@Example.com",
        &["email | jane.doe@example.com | Jane.Doe@Example.com | 12..32"],
    ),
    (
        "send it to bob+orders@shop.co.uk.",
        &["email | bob+orders@shop.co.uk | bob+orders@shop.co.uk"],
    ),
    (
        "contact: JOHN_SMITH99@GMAIL.COM",
        &["email | john_smith99@gmail.com | JOHN_SMITH99@GMAIL.COM"],
    ),
    ("email me at me@home", NONE),
    ("follow us @wismo", NONE),
    ("foo@bar..com", NONE),
    ("a@b.c", NONE),
    ("x@y.123", NONE),
    ("(john@x.com)", &["email | john@x.com | john@x.com | 1..11"]),
    // ---- phones
    (
        "call me at (415) 555-0123",
        &["phone | +14155550123 | (415) 555-0123 | 11..25"],
    ),
    (
        "my number is 415-555-0123",
        &["phone | +14155550123 | 415-555-0123"],
    ),
    (
        "415.555.0123",
        &["phone | +14155550123 | 415.555.0123 | 0..12"],
    ),
    (
        "+1 415 555 0123",
        &["phone | +14155550123 | +1 415 555 0123 | 0..15"],
    ),
    (
        "reach me on +44 20 7946 0958",
        &["phone | +442079460958 | +44 20 7946 0958"],
    ),
    (
        "+44 (0)20 7946 0958",
        &["phone | +442079460958 | +44 (0)20 7946 0958"],
    ),
    (
        "+49 30 12345678 ist meine Nummer",
        &["phone | +493012345678 | +49 30 12345678"],
    ),
    ("text 4155550123", &["phone | +14155550123 | 4155550123"]),
    (
        "1-800-555-0199 is your support line?",
        &["phone | +18005550199 | 1-800-555-0199"],
    ),
    (
        "call 4155550123 about order 1042",
        &[
            "phone | +14155550123 | 4155550123",
            "order_number | 1042 | 1042",
        ],
    ),
    (
        "order 4155550123",
        &["order_number | 4155550123 | 4155550123"],
    ),
    (
        "order 415-555-0123",
        &["phone | +14155550123 | 415-555-0123"],
    ),
    (
        "order 1042 415-555-0123",
        &[
            "order_number | 1042 | 1042",
            "phone | +14155550123 | 415-555-0123",
        ],
    ),
    ("my number 555-0123", NONE),
    ("07700 900123", NONE),
    ("call 1234567890", NONE),
    ("ship to 221 Baker Street", NONE),
    // ---- postal codes
    (
        "zip code 94105",
        &["postal_code | 94105/US | 94105 | 9..14"],
    ),
    (
        "my zip is 10001, is that covered?",
        &["postal_code | 10001/US | 10001"],
    ),
    (
        "ship to 123 Main St, Austin, TX 78701",
        &["postal_code | 78701/US | 78701"],
    ),
    (
        "Lieferung nach 10115 Berlin",
        &["postal_code | 10115/DE | 10115"],
    ),
    ("PLZ 80331", &["postal_code | 80331/DE | 80331"]),
    ("postal code 60601", &["postal_code | 60601/US | 60601"]),
    (
        "Hauptstraße 5, 04109 Leipzig",
        &["postal_code | 04109/DE | 04109"],
    ),
    (
        "my postcode is SW1A 1AA",
        &["postal_code | SW1A 1AA/GB | SW1A 1AA"],
    ),
    ("postcode sw1a1aa", &["postal_code | SW1A 1AA/GB | sw1a1aa"]),
    (
        "deliver to EC1A 1BB London",
        &["postal_code | EC1A 1BB/GB | EC1A 1BB"],
    ),
    ("M1 1AE", &["postal_code | M1 1AE/GB | M1 1AE"]),
    ("Ottawa K1A 0B1", &["postal_code | K1A 0B1/CA | K1A 0B1"]),
    ("postal code k1a0b1", &["postal_code | K1A 0B1/CA | k1a0b1"]),
    (
        "94105-1234 is my zip+4",
        &["postal_code | 94105-1234/US | 94105-1234"],
    ),
    ("is 94105 right?", &["order_number | 94105 | 94105"]),
    // lower-case, spaced UK postcodes are postcodes (issue 12)
    ("sw1a 1aa", &["postal_code | SW1A 1AA/GB | sw1a 1aa"]),
    ("selling my PS5 2TB edition", NONE),
    ("is the XY1 2AB code right", NONE),
    // ---- dates (today is Tuesday 2026-11-24 in New York)
    (
        "it was supposed to come today",
        &["date | 2026-11-24 | today"],
    ),
    ("will it arrive tonight?", &["date | 2026-11-24 | tonight"]),
    ("I ordered yesterday", &["date | 2026-11-23 | yesterday"]),
    ("can it come tomorrow", &["date | 2026-11-25 | tomorrow"]),
    (
        "ordered the day before yesterday",
        &["date | 2026-11-22 | the day before yesterday"],
    ),
    (
        "day after tomorrow works",
        &["date | 2026-11-26 | day after tomorrow"],
    ),
    ("I ordered 3 days ago", &["date | 2026-11-21 | 3 days ago"]),
    ("ordered a week ago", &["date | 2026-11-17 | a week ago"]),
    ("placed 2 weeks ago", &["date | 2026-11-10 | 2 weeks ago"]),
    ("about a month ago", &["date | 2026-10-24 | a month ago"]),
    ("it said in 3 days", &["date | 2026-11-27 | in 3 days"]),
    ("expected in 2 weeks", &["date | 2026-12-08 | in 2 weeks"]),
    (
        "I ordered last Tuesday",
        &["date | 2026-11-17 | last Tuesday"],
    ),
    ("it came last friday", &["date | 2026-11-20 | last friday"]),
    ("deliver on Tuesday", &["date | 2026-11-24 | Tuesday"]),
    ("this Friday please", &["date | 2026-11-27 | this Friday"]),
    (
        "can you deliver next Monday",
        &["date | 2026-11-30 | next Monday"],
    ),
    ("next tuesday?", &["date | 2026-12-01 | next tuesday"]),
    ("by Sunday", &["date | 2026-11-29 | Sunday"]),
    ("on sat", &["date | 2026-11-28 | sat"]),
    ("the sun is out", NONE),
    ("I ordered on Nov 3", &["date | 2026-11-03 | Nov 3"]),
    (
        "ordered November 3rd",
        &["date | 2026-11-03 | November 3rd"],
    ),
    ("bought it 3 Nov", &["date | 2026-11-03 | 3 Nov"]),
    (
        "on the 3rd of November",
        &["date | 2026-11-03 | the 3rd of November"],
    ),
    ("placed 11/03", &["date | 2026-11-03 | 11/03"]),
    ("placed 11/03/2026", &["date | 2026-11-03 | 11/03/2026"]),
    (
        "invoice dated 2026-11-03",
        &["date | 2026-11-03 | 2026-11-03"],
    ),
    ("Monday Nov 3", &["date | 2026-11-03 | Monday Nov 3"]),
    ("on Dec 2, 2025", &["date | 2025-12-02 | Dec 2, 2025"]),
    ("bought on Jan 5", &["date | 2027-01-05 | Jan 5"]),
    ("ordered June 1", &["date | 2026-06-01 | June 1"]),
    ("delivery on Feb 30?", NONE),
    ("ordered 13/45", NONE),
    ("03.11.2026 bestellt", &["date | 2026-11-03 | 03.11.2026"]),
    // ---- money
    (
        "I paid $12.50",
        &["money | 12.50 USD (1250) | $12.50 | 7..13"],
    ),
    (
        "charged 12.50 USD twice",
        &["money | 12.50 USD (1250) | 12.50 USD"],
    ),
    (
        "USD 12.50 refund",
        &["money | 12.50 USD (1250) | USD 12.50"],
    ),
    ("it cost €20", &["money | 20.00 EUR (2000) | €20 | 8..11"]),
    ("paid 20 euros", &["money | 20.00 EUR (2000) | 20 euros"]),
    ("20 EUR shipping?", &["money | 20.00 EUR (2000) | 20 EUR"]),
    ("£5.99 delivery fee", &["money | 5.99 GBP (599) | £5.99"]),
    (
        "15 bucks for shipping",
        &["money | 15.00 USD (1500) | 15 bucks"],
    ),
    (
        "the $1,299.00 laptop",
        &["money | 1299.00 USD (129900) | $1,299.00"],
    ),
    (
        "1.299,00 € zu viel",
        &["money | 1299.00 EUR (129900) | 1.299,00 €"],
    ),
    ("CA$20 extra", &["money | 20.00 CAD (2000) | CA$20"]),
    ("C$20 extra", &["money | 20.00 CAD (2000) | C$20"]),
    ("¥500 only", &["money | 500 JPY (500) | ¥500"]),
    ("refund $12.5", &["money | 12.50 USD (1250) | $12.5"]),
    ("$$$ too expensive", NONE),
    ("a few bucks", NONE),
    ("prices in USD please", NONE),
    ("¥500.50", NONE),
    // ---- products
    (
        "my slim fit jeans are too big",
        &["product | APP-002 | slim fit jeans"],
    ),
    ("the Hoodie hasn't arrived", &["product | APP-003 | Hoodie"]),
    ("where are my sneakres", &["product | SHO-002 | sneakres"]),
    (
        "noise cancelling headphones order",
        &["product | ELE-002 | noise cancelling headphones"],
    ),
    ("return the headphnes", &["product | ELE-002 | headphnes"]),
    ("I need a usb-c cable", &["product | ELE-003 | usb-c cable"]),
    ("two Coffee Mugs", &["product | HOM-001 | Coffee Mugs"]),
    ("the chelsea boot", &["product | SHO-003 | chelsea boot"]),
    ("out of stock again", NONE),
    ("I was charged twice", NONE),
    ("my phone is off", NONE),
    ("in this case", NONE),
    ("shipped from china", NONE),
    ("please cancel it", NONE),
    // ---- mixed messages
    (
        "Hi, order #1042 placed on Nov 3 for $59.99 still hasn't arrived, email jane@example.com",
        &[
            "order_number | 1042 | #1042 | 10..15",
            "date | 2026-11-03 | Nov 3 | 26..31",
            "money | 59.99 USD (5999) | $59.99 | 36..42",
            "email | jane@example.com | jane@example.com | 71..87",
        ],
    ),
    (
        "I ordered the wireless earbuds 3 days ago, tracking 1Z999AA10123456784",
        &[
            "product | ELE-001 | wireless earbuds",
            "date | 2026-11-21 | 3 days ago",
            "tracking_number | 1Z999AA10123456784/UPS | 1Z999AA10123456784",
        ],
    ),
    (
        "order 58213 to 10 Downing St, London SW1A 2AA, call +44 20 7946 0958",
        &[
            "order_number | 58213 | 58213",
            "postal_code | SW1A 2AA/GB | SW1A 2AA",
            "phone | +442079460958 | +44 20 7946 0958",
        ],
    ),
    (
        "refund of 20 EUR for the leather belt ordered yesterday",
        &[
            "money | 20.00 EUR (2000) | 20 EUR",
            "product | APP-010 | leather belt",
            "date | 2026-11-23 | yesterday",
        ],
    ),
    ("where is my stuff??", NONE),
    (
        "I have 2 orders: 1042 and 1043",
        &["order_number | 1042 | 1042", "order_number | 1043 | 1043"],
    ),
    ("back in 1999 I bought here", NONE),
    ("model 3000 please", NONE),
    ("release 10.2 broke checkout", NONE),
    ("call me at 10:30 or 11:45", NONE),
    ("it's 25 kg", NONE),
    ("3.5 stars", NONE),
    ("is $ accepted?", NONE),
    ("the 1Zoom app", NONE),
    (
        "my phone is 415-555-0123, order 1042",
        &[
            "phone | +14155550123 | 415-555-0123 | 12..24",
            "order_number | 1042 | 1042 | 32..36",
        ],
    ),
    (
        "Order 1042 arriving Friday?",
        &[
            "order_number | 1042 | 1042 | 6..10",
            "date | 2026-11-27 | Friday | 20..26",
        ],
    ),
    ("between 9 and 5", NONE),
    ("", NONE),
];

#[test]
fn shopper_messages() {
    let ex = EntityExtractor::new(&config()).unwrap();
    assert!(CASES.len() >= 150, "only {} cases", CASES.len());
    run_table(&ex, &ny(), CASES);
}

#[test]
fn time_zone_decides_the_day() {
    let ex = EntityExtractor::new(&config()).unwrap();
    // 23:30 UTC: still Tuesday 24th in New York, already Wednesday 25th in Berlin
    let now = Utc.with_ymd_and_hms(2026, 11, 24, 23, 30, 0).unwrap();
    let berlin = at(now, chrono_tz::Europe::Berlin);
    let new_york = at(now, chrono_tz::America::New_York);
    run_table(
        &ex,
        &berlin,
        &[
            ("bestellt today", &["date | 2026-11-25 | today"]),
            ("yesterday", &["date | 2026-11-24 | yesterday"]),
            ("on Wednesday", &["date | 2026-11-25 | Wednesday"]),
            ("last Wednesday", &["date | 2026-11-18 | last Wednesday"]),
            ("3 days ago", &["date | 2026-11-22 | 3 days ago"]),
        ],
    );
    run_table(
        &ex,
        &new_york,
        &[
            ("bestellt today", &["date | 2026-11-24 | today"]),
            ("yesterday", &["date | 2026-11-23 | yesterday"]),
            ("on Wednesday", &["date | 2026-11-25 | Wednesday"]),
            ("last Wednesday", &["date | 2026-11-18 | last Wednesday"]),
            ("3 days ago", &["date | 2026-11-21 | 3 days ago"]),
        ],
    );
    // just after midnight on New Year's day in Berlin, still Dec 31 in New York
    let ny_eve = Utc.with_ymd_and_hms(2026, 12, 31, 23, 15, 0).unwrap();
    run_table(
        &ex,
        &at(ny_eve, chrono_tz::Europe::Berlin),
        &[
            ("today", &["date | 2027-01-01 | today"]),
            ("Dec 31", &["date | 2026-12-31 | Dec 31"]),
        ],
    );
    run_table(
        &ex,
        &at(ny_eve, chrono_tz::America::New_York),
        &[("today", &["date | 2026-12-31 | today"])],
    );
}

#[test]
fn phone_region_from_config_or_time_zone() {
    let london = at(
        Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap(),
        chrono_tz::Europe::London,
    );
    let us = EntityExtractor::new(&config()).unwrap();
    run_table(
        &us,
        &london,
        &[
            (
                "my mobile is 07700 900123",
                &["phone | +447700900123 | 07700 900123"],
            ),
            (
                "ring 020 7946 0958",
                &["phone | +442079460958 | 020 7946 0958"],
            ),
        ],
    );
    let gb = EntityExtractor::new(&EntityConfig {
        default_phone_region: "GB".into(),
        default_currency: "GBP".into(),
        ..config()
    })
    .unwrap();
    run_table(
        &gb,
        &london,
        &[
            ("07700 900123", &["phone | +447700900123 | 07700 900123"]),
            ("07700900123", &["phone | +447700900123 | 07700900123"]),
            ("4155550123", &["order_number | 4155550123 | 4155550123"]),
            (
                "$20 or £20",
                &[
                    "money | 20.00 USD (2000) | $20",
                    "money | 20.00 GBP (2000) | £20",
                ],
            ),
        ],
    );
    let de = EntityExtractor::new(&EntityConfig {
        default_phone_region: "DE".into(),
        default_currency: "EUR".into(),
        ..config()
    })
    .unwrap();
    run_table(
        &de,
        &ny(),
        &[
            (
                "Rückruf unter 030 12345678",
                &["phone | +493012345678 | 030 12345678"],
            ),
            ("030/12345678", NONE),
            (
                "bestellt am 03.11.2026",
                &["date | 2026-11-03 | 03.11.2026"],
            ),
            (
                "Tel. 0201 1234567",
                &["phone | +492011234567 | 0201 1234567"],
            ),
            ("postcode 10115", &["postal_code | 10115/DE | 10115"]),
            ("15 bucks", &["money | 15.00 USD (1500) | 15 bucks"]),
        ],
    );
    let ca = EntityExtractor::new(&EntityConfig {
        default_phone_region: "ca".into(),
        default_currency: "cad".into(),
        ..config()
    })
    .unwrap();
    run_table(
        &ca,
        &ny(),
        &[
            ("$20", &["money | 20.00 CAD (2000) | $20"]),
            ("(604) 555-0199", &["phone | +16045550199 | (604) 555-0199"]),
        ],
    );
}

#[test]
fn store_order_patterns() {
    let ex = EntityExtractor::new(&EntityConfig {
        order_number_patterns: vec![r"\bSO-?(\d{5})\b".into(), r"\bW[0-9]{6}\b".into()],
        ..config()
    })
    .unwrap();
    run_table(
        &ex,
        &ny(),
        &[
            ("where is SO-48213", &["order_number | 48213 | 48213"]),
            ("SO48213 please", &["order_number | 48213 | 48213 | 2..7"]),
            (
                "W123456 hasn't shipped",
                &["order_number | W123456 | W123456"],
            ),
        ],
    );
}

#[test]
fn product_scores() {
    let ex = EntityExtractor::new(&config()).unwrap();
    let score = |t: &str| match ex.extract(t, &ny()).first().map(|e| e.value.clone()) {
        Some(EntityValue::Product { score, .. }) => score,
        other => panic!("no product in {t:?}: {other:?}"),
    };
    assert_eq!(score("my hoodie"), 1.0);
    assert_eq!(score("SNEAKERS"), 1.0);
    let typo = score("sneakres");
    assert!(typo > 0.5 && typo < 1.0, "{typo}");
    let names = ex.extract("a Ceramic Coffee Mug", &ny());
    assert_eq!(
        names[0].value,
        EntityValue::Product {
            id: "HOM-001".into(),
            name: "Ceramic Coffee Mug".into(),
            score: 1.0
        }
    );
    // no catalogue, no products
    let bare = EntityExtractor::new(&EntityConfig::default()).unwrap();
    assert!(bare.extract("my hoodie", &ny()).is_empty());
}

#[test]
fn demo_catalogue_parses() {
    let cat = demo_catalogue();
    assert!(cat.len() >= 30, "{}", cat.len());
    let mut ids: Vec<&str> = cat.iter().map(|p| p.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), cat.len(), "product ids are unique");
}

#[test]
fn config_errors() {
    let bad_pattern = EntityExtractor::new(&EntityConfig {
        order_number_patterns: vec!["(unclosed".into()],
        ..EntityConfig::default()
    });
    assert!(
        matches!(bad_pattern, Err(EntityConfigError::BadOrderPattern { ref pattern, .. }) if pattern == "(unclosed")
    );
    let bad_region = EntityExtractor::new(&EntityConfig {
        default_phone_region: "XX".into(),
        ..EntityConfig::default()
    });
    assert!(matches!(bad_region, Err(EntityConfigError::BadRegion(ref r)) if r == "XX"));
    let bad_currency = EntityExtractor::new(&EntityConfig {
        default_currency: "DOLLARS".into(),
        ..EntityConfig::default()
    });
    assert!(matches!(bad_currency, Err(EntityConfigError::BadCurrency(ref c)) if c == "DOLLARS"));
    let msg = bad_currency
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(msg.contains("DOLLARS"), "{msg}");
}

#[test]
fn json_shapes() {
    let ex = EntityExtractor::new(&config()).unwrap();
    let got = ex.extract(
        "order #1042, 1Z999AA10123456784, zip 94105, Nov 3, $12.50, hoodie",
        &ny(),
    );
    let json = serde_json::to_value(&got).unwrap();
    let values: Vec<String> = got
        .iter()
        .map(|e| serde_json::to_string(&e.value).unwrap())
        .collect();
    assert_eq!(
        values,
        [
            r#""1042""#,
            r#"{"number":"1Z999AA10123456784","carrier":"UPS"}"#,
            r#"{"code":"94105","country":"US"}"#,
            r#"{"date":"2026-11-03"}"#,
            r#"{"amount":"12.50","currency":"USD","minor_units":1250}"#,
            r#"{"id":"APP-003","name":"Hooded Sweatshirt","score":1.0}"#,
        ]
    );
    assert_eq!(json[0]["type"], "order_number");
    assert_eq!(json[0]["extractor"], "builtin");
    // and back
    let back: Vec<Entity> = serde_json::from_value(json).unwrap();
    assert_eq!(back.len(), got.len());
}

#[test]
fn hostile_input_never_panics() {
    let ex = EntityExtractor::new(&config()).unwrap();
    let ctx = ny();
    let long_digits = "9".repeat(10_000);
    let long_words = "order #1042 hoodie $5 ".repeat(2_000);
    let mixed = "1Z😀 +44 (0) ((( ))) 415-555-0123🙂 é@é.é #١٢٣٤ ".repeat(200);
    let inputs: Vec<String> = vec![
        String::new(),
        " ".into(),
        "\0\u{1}\u{7f}\u{1b}[31m".into(),
        "👍🏽👨‍👩‍👧‍👦 order #1042 😀".into(),
        "e\u{301}\u{301}\u{301} 1042 z\u{0336}a\u{0336}".into(),
        "שלום order 1042 مرحبا ١٢٣٤٥ \u{202e}1042\u{202c}".into(),
        "İstanbul ẞ ß ǅ 1Z999AA10123456784".into(),
        "$".into(),
        "#".into(),
        "@".into(),
        "@@@...---///:::".into(),
        "+".into(),
        "+(".into(),
        "(0)".into(),
        "1Z".into(),
        "9".into(),
        "€,".into(),
        "1.2.3.4.5.6.7.8.9.0".into(),
        "99999999999999999999999999 dollars".into(),
        "$99999999999999999999.99".into(),
        "Feb 29".into(),
        "9999-99-99 99/99/9999".into(),
        "last last last next on".into(),
        long_digits,
        long_words,
        mixed,
        "\u{FEFF}order\u{00A0}1042\u{2028}".into(),
    ];
    for s in &inputs {
        let got = ex.extract(s, &ctx);
        let n = s.chars().count();
        for e in &got {
            assert!(e.start < e.end && e.end <= n);
        }
    }
    // a few findings in the noise are still right
    let got = ex.extract("👍🏽 order #1042 😀", &ctx);
    assert_eq!(
        (got[0].start, got[0].end, got[0].text.as_str()),
        (9, 14, "#1042")
    );
}

/// `cargo test --release -p wismo-core --test entities -- --ignored --nocapture timing`
#[test]
#[ignore]
fn timing() {
    let ex = EntityExtractor::new(&config()).unwrap();
    let ctx = ny();
    let msgs = [
        "Hi, where is my order #1042? It was supposed to arrive yesterday.",
        "I ordered the wireless earbuds 3 days ago and still nothing",
        "tracking 1Z999AA10123456784 hasn't moved since Monday",
        "can you send the refund of $59.99 to jane@example.com please",
        "my phone number is (415) 555-0123 if you need to call",
        "I want to return the slim fit jeans, they are too big",
        "order number: 58213, ship to Austin, TX 78701",
        "where is my package?? this is ridiculous",
        "It's been 2 weeks and my hoodie never came",
        "Can I change the delivery address to 10 Downing St, London SW1A 2AA?",
        "hello, I need help with my order",
        "is there any discount code for the running shoes",
        "order ORD-2024-000123 shows delivered but I didn't get it",
        "USPS 9400111899223855072611 stuck in transit for 5 days",
        "I was charged twice, 20 EUR each time",
        "Will it arrive by Friday? I need it for Nov 28",
        "please cancel my order, I bought the wrong size",
        "the headphnes I got are broken, want a replacement",
        "thanks for the quick help!",
        "my email changed to bob.smith@mail.com, order 1042",
    ];
    let rounds = 20_000;
    let mut sink = 0usize;
    let start = std::time::Instant::now();
    for _ in 0..rounds {
        for m in &msgs {
            sink += ex.extract(m, &ctx).len();
        }
    }
    let per = start.elapsed() / (rounds * msgs.len() as u32);
    println!("entity extraction: {per:?} per message (mean over {} messages x {rounds}), {sink} entities", msgs.len());
    let mut samples: Vec<std::time::Duration> = Vec::new();
    for m in &msgs {
        let t = std::time::Instant::now();
        for _ in 0..2_000 {
            sink += ex.extract(m, &ctx).len();
        }
        samples.push(t.elapsed() / 2_000);
    }
    samples.sort();
    assert!(sink > 0);
    println!(
        "median {:?}, max {:?} per message",
        samples[samples.len() / 2],
        samples[samples.len() - 1]
    );
}

/// Issue 12: how shoppers really write order numbers, years and postal codes.
/// Shopify numbers orders from #1001, so four-digit numbers from 1900 to 2099
/// are order numbers when the words around them ask about an order, and years
/// only when the words around them say so.
const PHRASING_CASES: &[(&str, &[&str])] = &[
    // ---- year-range numbers asked about as orders
    ("where is 1987", &["order_number | 1987 | 1987 | 9..13"]),
    ("where is 1987?", &["order_number | 1987 | 1987"]),
    ("wheres 1987", &["order_number | 1987 | 1987"]),
    ("where's 2013??", &["order_number | 2013 | 2013"]),
    (
        "status of 2013 please",
        &["order_number | 2013 | 2013 | 10..14"],
    ),
    ("status of 2013", &["order_number | 2013 | 2013"]),
    ("mi pedido 2026", &["order_number | 2026 | 2026 | 10..14"]),
    (
        "mi pedido 2026 no ha llegado",
        &["order_number | 2026 | 2026"],
    ),
    ("donde esta mi pedido 1999", &["order_number | 1999 | 1999"]),
    ("dónde está el pedido 2044", &["order_number | 2044 | 2044"]),
    (
        "tracking for 1999?",
        &["order_number | 1999 | 1999 | 13..17"],
    ),
    ("track 2001", &["order_number | 2001 | 2001"]),
    ("can u check 2015", &["order_number | 2015 | 2015"]),
    ("any update on 2023", &["order_number | 2023 | 2023"]),
    ("what about 1990?", &["order_number | 1990 | 1990"]),
    ("and 2020?", &["order_number | 2020 | 2020"]),
    ("y el 1987?", &["order_number | 1987 | 1987"]),
    ("y el 2031", &["order_number | 2031 | 2031"]),
    ("estado del 2013", &["order_number | 2013 | 2013"]),
    // "del" + a year-shaped number about an order, with no date words.
    (
        "quiero cambiar la direccion de envio del 2026",
        &["order_number | 2026 | 2026"],
    ),
    (
        "cambiar la dirección del 2031",
        &["order_number | 2031 | 2031"],
    ),
    ("seguimiento 2017", &["order_number | 2017 | 2017"]),
    ("1987 hasnt arrived", &["order_number | 1987 | 1987"]),
    ("2044 still not delivered", &["order_number | 2044 | 2044"]),
    ("is 2010 shipped yet", &["order_number | 2010 | 2010"]),
    ("package 1995 where", &["order_number | 1995 | 1995"]),
    ("my parcel is 2088", &["order_number | 2088 | 2088"]),
    ("el paquete 2002 no llega", &["order_number | 2002 | 2002"]),
    ("whats the status on 2019", &["order_number | 2019 | 2019"]),
    ("how about #1022", &["order_number | 1022 | #1022"]),
    ("what about 1022?", &["order_number | 1022 | 1022"]),
    ("and 1022?", &["order_number | 1022 | 1022"]),
    ("y el 1022?", &["order_number | 1022 | 1022"]),
    (
        "where is 1987 and 2013",
        &["order_number | 1987 | 1987", "order_number | 2013 | 2013"],
    ),
    // ---- the same numbers as years
    ("in 2019", NONE),
    ("since 2020", NONE),
    ("i ordered from you in 2019", NONE),
    ("I have been a customer since 2020", NONE),
    ("the 2025 catalogue", NONE),
    ("is the 2025 catalog out", NONE),
    ("do you still sell the 2024 collection", NONE),
    ("back in 1999", NONE),
    ("año 2024", NONE),
    ("en el 2019 compre aqui", NONE),
    ("compre desde 2018", NONE),
    ("del 2019", NONE),
    ("compre en marzo del 2025 y mi pedido no llega", NONE),
    ("el envio del 2025 fue rapido, ahora es el año", NONE),
    ("la coleccion del 2026", NONE),
    ("my 2024 order was fine", NONE),
    ("where is my 2024 order", NONE),
    ("in early 2020 i bought here", NONE),
    ("2019 was a good year", NONE),
    ("happy 2026", NONE),
    ("since 1999 we loved your store", NONE),
    ("winter 2025 sale", NONE),
    ("the 2026 model", NONE),
    ("tax year 2025", NONE),
    ("ordered march 2026", NONE),
    ("bought it in dec 2025", NONE),
    ("en enero 2026", NONE),
    ("order placed 2025 never came", NONE),
    ("i ordered december of 2025", NONE),
    ("lo compre en marzo de 2024", NONE),
    (
        "ordered on March 3, 2026",
        &["date | 2026-03-03 | March 3, 2026"],
    ),
    ("placed 03/03/2026", &["date | 2026-03-03 | 03/03/2026"]),
    ("invoice 2026-03-03", &["date | 2026-03-03 | 2026-03-03"]),
    // ---- never an amount, quantity, phone or tracking number
    ("$2013", &["money | 2013.00 USD (201300) | $2013"]),
    (
        "i paid $2013 for order 1042",
        &[
            "money | 2013.00 USD (201300) | $2013",
            "order_number | 1042 | 1042",
        ],
    ),
    ("2013 pesos", NONE),
    ("pague 2013 pesos", NONE),
    (
        "2000 dollars for this??",
        &["money | 2000.00 USD (200000) | 2000 dollars"],
    ),
    ("where are my 2000 items", NONE),
    ("i paid 2013 for it", NONE),
    ("2000 mah battery", NONE),
    ("size 2000", NONE),
    (
        "where is 2125550123",
        &["phone | +12125550123 | 2125550123"],
    ),
    // ---- explicit forms are unchanged
    ("order 2026", &["order_number | 2026 | 2026"]),
    ("#2026", &["order_number | 2026 | #2026"]),
    ("order #1987 status", &["order_number | 1987 | #1987"]),
    ("pedido #2013", &["order_number | 2013 | #2013"]),
    // ---- numbers that were order numbers before stay so
    ("where is 1042", &["order_number | 1042 | 1042"]),
    ("where is 4512", &["order_number | 4512 | 4512"]),
    ("status of 1001", &["order_number | 1001 | 1001"]),
    ("mi pedido 1055", &["order_number | 1055 | 1055"]),
    // ---- postal codes as shoppers type them
    (
        "zip 78704-1234",
        &["postal_code | 78704-1234/US | 78704-1234"],
    ),
    (
        "my zip is 78704 1234",
        &["postal_code | 78704-1234/US | 78704 1234"],
    ),
    (
        "zip: 787041234",
        &["postal_code | 78704-1234/US | 787041234"],
    ),
    ("zip 78 704", &["postal_code | 78704/US | 78 704"]),
    ("zipcode 78704", &["postal_code | 78704/US | 78704"]),
    ("postal code is 78704", &["postal_code | 78704/US | 78704"]),
    ("sw1a1aa", &["postal_code | SW1A 1AA/GB | sw1a1aa"]),
    (
        "my postcode is sw1a 1aa",
        &["postal_code | SW1A 1AA/GB | sw1a 1aa"],
    ),
    ("Sw1a 1Aa", &["postal_code | SW1A 1AA/GB | Sw1a 1Aa"]),
    ("ec1a1bb", &["postal_code | EC1A 1BB/GB | ec1a1bb"]),
    ("m1 1ae", &["postal_code | M1 1AE/GB | m1 1ae"]),
    ("its b33 8th", NONE),
    ("postcode b33 8th", &["postal_code | B33 8TH/GB | b33 8th"]),
    ("k1a0b1", &["postal_code | K1A 0B1/CA | k1a0b1"]),
    ("K1A 0B1", &["postal_code | K1A 0B1/CA | K1A 0B1"]),
    ("k1a 0b1", &["postal_code | K1A 0B1/CA | k1a 0b1"]),
    (
        "my postal code is m5v3l9",
        &["postal_code | M5V 3L9/CA | m5v3l9"],
    ),
    ("PLZ 10115", &["postal_code | 10115/DE | 10115"]),
    ("plz 80331 münchen", &["postal_code | 80331/DE | 80331"]),
    ("codigo postal 78704", &["postal_code | 78704/US | 78704"]),
    ("cp 78704", &["postal_code | 78704/US | 78704"]),
    ("c.p. 78704", &["postal_code | 78704/US | 78704"]),
    ("order 78704", &["order_number | 78704 | 78704"]),
];

#[test]
fn shopper_phrasing_of_orders_years_and_postcodes() {
    let ex = EntityExtractor::new(&config()).unwrap();
    run_table(&ex, &ny(), PHRASING_CASES);
}

/// Answers to "what's your order number?".
const ANSWERING_ORDER_NUMBER: &[(&str, &[&str])] = &[
    ("2031", &["order_number | 2031 | 2031 | 0..4"]),
    ("1987", &["order_number | 1987 | 1987"]),
    ("es el 1987", &["order_number | 1987 | 1987 | 6..10"]),
    ("1987 please", &["order_number | 1987 | 1987"]),
    ("its 2013", &["order_number | 2013 | 2013"]),
    ("it's 1999 i think", &["order_number | 1999 | 1999"]),
    ("el 2026", &["order_number | 2026 | 2026"]),
    ("numero 2000", &["order_number | 2000 | 2000"]),
    ("1042", &["order_number | 1042 | 1042"]),
    ("#2013", &["order_number | 2013 | #2013"]),
    // still never a phone, amount, quantity, tracking number or year in words
    ("415-555-0123", &["phone | +14155550123 | 415-555-0123"]),
    ("$2013", &["money | 2013.00 USD (201300) | $2013"]),
    ("2013 pesos", NONE),
    ("2 items", NONE),
    ("i ordered in 2019", NONE),
    ("since 2020", NONE),
    (
        "1Z999AA10123456784",
        &["tracking_number | 1Z999AA10123456784/UPS | 1Z999AA10123456784"],
    ),
];

#[test]
fn a_bare_number_answering_the_order_question_is_an_order_number() {
    let ex = EntityExtractor::new(&config()).unwrap();
    run_table_expecting(&ex, &ny(), Expecting::OrderNumber, ANSWERING_ORDER_NUMBER);
    // without the hint the bare year-range numbers are nothing
    for t in ["2031", "1987 please", "its 2013"] {
        assert!(ex.extract(t, &ny()).is_empty(), "{t:?} without a question");
    }
}

/// Answers to "what's the postal code on the order?".
const ANSWERING_POSTAL_CODE: &[(&str, &[&str])] = &[
    ("78704", &["postal_code | 78704/US | 78704"]),
    ("78 704", &["postal_code | 78704/US | 78 704 | 0..6"]),
    ("78704-1234", &["postal_code | 78704-1234/US | 78704-1234"]),
    ("78704 1234", &["postal_code | 78704-1234/US | 78704 1234"]),
    ("787041234", &["postal_code | 78704-1234/US | 787041234"]),
    ("its 78704", &["postal_code | 78704/US | 78704"]),
    ("sw1a1aa", &["postal_code | SW1A 1AA/GB | sw1a1aa"]),
    ("b33 8th", &["postal_code | B33 8TH/GB | b33 8th"]),
    ("k1a0b1", &["postal_code | K1A 0B1/CA | k1a0b1"]),
    // an order number said as such is still one
    ("order 78704", &["order_number | 78704 | 78704"]),
];

#[test]
fn a_bare_code_answering_the_postal_question_is_a_postal_code() {
    let ex = EntityExtractor::new(&config()).unwrap();
    run_table_expecting(&ex, &ny(), Expecting::PostalCode, ANSWERING_POSTAL_CODE);
    let plain = ex.extract("78704", &ny());
    assert_eq!(plain.len(), 1);
    assert_eq!(plain[0].kind, "order_number", "without the question");
}

#[test]
fn five_digit_codes_follow_the_store_market() {
    let mx = EntityExtractor::new(&EntityConfig {
        default_currency: "MXN".into(),
        ..EntityConfig::default()
    })
    .unwrap();
    run_table(
        &mx,
        &ny(),
        &[
            ("cp 06600", &["postal_code | 06600/MX | 06600"]),
            ("código postal 44100", &["postal_code | 44100/MX | 44100"]),
            ("mi c.p. es 64000", &["postal_code | 64000/MX | 64000"]),
            ("zip 78704", &["postal_code | 78704/US | 78704"]),
        ],
    );
    run_table_expecting(
        &mx,
        &ny(),
        Expecting::PostalCode,
        &[("06600", &["postal_code | 06600/MX | 06600"])],
    );
    let es = EntityExtractor::new(&EntityConfig {
        default_currency: "EUR".into(),
        default_phone_region: "FR".into(),
        ..EntityConfig::default()
    })
    .unwrap();
    run_table(
        &es,
        &ny(),
        &[("codigo postal 28014", &["postal_code | 28014/ES | 28014"])],
    );
}

#[test]
fn store_order_number_format_validates_candidates() {
    let four_five = EntityExtractor::new(&EntityConfig {
        order_number_format: Some(r"^\d{4,5}$".into()),
        ..config()
    })
    .unwrap();
    run_table(
        &four_five,
        &ny(),
        &[
            ("order 1042", &["order_number | 1042 | 1042"]),
            ("where is 1987", &["order_number | 1987 | 1987"]),
            ("order 123", NONE),
            ("order 1234567", NONE),
            ("#55", NONE),
            ("ORD-2024-000123", NONE),
            ("where is 12345", &["order_number | 12345 | 12345"]),
        ],
    );
    let mx = EntityExtractor::new(&EntityConfig {
        order_number_format: Some(r"^MX-\d{5}$".into()),
        ..config()
    })
    .unwrap();
    run_table(
        &mx,
        &ny(),
        &[
            ("order MX-12345", &["order_number | MX-12345 | MX-12345"]),
            (
                "order mx-12345 please",
                &["order_number | MX-12345 | mx-12345"],
            ),
            (
                "status of MX-55501",
                &["order_number | MX-55501 | MX-55501"],
            ),
            ("order 1042", NONE),
            ("where is 1987", NONE),
            ("MX-123", NONE),
        ],
    );
    run_table_expecting(
        &mx,
        &ny(),
        Expecting::OrderNumber,
        &[
            ("mx-12345", &["order_number | MX-12345 | mx-12345"]),
            ("#MX-12345.", &["order_number | MX-12345 | #MX-12345"]),
            ("1987", NONE),
        ],
    );
    // the default keeps today's shapes
    let default = EntityExtractor::new(&config()).unwrap();
    run_table(
        &default,
        &ny(),
        &[
            ("order 123", &["order_number | 123 | 123"]),
            (
                "ORD-2024-000123",
                &["order_number | ORD-2024-000123 | ORD-2024-000123"],
            ),
        ],
    );
    let bad = EntityExtractor::new(&EntityConfig {
        order_number_format: Some("(".into()),
        ..config()
    });
    assert!(matches!(bad, Err(EntityConfigError::BadOrderFormat { .. })));
}

#[test]
fn postal_codes_compare_in_canonical_form() {
    let cases: &[(Option<&str>, &str, &str)] = &[
        (Some("US"), "78704-1234", "78704"),
        (Some("US"), "78704 1234", "78704"),
        (Some("US"), "787041234", "78704"),
        (Some("US"), "78 704", "78704"),
        (Some("US"), " 78704 ", "78704"),
        (Some("United States"), "78704", "78704"),
        (None, "78704-1234", "78704"),
        (None, "78704", "78704"),
        (Some("GB"), "sw1a1aa", "SW1A1AA"),
        (Some("GB"), "SW1A 1AA", "SW1A1AA"),
        (Some("uk"), "sw1a 1aa", "SW1A1AA"),
        (None, "sw1a 1aa", "SW1A1AA"),
        (Some("CA"), "k1a0b1", "K1A0B1"),
        (Some("Canada"), "K1A 0B1", "K1A0B1"),
        (Some("DE"), "10115", "10115"),
        (Some("MX"), "06600", "06600"),
        (Some("ES"), "28014", "28014"),
        (Some("FR"), "75001", "75001"),
        (Some("NL"), "1012 ab", "1012AB"),
    ];
    for (hint, typed, want) in cases {
        assert_eq!(normalise_postal(*hint, typed), *want, "{hint:?} {typed:?}");
    }
    // what the dialogue compares: a typed code against the order's zip
    assert_eq!(
        normalise_postal(Some("US"), "78704-1234"),
        normalise_postal(Some("US"), "78704")
    );
    assert_eq!(
        normalise_postal(Some("GB"), "sw1a1aa"),
        normalise_postal(Some("GB"), "SW1A 1AA")
    );
    assert_ne!(
        normalise_postal(Some("US"), "78705"),
        normalise_postal(Some("US"), "78704")
    );
}
