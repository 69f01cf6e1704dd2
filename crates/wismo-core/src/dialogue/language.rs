//! Which of the store's languages a message is in.
//!
//! Nothing here knows any language: each locale's templates carry its
//! markers, `language.words` (common words of the language, one per variant)
//! and `language.letters` (characters only that language uses, such as
//! `¿` or `ñ`). A message is in a language when it has one of its letters,
//! or at least two of its words and more than any other language, or (a
//! message of three words or fewer) one of its words and none of another's.
//! Only the store's languages are candidates.

use super::templates::Templates;
use std::collections::HashSet;

#[derive(Debug, Clone, Default)]
pub struct LanguageDetector {
    /// (locale, letters, words), in the store's order.
    langs: Vec<(String, Vec<char>, HashSet<String>)>,
}

impl LanguageDetector {
    /// The markers of `languages` from their templates.
    pub fn new(templates: &Templates, languages: &[String]) -> Self {
        let langs = languages
            .iter()
            .map(|l| {
                let letters = templates
                    .get(l, "language.letters")
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|v| v.trim().chars().next())
                    .flat_map(char::to_lowercase)
                    .collect();
                let words = templates
                    .get(l, "language.words")
                    .unwrap_or_default()
                    .iter()
                    .map(|w| w.trim().to_lowercase())
                    .filter(|w| !w.is_empty())
                    .collect();
                (l.clone(), letters, words)
            })
            .collect();
        Self { langs }
    }

    /// The language `text` is in, when the signs are clear; `None` otherwise.
    pub fn detect(&self, text: &str) -> Option<&str> {
        if self.langs.len() < 2 {
            return None;
        }
        let lower = text.to_lowercase();
        if let Some((l, _, _)) = self
            .langs
            .iter()
            .find(|(_, letters, _)| lower.contains(letters.as_slice()))
        {
            return Some(l);
        }
        let words: Vec<&str> = lower
            .split(|c: char| !c.is_alphabetic())
            .filter(|w| !w.is_empty())
            .collect();
        let counts: Vec<usize> = self
            .langs
            .iter()
            .map(|(_, _, set)| words.iter().filter(|w| set.contains(**w)).count())
            .collect();
        let (best, &top) = counts
            .iter()
            .enumerate()
            .max_by_key(|(i, c)| (**c, usize::MAX - i))?;
        let others_max = counts
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != best)
            .map(|(_, c)| *c)
            .max()
            .unwrap_or(0);
        let clear = top >= 2 && top > others_max || top >= 1 && others_max == 0 && words.len() <= 3;
        clear.then(|| self.langs[best].0.as_str())
    }
}
