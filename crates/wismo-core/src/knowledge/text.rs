//! Tokenisation for the knowledge base: lower-casing, accent folding, stop
//! words and a light stemmer, per language.
//!
//! The same function prepares articles and questions, so whatever it does to a
//! word it does on both sides; the stemmer only has to be consistent, not
//! linguistically right ("charge", "charged" and "charging" all become "charg").
//! A few words a shopper uses for the same thing become one term ("deliver"
//! and "ship"; "how much", "price" and a currency sign; "how long" and "days";
//! Spanish verb forms such as "enviáis" and "envío").

use crate::nlu::text::fold_char;

/// The language rules a locale's text is processed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    En,
    Es,
}

impl Lang {
    /// Spanish rules for `es` and `es-*` locales, English rules for the rest.
    pub(crate) fn for_locale(locale: &str) -> Lang {
        let primary = locale.split(['-', '_']).next().unwrap_or("");
        if primary.eq_ignore_ascii_case("es") {
            Lang::Es
        } else {
            Lang::En
        }
    }
}

/// Longest word kept, in characters; longer runs are cut (they never match).
const MAX_WORD_CHARS: usize = 48;

/// Appends the informative terms of `text` (folded, stop words removed,
/// stemmed) to `out`, in order, duplicates included.
pub(crate) fn terms_into(text: &str, lang: Lang, out: &mut Vec<String>) {
    tokenise(text, lang, out);
}

struct Sink<'a> {
    lang: Lang,
    out: &'a mut Vec<String>,
}

fn tokenise(text: &str, lang: Lang, out: &mut Vec<String>) {
    let mut sink = Sink { lang, out };
    let mut word = String::new();
    let mut chars = 0usize;
    let mut prev = ' ';
    let mut it = text.chars().peekable();
    while let Some(c) = it.next() {
        // A price ("$6.50", "4,95 €") and a clock time ("9:00") say what a
        // passage is about as much as "cost" or "hours" do.
        if is_currency(c) {
            sink.push(&mut word);
            chars = 0;
            sink.out.push(COST.to_string());
            prev = c;
            continue;
        }
        if c == ':' && prev.is_ascii_digit() && it.peek().is_some_and(char::is_ascii_digit) {
            sink.push(&mut word);
            chars = 0;
            sink.out.push(HOUR.to_string());
            prev = c;
            continue;
        }
        // A phone number in international form ("+52 55 4123 8890") is what
        // "your phone number" or "número de WhatsApp" asks for.
        if c == '+' && !prev.is_alphanumeric() && it.peek().is_some_and(char::is_ascii_digit) {
            sink.push(&mut word);
            chars = 0;
            let (phone, number) = match lang {
                Lang::En => ("phone", "number"),
                Lang::Es => ("telefono", "numero"),
            };
            sink.out.push(phone.to_string());
            sink.out.push(number.to_string());
            prev = c;
            continue;
        }
        // "P.O." and "e.g." are one word.
        if c == '.'
            && chars == 1
            && prev.is_alphabetic()
            && it.peek().is_some_and(|n| n.is_alphabetic())
        {
            prev = c;
            continue;
        }
        prev = c;
        if c.is_alphanumeric() {
            if chars < MAX_WORD_CHARS {
                fold_char(c, &mut word);
                chars += 1;
            }
        } else if is_combining_mark(c) || is_apostrophe(c) {
            // Decomposed accents fold away; "what's" joins to "whats".
            continue;
        } else {
            sink.push(&mut word);
            chars = 0;
        }
    }
    sink.push(&mut word);
}

/// The informative terms of `text` as a new vector.
pub(crate) fn terms(text: &str, lang: Lang) -> Vec<String> {
    let mut out = Vec::new();
    terms_into(text, lang, &mut out);
    out
}

impl Sink<'_> {
    /// The position of the latest of the last two terms that is one of `words`.
    fn recent(&self, words: &[&str]) -> Option<usize> {
        let n = self.out.len();
        (n.saturating_sub(2)..n)
            .rev()
            .find(|&i| self.out.get(i).is_some_and(|t| words.contains(&t.as_str())))
    }

    /// Replaces the term at `i` with `concept`.
    fn replace(&mut self, i: usize, concept: &str) {
        if let Some(t) = self.out.get_mut(i) {
            *t = concept.to_string();
        }
    }

    fn push(&mut self, word: &mut String) {
        if word.is_empty() {
            return;
        }
        let lang = self.lang;
        if !is_stop_word(word, lang) {
            let stemmed = match lang {
                Lang::En => stem_en(word),
                Lang::Es => stem_es(word),
            };
            if lang == Lang::En && stemmed == "back" {
                // "send it back" is a return, "the money goes back" a refund.
                if let Some(i) = self.recent(&["send", "sent", "bring", "mail"]) {
                    self.replace(i, "return");
                } else if self.recent(&["money"]).is_some() {
                    self.out.push("refund".to_string());
                }
            } else if let Some(i) = (lang == Lang::Es && stemmed == "dinero")
                .then(|| self.recent(&["devolucion"]))
                .flatten()
            {
                // "devolver / regresar el dinero" is a refund.
                self.replace(i, "reembolso");
                self.out.push(stemmed);
            } else if !stemmed.is_empty() {
                self.out.push(concept(word, stemmed, lang));
            }
        }
        word.clear();
    }
}

/// Adjacent word pairs of `text` written as two words or with a hyphen
/// ("Mercado Pago", "pick-up"), as terms: (the pair written as one word,
/// first word, second word). Pairs with a stop word are left out. The index
/// matches "mercadopago" to "Mercado Pago" and "pick up" to "pickup" with them.
pub(crate) fn word_pairs(text: &str, lang: Lang) -> Vec<(String, String, String)> {
    // (folded word, whether only a space or hyphen separates it from the next)
    let mut words: Vec<(String, bool)> = Vec::new();
    let mut word = String::new();
    let mut chars = 0usize;
    let flush = |word: &mut String, joinable: bool, words: &mut Vec<(String, bool)>| {
        if !word.is_empty() {
            words.push((std::mem::take(word), joinable));
        } else if let Some(last) = words.last_mut() {
            last.1 = last.1 && joinable;
        }
    };
    for c in text.chars() {
        if c.is_alphabetic() {
            if chars < MAX_WORD_CHARS {
                fold_char(c, &mut word);
                chars += 1;
            }
        } else if !(is_combining_mark(c) || is_apostrophe(c)) {
            flush(&mut word, c == ' ' || c == '-', &mut words);
            chars = 0;
        }
    }
    flush(&mut word, false, &mut words);
    let one = |w: &str| terms(w, lang).pop();
    let mut out = Vec::new();
    for pair in words.windows(2) {
        let [(a, joinable), (b, _)] = pair else {
            continue;
        };
        if !joinable || is_stop_word(a, lang) || is_stop_word(b, lang) {
            continue;
        }
        if let (Some(joined), Some(ta), Some(tb)) = (one(&format!("{a}{b}")), one(a), one(b)) {
            out.push((joined, ta, tb));
        }
    }
    out
}

/// Words that frame a question ("return policy", "payment methods") rather
/// than say what it is about: dropped from a question when no article uses
/// them, instead of counting as unmatched. Checked on the stem.
pub(crate) fn is_soft_word(stem: &str, lang: Lang) -> bool {
    match lang {
        Lang::En => matches!(
            stem,
            "policy" | "info" | "information" | "method" | "option" | "type" | "kind" | "detail"
        ),
        Lang::Es => matches!(
            stem,
            "politica" | "informacion" | "metodo" | "forma" | "tipo" | "opcion" | "detall"
        ),
    }
}

/// Words that narrow a topic to a part of it ("international shipping"): a
/// passage about that part answers a question that does not name it only
/// when no passage about the whole matches as well.
pub(crate) fn is_scope_word(term: &str, lang: Lang) -> bool {
    match lang {
        Lang::En => term == "international",
        Lang::Es => term == "internacional",
    }
}

/// The term prices stand for ("how much", "cost", "$").
const COST: &str = "cost";
/// The term clock times stand for ("hours", "9:00", "am").
const HOUR: &str = "hour";
/// The term durations stand for ("how long", "days", "tarda").
const DURATION: &str = "duration";

fn is_currency(c: char) -> bool {
    matches!(c, '$' | '€' | '£' | '¥')
}

/// Words that mean the same thing to a shopper map to one term, on both the
/// article and the question side: "deliver" and "ship", "enviáis" and
/// "envío", "how long" and "days". `word` is folded, `stem` its stem.
fn concept(word: &str, stem: String, lang: Lang) -> String {
    let to = |s: &str| s.to_string();
    match lang {
        Lang::En => match stem.as_str() {
            "deliver" | "delivery" | "shipment" => to("ship"),
            "uk" | "britain" | "england" => to("kingdom"),
            "much" | "price" | "rate" | "cost" => to(COST),
            "pm" | "hour" => to(HOUR),
            "long" | "day" | "week" | "month" => to(DURATION),
            "courier" => to("carrier"),
            "payment" | "paying" => to("pay"),
            "call" | "telephone" => to("phone"),
            "reach" | "contacting" => to("contact"),
            "parcel" | "packag" => to("packag"),
            _ => stem,
        },
        Lang::Es => {
            let w = word;
            if w.starts_with("envi") {
                to("envio")
            } else if w.starts_with("devol") || w.starts_with("devuel") {
                to("devolucion")
            } else if w.starts_with("reembols") {
                to("reembolso")
            } else if w.starts_with("segui") || w.starts_with("sigo") || w.starts_with("sigue") {
                to("seguimiento")
            } else if w.starts_with("arancel") || w.starts_with("aduana") {
                to("aduana")
            } else if w.starts_with("transport") {
                to("transporte")
            } else if w.starts_with("regres") {
                // Mexican Spanish: "regresar" is "devolver".
                to("devolucion")
            } else if w.starts_with("pid") || w.starts_with("pedi") {
                // "pido", "pedí", "pedir": about an order.
                to("pedido")
            } else if w.starts_with("lleg") {
                to("llega")
            } else if w.starts_with("atend") || w.starts_with("atiend") || w.starts_with("atencion")
            {
                to("atencion")
            } else if w.starts_with("tard") || w.starts_with("plazo") {
                to(DURATION)
            } else if w.starts_with("pag") {
                to("pago")
            } else if w.starts_with("cancel") {
                to("cancel")
            } else if w.starts_with("factur") {
                to("factura")
            } else if w.starts_with("cuest")
                || w.starts_with("cost")
                || w.starts_with("preci")
                || w.starts_with("tarifa")
            {
                to(COST)
            } else if w.starts_with("telefon") || w.starts_with("llam") {
                to("telefono")
            } else {
                match stem.as_str() {
                    "dia" | "semana" | "mes" => to(DURATION),
                    "hora" | "horario" => to(HOUR),
                    _ => stem,
                }
            }
        }
    }
}

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '\u{2019}' | '\u{2018}' | '`' | '\u{00B4}')
}

/// Combining diacritical marks (as left by decomposed "e\u{301}").
fn is_combining_mark(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036F}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}' | '\u{20D0}'..='\u{20FF}' | '\u{FE20}'..='\u{FE2F}')
}

/// Function words and question framing ("how long does it take", "¿cuánto
/// cuesta?") that say nothing about which article is meant. Checked on the
/// folded, unstemmed word.
pub(crate) fn is_stop_word(w: &str, lang: Lang) -> bool {
    match lang {
        Lang::En => EN_STOP.binary_search(&w).is_ok(),
        Lang::Es => ES_STOP.binary_search(&w).is_ok(),
    }
}

/// Sorted (binary-searched; a unit test keeps it sorted).
const EN_STOP: &[&str] = &[
    "a",
    "about",
    "accept",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "anyone",
    "anything",
    "are",
    "arent",
    "as",
    "at",
    "be",
    "been",
    "but",
    "by",
    "can",
    "cant",
    "could",
    "couldnt",
    "dear",
    "did",
    "didnt",
    "do",
    "does",
    "doesnt",
    "doing",
    "dont",
    "for",
    "from",
    "get",
    "getting",
    "got",
    "had",
    "has",
    "hasnt",
    "have",
    "havent",
    "hello",
    "help",
    "hey",
    "hi",
    "how",
    "hows",
    "i",
    "id",
    "if",
    "ill",
    "im",
    "in",
    "into",
    "is",
    "isnt",
    "it",
    "its",
    "ive",
    "just",
    "know",
    "let",
    "lets",
    "like",
    "make",
    "many",
    "may",
    "me",
    "might",
    "mine",
    "more",
    "must",
    "my",
    "no",
    "not",
    "of",
    "ok",
    "okay",
    "on",
    "one",
    "only",
    "or",
    "other",
    "our",
    "please",
    "pls",
    "plz",
    "really",
    "shall",
    "should",
    "so",
    "some",
    "something",
    "stuff",
    "take",
    "takes",
    "tell",
    "than",
    "thank",
    "thanks",
    "that",
    "thats",
    "the",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "thing",
    "things",
    "this",
    "those",
    "thx",
    "to",
    "too",
    "u",
    "us",
    "use",
    "used",
    "uses",
    "using",
    "very",
    "want",
    "was",
    "wasnt",
    "way",
    "ways",
    "we",
    "were",
    "what",
    "whats",
    "when",
    "where",
    "wheres",
    "which",
    "who",
    "why",
    "will",
    "with",
    "wont",
    "would",
    "wouldnt",
    "ya",
    "yall",
    "yes",
    "you",
    "your",
    "youre",
];

/// Sorted (binary-searched; a unit test keeps it sorted).
const ES_STOP: &[&str] = &[
    "a", "aceptais", "aceptan", "al", "algo", "alguien", "como", "con", "cual", "cuales", "cuando",
    "cuanta", "cuantas", "cuanto", "cuantos", "dan", "de", "del", "donde", "e", "el", "ella", "en",
    "es", "esa", "ese", "eso", "esta", "estan", "este", "esto", "estoy", "favor", "gracias", "ha",
    "habeis", "hace", "haceis", "hacen", "hacer", "hago", "han", "has", "hay", "he", "hemos",
    "hola", "la", "las", "le", "les", "lo", "los", "mas", "me", "mi", "mis", "muy", "necesito",
    "no", "nos", "nuestra", "nuestras", "nuestro", "nuestros", "o", "os", "para", "partir", "pero",
    "por", "porfa", "puede", "pueden", "puedes", "puedo", "que", "quien", "quienes", "quiero",
    "quisiera", "saber", "se", "ser", "si", "son", "su", "sus", "te", "tengo", "tiene", "tienen",
    "tu", "tus", "u", "un", "una", "unas", "unos", "usted", "ustedes", "vosotros", "vuestra",
    "vuestras", "vuestro", "vuestros", "y", "ya", "yo",
];

fn is_vowel(b: u8) -> bool {
    matches!(b, b'a' | b'e' | b'i' | b'o' | b'u')
}

/// English: plurals, -ing, -ed, a final silent "e" and a final doubled
/// consonant ("shipping" -> "ship", "policies" -> "policy", "charged" ->
/// "charg"). Non-ASCII and short words are left alone.
pub(crate) fn stem_en(w: &str) -> String {
    if !w.is_ascii() || w.len() <= 3 {
        return w.to_string();
    }
    let mut s = w.to_string();
    // Plurals.
    if s.len() > 4 && s.ends_with("ies") {
        s.truncate(s.len() - 3);
        s.push('y');
    } else if ["sses", "xes", "zes", "ches", "shes"]
        .iter()
        .any(|suf| s.ends_with(suf))
    {
        s.truncate(s.len() - 2);
    } else if s.ends_with('s') && !s.ends_with("ss") && !s.ends_with("us") && !s.ends_with("is") {
        s.pop();
    }
    // -ly after a consonant other than "p" ("internationally", not "apply").
    if s.len() > 5 && s.ends_with("ly") {
        let before = s.as_bytes()[s.len() - 3];
        if !is_vowel(before) && before != b'y' && before != b'p' {
            s.truncate(s.len() - 2);
        }
    }
    // -ied / -ying -> y ("applied", "applying" -> "apply").
    if s.len() > 4 && s.ends_with("ied") {
        s.truncate(s.len() - 3);
        s.push('y');
    } else if s.len() > 5 && s.ends_with("ying") {
        s.truncate(s.len() - 3);
    } else {
        for suf in ["ing", "ed"] {
            if s.ends_with(suf) && !s.ends_with("eed") && s.len() >= suf.len() + 3 {
                let base = s.len() - suf.len();
                if s.as_bytes()[..base]
                    .iter()
                    .any(|&b| is_vowel(b) || b == b'y')
                {
                    s.truncate(base);
                }
                break;
            }
        }
    }
    finish_stem(&mut s);
    s
}

/// Spanish: plural "-s"/"-es", then the same final-e and doubled-consonant
/// rules as English ("devoluciones" -> "devolucion", "paquetes" -> "paquet").
pub(crate) fn stem_es(w: &str) -> String {
    if !w.is_ascii() || w.len() <= 3 {
        return w.to_string();
    }
    let mut s = w.to_string();
    let b = s.as_bytes();
    let n = b.len();
    if n > 4
        && s.ends_with("es")
        && matches!(
            b[n - 3],
            b'l' | b'n' | b'r' | b'd' | b'z' | b'j' | b's' | b'y'
        )
    {
        s.truncate(n - 2);
    } else if s.ends_with('s') && is_vowel(b[n - 2]) && b[n - 2] != b'i' {
        s.pop();
    }
    finish_stem(&mut s);
    s
}

/// Drops a final "e" and undoubles a final consonant, on longer ASCII stems.
fn finish_stem(s: &mut String) {
    if s.len() > 3 && s.ends_with('e') {
        s.pop();
    }
    let b = s.as_bytes();
    let n = b.len();
    if n > 3 && b[n - 1] == b[n - 2] && b[n - 1].is_ascii_alphabetic() && !is_vowel(b[n - 1]) {
        s.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_word_lists_are_sorted_for_binary_search() {
        for list in [EN_STOP, ES_STOP] {
            assert!(list.windows(2).all(|w| w[0] < w[1]), "{list:?}");
        }
    }

    #[test]
    fn folds_stems_and_drops_stop_words() {
        let en = |s: &str| terms(s, Lang::En).join(" ");
        let es = |s: &str| terms(s, Lang::Es).join(" ");
        assert_eq!(en("How long do REFUNDS take?"), "duration refund");
        assert_eq!(en("shipping shipped ships"), "ship ship ship");
        assert_eq!(
            en("charges charged charging charge"),
            "charg charg charg charg"
        );
        assert_eq!(
            en("policies policy applied apply"),
            "policy policy apply apply"
        );
        assert_eq!(en("What's your opening hours"), "open hour");
        assert_eq!(en("addresses address boxes"), "addres addres box");
        assert_eq!(en("deliver to P.O. boxes"), "ship po box");
        assert_eq!(
            en("send it back, money back, come back"),
            "return money refund com"
        );
        assert_eq!(
            en("how much? $4.95 at 9:30 pm"),
            "cost cost 4 95 9 hour 30 hour"
        );
        assert_eq!(
            es("¿enviáis a Canarias? cuesta 3 €"),
            "envio canaria cost 3 cost"
        );
        assert_eq!(
            en("internationally international apply"),
            "international international apply"
        );
        assert_eq!(es("¿Cuánto tarda el reembolso?"), "duration reembolso");
        assert_eq!(es("devoluciones devolución"), "devolucion devolucion");
        assert_eq!(
            es("paquetes paquete países país"),
            "paquet paquet pais pais"
        );
        // Decomposed accents (e + combining acute) fold like precomposed ones.
        assert_eq!(es("devolucio\u{301}n"), "devolucion");
        // Verb forms a shopper uses for the article's nouns.
        assert_eq!(es("¿a qué hora atienden?"), "hour atencion");
        assert_eq!(
            es("me regresan el dinero, envío de regreso"),
            "reembolso dinero envio devolucion"
        );
        assert_eq!(
            es("si pido con mensajería local me dan guía"),
            "pedido mensajeria local guia"
        );
        assert_eq!(es("¿quién paga?"), "pago");
        // A phone number in international form is a phone number.
        assert_eq!(
            en("WhatsApp +52 55 4123"),
            "whatsap phone number 52 55 4123"
        );
        assert_eq!(es("al +34 600"), "telefono numero 34 600");
        assert_eq!(en("1+1"), "1 1");
    }

    #[test]
    fn word_pairs_written_apart() {
        let pairs = |s: &str, lang| {
            word_pairs(s, lang)
                .into_iter()
                .map(|(j, a, b)| format!("{j}={a}+{b}"))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            pairs("PayPal, Mercado Pago y OXXO", Lang::Es),
            ["mercadopago=mercado+pago"]
        );
        assert_eq!(
            pairs("no pick-up here", Lang::En),
            ["pickup=pick+up", "upher=up+her"]
        );
        // Punctuation, digits and stop words break a pair.
        assert!(pairs("cards. Pay 3 times to the shop", Lang::En).is_empty());
    }
}
