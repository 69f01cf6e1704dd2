//! The knowledge base as the dialogue engine uses it: which article answers a
//! shopper's question (or that none does), the passage they are shown, folders
//! of articles, locales, and hostile input.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

use wismo_core::knowledge::{Answer, KnowledgeBase};

fn kb() -> &'static KnowledgeBase {
    static KB: OnceLock<KnowledgeBase> = OnceLock::new();
    KB.get_or_init(KnowledgeBase::builtin)
}

/// Asks the built-in knowledge base and checks which article answers (or that
/// it declines); on failure shows the ranking to make tuning easy.
fn check(question: &str, locale: &str, expected: Option<&str>) -> Option<Answer> {
    verdict(question, locale, expected).unwrap_or_else(|e| panic!("{e}"))
}

/// What [`check`] checks, as a `Result` so a table can report every miss.
fn verdict(question: &str, locale: &str, expected: Option<&str>) -> Result<Option<Answer>, String> {
    let got = kb().answer(question, locale);
    if got.as_ref().map(|a| a.article_id.as_str()) == expected {
        return Ok(got);
    }
    let ranking: Vec<String> = kb()
        .search(question, locale, 3)
        .iter()
        .map(|a| {
            format!(
                "{} {:.3} {:?}",
                a.article_id,
                a.score,
                first_words(&a.passage)
            )
        })
        .collect();
    Err(format!(
        "{question:?} ({locale}): expected {expected:?}, got {:?}; ranking: {ranking:?}",
        got.map(|a| a.article_id)
    ))
}

fn first_words(s: &str) -> String {
    s.split_whitespace().take(6).collect::<Vec<_>>().join(" ")
}

#[test]
fn questions_are_answered_from_the_right_article_or_declined() {
    let table: &[(&str, &str, Option<&str>)] = &[
        // English: returns.
        ("how long do refunds take", "en", Some("returns")),
        ("when will I get my money back", "en", Some("returns")),
        ("what is your return policy?", "en", Some("returns")),
        ("retunr policy", "en", Some("returns")),
        ("How do I start a return", "en", Some("returns")),
        (
            "can I exchange it for a different size",
            "en",
            Some("returns"),
        ),
        ("can I return a final sale item", "en", Some("returns")),
        (
            "do I have to pay for return shipping",
            "en",
            Some("returns"),
        ),
        ("my item arrived damaged", "en", Some("returns")),
        // English: international.
        ("do you ship to canada", "en", Some("international")),
        ("Do you ship to Japan?", "en", Some("international")),
        ("do you ship internationally", "en", Some("international")),
        (
            "will I have to pay customs duties",
            "en",
            Some("international"),
        ),
        (
            "my package is stuck in customs",
            "en",
            Some("international"),
        ),
        // English: shipping.
        ("how much is shipping", "en", Some("shipping")),
        ("is shipping free", "en", Some("shipping")),
        ("how long does delivery take", "en", Some("shipping")),
        ("which carriers do you use", "en", Some("shipping")),
        ("how can I track my package", "en", Some("shipping")),
        ("do you deliver to PO boxes", "en", Some("shipping")),
        // English: payments.
        ("can I pay with paypal", "en", Some("payments")),
        ("paypl", "en", Some("payments")),
        ("do you take Apple Pay?", "en", Some("payments")),
        ("my card was declined", "en", Some("payments")),
        ("I was charged twice!!", "en", Some("payments")),
        ("how do I use a discount code", "en", Some("payments")),
        ("do gift cards expire", "en", Some("payments")),
        // English: contact.
        ("what are your opening hours", "en", Some("contact")),
        ("what is your phone number", "en", Some("contact")),
        ("what is your postal address", "en", Some("contact")),
        // English: orders.
        ("can I cancel my order", "en", Some("orders")),
        ("how do I change my shipping address", "en", Some("orders")),
        (
            "I didn't get an order confirmation email",
            "en",
            Some("orders"),
        ),
        ("my package was stolen", "en", Some("orders")),
        ("my parcel never arrived", "en", Some("orders")),
        ("an item is missing from my package", "en", Some("orders")),
        // English: nothing to say.
        ("what's the weather in paris", "en", None),
        ("tell me a joke", "en", None),
        ("asdfgh", "en", None),
        ("who won the world cup", "en", None),
        ("what is the meaning of life", "en", None),
        ("recommend me a good movie", "en", None),
        ("what is the capital of france", "en", None),
        ("how do I cook pasta", "en", None),
        ("hello", "en", None),
        ("thanks!", "en", None),
        ("", "en", None),
        // Spanish.
        ("¿cuánto tarda el reembolso?", "es", Some("returns")),
        ("¿Puedo devolver un artículo?", "es", Some("returns")),
        ("politica de devoluciones", "es", Some("returns")),
        ("devolucoin", "es", Some("returns")),
        ("¿hacéis envíos a Canadá?", "es", Some("international")),
        (
            "¿tengo que pagar aranceles de aduana?",
            "es",
            Some("international"),
        ),
        ("¿cuánto cuesta el envío?", "es", Some("shipping")),
        ("seguimiento de mi paquete", "es", Some("shipping")),
        ("¿puedo pagar con PayPal?", "es", Some("payments")),
        ("tengo un cobro duplicado", "es", Some("payments")),
        ("me han cobrado dos veces", "es", Some("payments")),
        (
            "¿cuál es vuestro horario de atención?",
            "es",
            Some("contact"),
        ),
        ("quiero cancelar mi pedido", "es", Some("orders")),
        ("cambiar la dirección de envío", "es", Some("orders")),
        ("¿qué tiempo hace en Madrid?", "es", None),
        ("cuéntame un chiste", "es", None),
        ("¿quién ganó el mundial?", "es", None),
        ("receta de paella", "es", None),
    ];
    assert!(table.len() >= 40);
    let misses: Vec<String> = table
        .iter()
        .filter_map(|&(q, locale, expected)| verdict(q, locale, expected).err())
        .collect();
    assert!(
        misses.is_empty(),
        "{} of {}:\n{}",
        misses.len(),
        table.len(),
        misses.join("\n")
    );
}

#[test]
fn the_passage_carries_the_key_fact() {
    for (question, locale, article, fact) in [
        (
            "how long do refunds take",
            "en",
            "returns",
            "5 to 10 business days",
        ),
        ("what is your return policy?", "en", "returns", "30 days"),
        (
            "I was charged twice",
            "en",
            "payments",
            "pending authorisation",
        ),
        (
            "what are your opening hours",
            "en",
            "contact",
            "9 am to 6 pm",
        ),
        ("can I cancel my order", "en", "orders", "until it ships"),
        (
            "is it safe to share my card number in chat",
            "en",
            "payments",
            "Never share",
        ),
        (
            "¿cuánto tarda el reembolso?",
            "es",
            "returns",
            "5 a 10 días hábiles",
        ),
        ("política de devoluciones", "es", "returns", "30 días"),
    ] {
        let a = check(question, locale, Some(article)).unwrap_or_else(|| unreachable!());
        assert!(a.passage.contains(fact), "{question:?}: {:?}", a.passage);
        assert!(!a.passage.starts_with('#'), "{:?}", a.passage);
        assert!(a.score > 0.0 && a.score < 1.0, "{}", a.score);
    }
    let a = check("retunr policy", "en", Some("returns")).unwrap_or_else(|| unreachable!());
    assert_eq!(a.title, "Returns and refunds");
    assert!(a.passage.contains("30 days"), "{:?}", a.passage);
}

#[test]
fn builtin_has_the_same_articles_in_english_and_spanish() {
    let ids = [
        "shipping",
        "returns",
        "payments",
        "international",
        "contact",
        "orders",
    ];
    assert_eq!(kb().locales(), ["en", "es"]);
    assert_eq!(kb().article_ids("en"), ids);
    assert_eq!(kb().article_ids("es"), ids);
}

#[test]
fn locales_fall_back_to_the_language_then_to_english() {
    assert_eq!(kb().resolve_locale("es-MX"), Some("es"));
    assert_eq!(kb().resolve_locale("ES_es"), Some("es"));
    assert_eq!(kb().resolve_locale("fr"), Some("en"));
    assert_eq!(kb().resolve_locale(""), Some("en"));
    check("¿cuánto tarda el reembolso?", "es-MX", Some("returns"));
    let a = check("do you ship to canada", "fr", Some("international"));
    assert_eq!(
        a.map(|a| a.title),
        Some("International shipping".to_string())
    );
    assert_eq!(KnowledgeBase::default().answer("refund", "en"), None);
    assert_eq!(KnowledgeBase::default().resolve_locale("en"), None);
}

#[test]
fn search_ranks_candidates_even_when_answer_declines() {
    let hits = kb().search("refund weather", "en", 3);
    assert_eq!(hits.len(), 3);
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    assert_eq!(hits[0].article_id, "returns");
    check("refund weather", "en", None);
    assert!(kb().search("asdfgh", "en", 5).is_empty());
    assert!(kb().search("refund", "en", 0).is_empty());
}

/// A fresh folder under the target directory's temp area.
fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("knowledge-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

fn write(path: &Path, bytes: &[u8]) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
    }
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

const WARRANTY: &[u8] =
    b"# Warranty\n\n## Coverage\nEvery blender has a two year warranty against defects.\n";

#[test]
fn from_dir_reads_locale_folders() {
    let dir = temp_dir("locales");
    write(&dir.join("en/warranty.md"), WARRANTY);
    write(
        &dir.join("de/garantie.md"),
        "# Garantie\n\n## Umfang\nJeder Mixer hat zwei Jahre Garantie.\n".as_bytes(),
    );
    write(&dir.join("en/logo.png"), b"\x89PNG not an article");
    write(&dir.join("images/logo.md"), b"not a locale folder");
    let kb = KnowledgeBase::from_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(kb.locales(), ["de", "en"]);
    let a = kb.answer("is there a warranty on blenders?", "en");
    assert_eq!(
        a.map(|a| (a.article_id, a.title, a.passage)),
        Some((
            "warranty".to_string(),
            "Warranty".to_string(),
            "Every blender has a two year warranty against defects.".to_string()
        ))
    );
    assert_eq!(
        kb.answer("Mixer Garantie?", "de-AT").map(|a| a.article_id),
        Some("garantie".to_string())
    );
    assert_eq!(kb.answer("what's the weather in paris", "en"), None);
}

#[test]
fn from_dir_reads_a_flat_folder_as_english() {
    let dir = temp_dir("flat");
    write(&dir.join("warranty.md"), WARRANTY);
    let kb = KnowledgeBase::from_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(kb.locales(), ["en"]);
    assert_eq!(
        kb.answer("warranty for my blender", "es")
            .map(|a| a.article_id),
        Some("warranty".to_string())
    );
}

#[test]
fn from_dir_errors_name_the_file() {
    for (name, file, bytes, message) in [
        ("empty-title", "en/faq.md", &b"\n#\nB\n"[..], "title"),
        (
            "front-matter",
            "en/faq.md",
            &b"---\ntitle: FAQ\n"[..],
            "front matter",
        ),
        (
            "html-without-text",
            "en/faq.html",
            &b"<html><script>var a = '<p>x</p>';</script><p> &nbsp; </p>"[..],
            "no text",
        ),
        ("empty", "en/faq.txt", &b"  \n"[..], "empty"),
        (
            "too-large",
            "en/faq.txt",
            "Big. ".repeat(300_000).as_bytes(),
            "larger than",
        ),
        ("latin1", "en/faq.md", &b"# Caf\xe9\n## A\nB\n"[..], "UTF-8"),
        ("no-text", "faq.md", &b"# FAQ\n"[..], "no text"),
    ] {
        let dir = temp_dir(name);
        write(&dir.join(file.replace("faq", "a_good_one")), WARRANTY);
        write(&dir.join(file), bytes);
        let err = KnowledgeBase::from_dir(&dir).map(|_| ()).unwrap_err();
        assert!(
            err.path.ends_with(file.rsplit('/').next().unwrap_or(file)),
            "{name}: {err}"
        );
        assert!(err.message.contains(message), "{name}: {err}");
    }
    // Lines are named where there is one.
    let dir = temp_dir("lines");
    write(&dir.join("en/faq.md"), b"\n\n#\ntext\n");
    let err = KnowledgeBase::from_dir(&dir).map(|_| ()).unwrap_err();
    assert_eq!(err.line, Some(3), "{err}");
    assert!(err.to_string().contains("faq.md:3: "), "{err}");
    write(
        &dir.join("en/faq.md"),
        b"# Caf\xc3\xa9\n\nok\nstill \xe9 bad\n",
    );
    let err = KnowledgeBase::from_dir(&dir).map(|_| ()).unwrap_err();
    assert_eq!(
        (err.line, err.message.contains("UTF-8")),
        (Some(4), true),
        "{err}"
    );
    // Two files for one article id.
    let dir = temp_dir("duplicate");
    write(&dir.join("en/returns.md"), WARRANTY);
    write(&dir.join("en/returns.txt"), b"Fourteen days.");
    let err = KnowledgeBase::from_dir(&dir).map(|_| ()).unwrap_err();
    assert!(err.message.contains("same name: returns.md"), "{err}");
    let missing = temp_dir("missing").join("nope");
    let err = KnowledgeBase::from_dir(&missing).map(|_| ()).unwrap_err();
    assert!(err.path.ends_with("nope"), "{err}");
    let empty = temp_dir("no-articles");
    let err = KnowledgeBase::from_dir(&empty).map(|_| ()).unwrap_err();
    assert!(err.message.contains("no articles"), "{err}");
}

#[test]
fn hostile_input_never_panics() {
    let long_word = "a".repeat(100_000);
    let many_words = "refund shipping ".repeat(20_000);
    let inputs = [
        "",
        " ",
        "\0\u{1}\u{7f}\n\t",
        "😡😡📦💳",
        "e\u{301}\u{301}\u{301}\u{302}",
        "\u{202e}دفع المبلغ مرتين\u{202c}",
        "退款需要多长时间",
        "ﷺ",
        "\u{FEFF}retunr",
        "'''''``",
        long_word.as_str(),
        many_words.as_str(),
    ];
    for q in inputs {
        for locale in ["en", "es", "", "zz-ZZ-ZZ", "\u{0}é"] {
            let _ = kb().answer(q, locale);
            let _ = kb().search(q, locale, 100);
        }
    }
    assert_eq!(kb().answer(&long_word, "en"), None);
    assert_eq!(
        kb().answer(&many_words, "en")
            .map(|a| a.article_id.is_empty()),
        Some(false)
    );
}

/// `cargo test --release -p wismo-core --test knowledge -- --ignored --nocapture`
#[test]
#[ignore]
fn timing() {
    let questions = [
        "how long do refunds take",
        "do you ship to canada",
        "retunr policy",
        "what's the weather in paris",
        "¿cuánto tarda el reembolso?",
    ];
    let start = Instant::now();
    let built = KnowledgeBase::builtin();
    let build = start.elapsed();
    let rounds = 20_000;
    let start = Instant::now();
    let mut answered = 0;
    for i in 0..rounds {
        let q = questions[i % questions.len()];
        let locale = if q.starts_with('¿') { "es" } else { "en" };
        answered += usize::from(built.answer(q, locale).is_some());
    }
    let per = start.elapsed().as_secs_f64() * 1e6 / rounds as f64;
    println!("builtin(): {build:?}; answer(): {per:.2} µs per question ({answered} answered)");
    assert_eq!(answered, rounds / questions.len() * 4);
}

/// Pages as real stores write them: no headings at all, plain text, or HTML.
#[test]
fn plain_paragraph_pages_answer_with_the_right_paragraph() {
    let dir = temp_dir("plain-paragraphs");
    write(
        &dir.join("en/shipping.md"),
        b"Orders leave our warehouse within two working days.\n\n\
          We also deliver to Canada and Mexico. Delivery there takes 6 to 9 days and costs $19.\n\n\
          Tracking links are emailed as soon as the parcel is scanned.\n",
    );
    write(
        &dir.join("en/returns.txt"),
        b"You can send items back within 21 days of delivery, unworn and with tags.\n\n\
          Refunds reach your card about a week after we receive the parcel.\n",
    );
    write(
        &dir.join("es/envios.html"),
        "<h1>Env&iacute;os</h1><p>Los pedidos salen del almac&eacute;n en 24 horas.</p>\
         <p>Enviamos a toda Espa&ntilde;a peninsular por 3,90&nbsp;&euro;; a Baleares por 7&nbsp;&euro;.</p>\
         <p>Recibir&aacute;s un correo con el seguimiento.</p>"
            .as_bytes(),
    );
    let kb = KnowledgeBase::from_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
    for (question, locale, article, passage) in [
        (
            "do you ship to Canada?",
            "en",
            "shipping",
            "We also deliver to Canada and Mexico. Delivery there takes 6 to 9 days and costs $19.",
        ),
        (
            "how long do I have to return something?",
            "en",
            "returns",
            "You can send items back within 21 days of delivery, unworn and with tags.",
        ),
        (
            "¿hacen envíos a España?",
            "es",
            "envios",
            "Enviamos a toda España peninsular por 3,90 €; a Baleares por 7 €.",
        ),
    ] {
        let got = kb
            .answer(question, locale)
            .map(|a| (a.article_id, a.passage));
        assert_eq!(
            got,
            Some((article.to_string(), passage.to_string())),
            "{question:?}: {:?}",
            kb.search(question, locale, 3)
        );
    }
    assert_eq!(
        kb.answer("returns", "en").map(|a| a.title),
        Some("Returns".to_string())
    );
    assert_eq!(kb.answer("what's the weather in paris", "en"), None);
    assert_eq!(kb.answer("receta de paella", "es"), None);
}

#[test]
fn long_paragraphs_are_answered_with_whole_sentences() {
    let dir = temp_dir("long-paragraph");
    write(
        &dir.join("en/policies.txt"),
        b"We are a family business founded in 1998 and we love the outdoors. \
          Our team tests every product on real trips before we sell it. \
          Orders are packed by hand in Portland. \
          Returns are accepted within 14 days of delivery when items are unused. \
          Gift cards are valid forever. \
          Our newsletter goes out every Friday with new arrivals.\n",
    );
    let kb = KnowledgeBase::from_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
    let a = kb
        .answer("within how many days can I return items", "en")
        .unwrap_or_else(|| panic!("{:?}", kb.search("return items", "en", 3)));
    assert!(a.passage.contains("within 14 days"), "{a:?}");
    // A window of whole sentences, not the whole paragraph, not cut.
    assert!(a.passage.len() < 250, "{a:?}");
    assert!(a.passage.ends_with('.'), "{a:?}");
    assert!(a.passage.starts_with(char::is_uppercase), "{a:?}");
    assert_eq!(a.title, "Policies");
}

fn eval_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/knowledge-eval")
}

struct EvalRow {
    locale: String,
    question: String,
    file: String,
    phrase: String,
}

fn eval_questions() -> Vec<EvalRow> {
    let mut reader = csv::Reader::from_path(eval_dir().join("questions.csv"))
        .unwrap_or_else(|e| panic!("questions.csv: {e}"));
    reader
        .records()
        .map(|r| {
            let r = r.unwrap_or_else(|e| panic!("questions.csv: {e}"));
            let field = |i: usize| r.get(i).unwrap_or("").to_string();
            EvalRow {
                locale: field(0),
                question: field(1),
                file: field(2),
                phrase: field(3),
            }
        })
        .collect()
}

/// The evaluation set: another store's pages in another style (plain
/// paragraphs; `.txt`, `.html`, `.md` without headings) and shoppers'
/// questions. Prints the numbers BENCHMARKS.md records.
#[test]
fn evaluation_set_answer_rate_precision_and_declines() {
    let kb = KnowledgeBase::from_dir(&eval_dir()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(kb.locales(), ["en", "es"]);
    let rows = eval_questions();
    let declinable = rows.iter().filter(|r| r.file.is_empty()).count();
    assert!(
        rows.len() >= 60 && declinable >= 15,
        "{} {declinable}",
        rows.len()
    );
    // locale -> (answerable, answered, right, declinable, falsely answered)
    let mut by_locale: BTreeMap<&str, [usize; 5]> = BTreeMap::new();
    let mut misses = Vec::new();
    for r in &rows {
        let got = kb.answer(&r.question, &r.locale);
        let n = by_locale.entry(r.locale.as_str()).or_default();
        if r.file.is_empty() {
            n[3] += 1;
            if let Some(a) = &got {
                n[4] += 1;
                misses.push(format!(
                    "{:?} should be declined, got {} {:?}",
                    r.question,
                    a.article_id,
                    first_words(&a.passage)
                ));
            }
            continue;
        }
        n[0] += 1;
        match &got {
            Some(a) => {
                n[1] += 1;
                if a.article_id == r.file && a.passage.contains(&r.phrase) {
                    n[2] += 1;
                } else {
                    misses.push(format!(
                        "{:?} wants {} {:?}, got {} {:?}",
                        r.question, r.file, r.phrase, a.article_id, a.passage
                    ));
                }
            }
            None => misses.push(format!(
                "{:?} declined; ranking {:?}",
                r.question,
                kb.search(&r.question, &r.locale, 2)
                    .iter()
                    .map(|a| format!(
                        "{} {:.3} {:?}",
                        a.article_id,
                        a.score,
                        first_words(&a.passage)
                    ))
                    .collect::<Vec<_>>()
            )),
        }
    }
    let mut total = [0usize; 5];
    for (locale, n) in &by_locale {
        for (t, v) in total.iter_mut().zip(n) {
            *t += v;
        }
        eprintln!("knowledge eval {locale}: {}", rates(n));
    }
    eprintln!("knowledge eval all: {}", rates(&total));
    for m in &misses {
        eprintln!("  miss: {m}");
    }
    let [answerable, answered, right, declinable, false_answers] = total;
    let answer_rate = answered as f64 / answerable as f64;
    let precision = right as f64 / answered.max(1) as f64;
    let false_rate = false_answers as f64 / declinable as f64;
    assert!(
        answer_rate >= ANSWER_RATE_FLOOR,
        "answer rate {answer_rate:.3}"
    );
    assert!(precision >= PRECISION_FLOOR, "precision {precision:.3}");
    assert!(
        false_rate <= FALSE_ANSWER_CEILING,
        "false answers {false_rate:.3}"
    );
}

/// Floors a little below what was measured (answer rate 69/73 = 0.945,
/// precision 54/69 = 0.783, 0 of 22 declinable questions answered; before
/// issue 12's second-store work: 65/69 = 0.942 and 50/65 = 0.769).
const ANSWER_RATE_FLOOR: f64 = 0.9;
const PRECISION_FLOOR: f64 = 0.76;
const FALSE_ANSWER_CEILING: f64 = 0.05;

fn rates(n: &[usize; 5]) -> String {
    let [answerable, answered, right, declinable, false_answers] = *n;
    format!(
        "answer rate {answered}/{answerable} = {:.3}, precision {right}/{answered} = {:.3}, \
         declined {}/{declinable} = {:.3} (false answers {false_answers})",
        answered as f64 / answerable.max(1) as f64,
        right as f64 / answered.max(1) as f64,
        declinable - false_answers,
        (declinable - false_answers) as f64 / declinable.max(1) as f64,
    )
}

/// How long `answer` takes on the built-in articles (printed, not asserted:
/// the hot path of a turn). Release numbers: the ignored `timing` test.
#[test]
fn answer_time_is_printed() {
    let questions = [
        "how long do refunds take",
        "do you ship to canada",
        "retunr policy",
        "what's the weather in paris",
        "¿cuánto tarda el reembolso?",
    ];
    let rounds = 5_000;
    let start = Instant::now();
    let mut answered = 0;
    for i in 0..rounds {
        let q = questions[i % questions.len()];
        let locale = if q.starts_with('¿') { "es" } else { "en" };
        answered += usize::from(kb().answer(q, locale).is_some());
    }
    let per = start.elapsed().as_secs_f64() * 1e6 / rounds as f64;
    eprintln!("knowledge answer(): {per:.2} µs per question on the built-in articles");
    assert_eq!(answered, rounds / questions.len() * 4);
}
