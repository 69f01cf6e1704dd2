//! Text preprocessing shared by the intent classifier: normalisation and tokenisation.
//!
//! The classifier never sees raw text. [`normalize_into`] lower-cases, folds
//! common Latin accents, turns emoji into word-like tokens, replaces numbers,
//! emails and links with placeholders (so "order 1042" and "order 88812" look the
//! same to the model) and drops punctuation other than `?` and `!`, which are
//! kept as tokens because they carry intent ("refund?" vs "refund!").

/// Appends the normalised tokens of `text` to `out` (cleared first).
///
/// Tokens are lower-case ASCII-ish words, `#` for any token containing a digit,
/// `@` for an email, `/` for a URL, and emoji names such as `emo_angry`.
pub fn tokenize_into(text: &str, out: &mut Vec<String>) {
    out.clear();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut Vec<String>| {
        if word.is_empty() {
            return;
        }
        let token = classify_word(word);
        out.extend(
            token
                .split(' ')
                .filter(|t| !t.is_empty())
                .map(str::to_string),
        );
        word.clear();
    };
    for c in text.chars() {
        if c.is_alphanumeric()
            || c == '@'
            || ((c == '.' || c == '-' || c == '_' || c == '/' || c == ':') && !word.is_empty())
        {
            fold_char(c, &mut word);
        } else if c == '\'' || c == '\u{2019}' || c == '`' {
            // Apostrophes join: "where's" -> "wheres", as shoppers type both.
            continue;
        } else {
            flush(&mut word, out);
            if c == '?' || c == '!' {
                let p = if c == '?' { "?" } else { "!" };
                if out.last().map(String::as_str) != Some(p) {
                    out.push(p.to_string());
                }
            } else if let Some(name) = emoji_name(c) {
                out.push(name.to_string());
            }
        }
    }
    flush(&mut word, out);
}

/// Turns a raw word (which may carry trailing `.`/`-`/`:` joiners) into a token.
fn classify_word(word: &str) -> String {
    let trimmed = word.trim_end_matches(['.', '-', '_', '/', ':']);
    if trimmed.is_empty() {
        return String::new();
    }
    if trimmed.contains('@') {
        return if trimmed.len() > 1 {
            "@".into()
        } else {
            String::new()
        };
    }
    if trimmed.starts_with("http") || trimmed.starts_with("www.") {
        return "/".into();
    }
    if trimmed.bytes().any(|b| b.is_ascii_digit()) {
        // "cancelmyorder1048": keep a long run of letters glued to a number.
        let letters: String = trimmed.chars().take_while(|c| c.is_alphabetic()).collect();
        if letters.chars().count() >= 4 {
            return format!("{letters} #");
        }
        return "#".into();
    }
    // Inner joiners in plain words ("e-mail", "u.s.") are dropped.
    trimmed.chars().filter(|c| c.is_alphanumeric()).collect()
}

/// Lower-cases `c` and folds common accented Latin letters to ASCII.
pub(crate) fn fold_char(c: char, out: &mut String) {
    let folded = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' | 'Ā' => {
            'a'
        }
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'È' | 'É' | 'Ê' | 'Ë' | 'Ē' => 'e',
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'Ì' | 'Í' | 'Î' | 'Ï' | 'Ī' => 'i',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' | 'Ō' => {
            'o'
        }
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'Ù' | 'Ú' | 'Û' | 'Ü' | 'Ū' => 'u',
        'ý' | 'ÿ' | 'Ý' => 'y',
        'ñ' | 'Ñ' => 'n',
        'ç' | 'Ç' => 'c',
        'ß' => {
            out.push_str("ss");
            return;
        }
        _ => {
            out.extend(c.to_lowercase());
            return;
        }
    };
    out.push(folded);
}

/// A word-like name for emoji and emoticon characters that carry intent or mood.
fn emoji_name(c: char) -> Option<&'static str> {
    Some(match c {
        '😡' | '🤬' | '😠' | '👿' | '💢' => "emo_angry",
        '😤' | '🙄' | '😒' | '😑' | '😩' | '😫' => "emo_annoyed",
        '😢' | '😭' | '😞' | '😔' | '☹' | '🙁' | '😟' | '💔' => "emo_sad",
        '😊' | '😀' | '😃' | '😄' | '😁' | '🙂' | '😍' | '🥰' | '❤' | '♥' | '💕' | '😘' | '🤗' => {
            "emo_happy"
        }
        '👍' | '👌' | '✅' | '✔' => "emo_ok",
        '👎' | '❌' => "emo_no",
        '🙏' => "emo_please",
        '📦' | '🚚' | '🚛' | '✈' => "emo_package",
        '💳' | '💰' | '💵' | '💸' => "emo_money",
        '👋' => "emo_wave",
        '🤔' | '❓' | '❔' => "emo_think",
        _ => return None,
    })
}

/// Short function words left out of word-pair features.
pub fn is_stopword(w: &str) -> bool {
    matches!(
        w,
        "a" | "an"
            | "the"
            | "i"
            | "me"
            | "my"
            | "to"
            | "is"
            | "it"
            | "of"
            | "and"
            | "for"
            | "in"
            | "on"
            | "be"
            | "you"
            | "your"
            | "this"
            | "that"
            | "with"
            | "have"
            | "has"
            | "was"
            | "are"
            | "am"
            | "there"
            | "im"
            | "please"
            | "pls"
            | "so"
            | "just"
            | "at"
            | "or"
            | "as"
            | "we"
            | "our"
            | "u"
            | "?"
            | "!"
            | "#"
    )
}

/// A light suffix stripper ("charged" -> "charg", "cards" -> "card") so that
/// inflections share pair features. Not a linguistic stemmer: cheap and stable.
pub fn stem(w: &str) -> &str {
    for suf in ["ingly", "edly", "ing", "ied", "ies", "ed", "es", "ly", "s"] {
        if w.len() > suf.len() + 2 && w.ends_with(suf) && w.is_char_boundary(w.len() - suf.len()) {
            return &w[..w.len() - suf.len()];
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<String> {
        let mut v = Vec::new();
        tokenize_into(s, &mut v);
        v
    }

    #[test]
    fn normalises_case_numbers_emails_and_emoji() {
        assert_eq!(
            toks("Where's my ORDER #1042?? 😡 mail jo@example.com"),
            ["wheres", "my", "order", "#", "?", "emo_angry", "mail", "@"]
        );
    }

    #[test]
    fn folds_accents_and_keeps_words_joined_by_dashes_together() {
        assert_eq!(
            toks("¿Dónde está mi pedido? e-mail"),
            ["donde", "esta", "mi", "pedido", "?", "email"]
        );
    }

    #[test]
    fn never_panics_on_odd_input() {
        for s in [
            "",
            "....",
            "@",
            "-",
            "'''",
            "\u{0}\u{1}",
            "é\u{301}\u{301}",
            "🧨🧨",
            "a.b.c.",
            "http://x",
        ] {
            let _ = toks(s);
        }
        assert_eq!(stem("é"), "é");
        assert_eq!(stem("naïvés"), "naïvé");
    }
}
