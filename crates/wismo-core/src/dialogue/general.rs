//! Whether a message asks how something works in general ("how long do
//! refunds take to show on my card?", "si devuelvo algo, ¿quién paga el
//! envío?") rather than about one order ("where is my refund?"). Flows use it
//! through the `general` condition: a refund-status flow can answer a general
//! question from the knowledge base before it asks which order is meant.

use crate::nlu::text::fold_char;

/// Phrases that ask how things work: duration, who pays, what happens if,
/// a hypothetical purchase or return. Folded (no accents), lower case,
/// matched on whole words.
const GENERAL: &[&str] = &[
    // English
    "how long",
    "how many days",
    "how much time",
    "how does",
    "how do",
    "who pays",
    "who covers",
    "what happens if",
    "if i",
    "in general",
    "usually",
    "normally",
    "typically",
    // Spanish
    "cuanto tarda",
    "cuanto tardan",
    "cuanto tiempo",
    "cuantos dias",
    "como",
    "quien paga",
    "quien cubre",
    "que pasa si",
    "si devuelvo",
    "si regreso",
    "si pido",
    "si pago",
    "si compro",
    "si cancelo",
    "en general",
    "normalmente",
    "por lo general",
];

/// Phrases that point at one order or at something already under way.
const PARTICULAR: &[&str] = &[
    // English
    "where",
    "wheres",
    "still",
    "yet",
    "already",
    "my order",
    "my return",
    "my refund",
    "havent",
    "hasnt",
    "didnt",
    // Spanish
    "donde",
    "todavia",
    "aun",
    "ya me",
    "ya se",
    "mi pedido",
    "mi compra",
    "mi devolucion",
    "mi reembolso",
    "no me han",
    "no he",
];

/// True when `text` asks how something works in general (see the module
/// documentation). Order numbers are the caller's business.
pub(crate) fn is_general_question(text: &str) -> bool {
    let mut folded = String::with_capacity(text.len() + 2);
    folded.push(' ');
    let mut last_space = true;
    for c in text.chars().take(1000) {
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
    let has = |list: &[&str]| list.iter().any(|p| folded.contains(&format!(" {p} ")));
    has(GENERAL) && !has(PARTICULAR)
}

#[cfg(test)]
mod tests {
    use super::is_general_question;

    #[test]
    fn general_and_particular_questions() {
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
            assert_eq!(is_general_question(text), want, "{text:?}");
        }
    }
}
