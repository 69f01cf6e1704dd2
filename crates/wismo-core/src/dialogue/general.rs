//! Phrases that change how a message about orders is read, in each of the
//! store's languages. Nothing here knows any language: each locale's
//! templates carry the lists (like the language-detection markers), and the
//! engine uses those of every language the store speaks.
//!
//! - `language.general`: phrases that ask how something works in general
//!   ("how long", "who pays", "si devuelvo"), so "how long do refunds take
//!   to show on my card?" is not taken as a question about one order. Flows
//!   use it through the `general` condition: a refund-status flow can answer
//!   from the knowledge base before it asks which order is meant.
//! - `language.particular`: phrases that point at one order or something
//!   already under way ("where", "my refund", "todavía"); they win over
//!   `language.general`.
//! - `language.follow_up`: openings of a short message that only points at
//!   another order ("what about 1022?", "y el 1022?").
//! - `language.other_order`: phrases that ask about a different order than
//!   the one under discussion ("my other order", "el otro").
//! - `language.order_word`: the language's words for an order; a number
//!   after one is an order number, not a postal code.
//!
//! Phrases are matched on whole words, case and accents folded.

use super::templates::Templates;
use crate::nlu::text::fold_char;

/// The three lists, folded and padded with a space on each side.
#[derive(Debug, Clone, Default)]
pub(crate) struct Phrases {
    general: Vec<String>,
    particular: Vec<String>,
    follow_up: Vec<String>,
    other_order: Vec<String>,
    order_word: Vec<String>,
}

/// At most this many characters of a message are looked at.
const MAX_CHARS: usize = 1000;

impl Phrases {
    /// The lists of `languages` from their templates.
    pub(crate) fn new(templates: &Templates, languages: &[String]) -> Self {
        let list = |id: &str| {
            let mut v: Vec<String> = languages
                .iter()
                .flat_map(|l| templates.get(l, id).unwrap_or_default())
                .map(|p| fold(p))
                .filter(|p| !p.trim().is_empty())
                .collect();
            v.sort();
            v.dedup();
            v
        };
        Self {
            general: list("language.general"),
            particular: list("language.particular"),
            follow_up: list("language.follow_up"),
            other_order: list("language.other_order"),
            order_word: list("language.order_word"),
        }
    }

    /// True when `text` asks how something works in general (see the module
    /// documentation). Order numbers are the caller's business.
    pub(crate) fn is_general_question(&self, text: &str) -> bool {
        let folded = fold(text);
        contains_any(&folded, &self.general) && !contains_any(&folded, &self.particular)
    }

    /// True when `text` is a short message (six words or fewer) that opens
    /// like a follow-up ("what about 1022?").
    pub(crate) fn is_follow_up(&self, text: &str) -> bool {
        let folded = fold(text);
        folded.split_whitespace().count() <= 6
            && self
                .follow_up
                .iter()
                .any(|p| folded.starts_with(p.as_str()))
    }
}

impl Phrases {
    /// True when `text` asks about another order than the current one.
    pub(crate) fn names_other_order(&self, text: &str) -> bool {
        contains_any(&fold(text), &self.other_order)
    }

    /// True when `text` has a word for "order" in it.
    pub(crate) fn says_order(&self, text: &str) -> bool {
        contains_any(&fold(text), &self.order_word)
    }
}

fn contains_any(folded: &str, list: &[String]) -> bool {
    list.iter().any(|p| folded.contains(p.as_str()))
}

/// `text` lower case without accents, words separated by single spaces, with
/// a space at each end; apostrophes vanish ("haven't" -> "havent").
fn fold(text: &str) -> String {
    let mut folded = String::with_capacity(text.len() + 2);
    folded.push(' ');
    let mut last_space = true;
    for c in text.chars().take(MAX_CHARS) {
        if c.is_alphanumeric() {
            fold_char(c, &mut folded);
            last_space = false;
        } else if c == '\'' || c == '\u{2019}' {
            // "haven't" -> "havent"
        } else if !last_space {
            folded.push(' ');
            last_space = true;
        }
    }
    if !last_space {
        folded.push(' ');
    }
    folded
}

#[cfg(test)]
mod tests {
    use super::Phrases;
    use crate::dialogue::templates::Templates;

    fn phrases() -> Phrases {
        let mut t = Templates::default();
        for (locale, src) in crate::dialogue::DEFAULT_TEMPLATES {
            t.add_locale(locale, src, locale)
                .expect("built-in templates");
        }
        Phrases::new(&t, &["en".to_string(), "es".to_string()])
    }

    #[test]
    fn general_and_particular_questions() {
        let p = phrases();
        for (text, want) in [
            ("how long do refunds take to show on my card", true),
            ("cuanto tarda el reembolso en verse en mi tarjeta", true),
            ("¿Cuánto tarda el reembolso?", true),
            ("pague en oxxo, como me regresan el dinero si devuelvo algo", true),
            ("if I return something who pays shipping", true),
            ("where is my refund", false),
            ("how long until my refund for order 1042 arrives, it's been weeks and still nothing", false),
            ("¿dónde está mi reembolso?", false),
            ("ya me devolvieron el dinero?", false),
            ("when will i get my refund", false),
            ("refund status", false),
            ("i haven't received my refund, how long does it take", false),
            ("", false),
        ] {
            assert_eq!(p.is_general_question(text), want, "{text:?}");
        }
    }

    #[test]
    fn follow_ups_are_short_and_open_like_one() {
        let p = phrases();
        for (text, want) in [
            ("what about 1022?", true),
            ("How about #1022", true),
            ("and 1022?", true),
            ("¿Y el 1022?", true),
            ("qué tal el 1043", true),
            ("also 1043 please", true),
            ("andrew here, order 1022", false),
            (
                "what about the order i placed last tuesday for my sister, 1022?",
                false,
            ),
            ("1022", false),
        ] {
            assert_eq!(p.is_follow_up(text), want, "{text:?}");
        }
    }

    /// A store that speaks only English does not read Spanish phrases.
    #[test]
    fn only_the_stores_languages_count() {
        let mut t = Templates::default();
        for (locale, src) in crate::dialogue::DEFAULT_TEMPLATES {
            t.add_locale(locale, src, locale)
                .expect("built-in templates");
        }
        let en = Phrases::new(&t, &["en".to_string()]);
        assert!(!en.is_general_question("cuanto tarda el reembolso"));
        assert!(!en.is_follow_up("y el 1022?"));
        assert!(en.is_follow_up("and 1022?"));
    }

    #[test]
    fn other_orders_and_order_words() {
        let p = phrases();
        assert!(p.names_other_order("what about my other order?"));
        assert!(p.names_other_order("¿Y el otro?"));
        assert!(!p.names_other_order("where is my order"));
        assert!(p.says_order("Order 10115"));
        assert!(p.says_order("mi pedido es 10115"));
        assert!(!p.says_order("10115"));
        assert!(!p.says_order("I ordered it"));
    }
}
