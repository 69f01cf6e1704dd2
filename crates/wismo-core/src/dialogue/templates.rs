//! Response templates: several variants per response, per locale.
//!
//! Format (YAML), one file per locale:
//!
//! ```yaml
//! greet:
//!   - "Hi{ name}! How can I help with your order today?"
//!   - "Hello{ name}! What can I do for you?"
//! ```
//!
//! `{key}` is replaced by the value of `key`; `{, key}` (anything before the
//! key inside the braces) by that text and the value, or by nothing when the
//! value is empty — so "Thanks{, name}!" reads "Thanks, Maria!" or "Thanks!". A template naming a key that
//! the engine does not provide renders it as empty; `Templates::check` lists
//! such keys at load time so a store's edited file fails loudly instead.

use crate::yaml::{self, NodeKind};
use std::collections::HashMap;

/// Templates of all locales.
#[derive(Debug, Clone, Default)]
pub struct Templates {
    /// locale -> template id -> variants
    by_locale: HashMap<String, HashMap<String, Vec<String>>>,
}

#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct TemplateError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl Templates {
    /// Adds the templates of one locale from YAML source.
    pub fn add_locale(&mut self, locale: &str, src: &str, file: &str) -> Result<(), TemplateError> {
        let err = |line: usize, message: String| TemplateError {
            file: file.to_string(),
            line,
            message,
        };
        let root = yaml::parse_document(src).map_err(|e| err(e.line, e.message))?;
        let NodeKind::Map(items) = &root.kind else {
            return Err(err(
                root.line,
                format!(
                    "expected a mapping of template ids, found {}",
                    root.type_name()
                ),
            ));
        };
        let table = self.by_locale.entry(locale.to_string()).or_default();
        for (k, v) in items {
            let Some(id) = k.as_str() else {
                return Err(err(k.line, "template id must be a string".into()));
            };
            let variants: Vec<String> = match &v.kind {
                NodeKind::Seq(list) => list
                    .iter()
                    .map(|n| {
                        n.as_str().map(str::to_string).ok_or_else(|| {
                            err(n.line, format!("variant of {id:?} must be a string"))
                        })
                    })
                    .collect::<Result<_, _>>()?,
                NodeKind::Scalar { .. } => vec![v
                    .as_str()
                    .map(str::to_string)
                    .ok_or_else(|| err(v.line, format!("{id:?} is empty")))?],
                NodeKind::Map(_) => {
                    return Err(err(
                        v.line,
                        format!("{id:?} must be a string or a list of strings"),
                    ))
                }
            };
            if variants.is_empty() {
                return Err(err(v.line, format!("{id:?} has no variants")));
            }
            table.insert(id.to_string(), variants);
        }
        Ok(())
    }

    pub fn has_locale(&self, locale: &str) -> bool {
        self.by_locale.contains_key(locale)
    }

    /// Ids present in `base` but missing from `locale`.
    pub fn missing(&self, base: &str, locale: &str) -> Vec<String> {
        let (Some(b), Some(l)) = (self.by_locale.get(base), self.by_locale.get(locale)) else {
            return Vec::new();
        };
        let mut v: Vec<String> = b.keys().filter(|k| !l.contains_key(*k)).cloned().collect();
        v.sort();
        v
    }

    pub fn contains(&self, locale: &str, id: &str) -> bool {
        self.by_locale
            .get(locale)
            .is_some_and(|t| t.contains_key(id))
    }

    /// Renders template `id` in `locale` (falling back to English), choosing the
    /// variant by `pick` (stable per conversation and turn).
    pub fn render(
        &self,
        locale: &str,
        id: &str,
        pick: usize,
        vars: &HashMap<&'static str, String>,
    ) -> Option<String> {
        let variants = self
            .by_locale
            .get(locale)
            .and_then(|t| t.get(id))
            .or_else(|| self.by_locale.get("en").and_then(|t| t.get(id)))?;
        let t = &variants[pick % variants.len()];
        Some(fill(t, vars))
    }
}

/// Replaces `{key}` and `{ key}` placeholders.
pub fn fill(template: &str, vars: &HashMap<&'static str, String>) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let inner = &after[..close];
        // `{, name}`: the part before the key is written only with a value.
        let key_start = inner
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_ascii_alphanumeric() || *c == '_')
            .last()
            .map_or(inner.len(), |(i, _)| i);
        let (prefix, key) = inner.split_at(key_start);
        let value = vars.get(key).map(String::as_str).unwrap_or("");
        if !value.is_empty() {
            out.push_str(prefix);
            out.push_str(value);
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&'static str, &str)]) -> HashMap<&'static str, String> {
        pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
    }

    #[test]
    fn fills_plain_and_optional_placeholders() {
        assert_eq!(fill("Hi{ name}!", &vars(&[("name", "Maria")])), "Hi Maria!");
        assert_eq!(fill("Hi{ name}!", &vars(&[])), "Hi!");
        assert_eq!(
            fill(
                "Order #{order} ships {date}.",
                &vars(&[("order", "1042"), ("date", "Friday")])
            ),
            "Order #1042 ships Friday."
        );
        assert_eq!(fill("odd { brace", &vars(&[])), "odd { brace");
        assert_eq!(
            fill("Thanks{, name}!", &vars(&[("name", "Ana")])),
            "Thanks, Ana!"
        );
        assert_eq!(fill("Thanks{, name}!", &vars(&[])), "Thanks!");
    }

    #[test]
    fn renders_variants_with_fallback_to_english() {
        let mut t = Templates::default();
        t.add_locale("en", "greet:\n  - Hello\n  - Hi\nbye: Bye\n", "en.yml")
            .expect("parses");
        t.add_locale("es", "greet:\n  - Hola\n", "es.yml")
            .expect("parses");
        let v = vars(&[]);
        assert_eq!(t.render("en", "greet", 0, &v).as_deref(), Some("Hello"));
        assert_eq!(t.render("en", "greet", 1, &v).as_deref(), Some("Hi"));
        assert_eq!(t.render("es", "greet", 7, &v).as_deref(), Some("Hola"));
        assert_eq!(t.render("es", "bye", 0, &v).as_deref(), Some("Bye"));
        assert_eq!(t.render("en", "nope", 0, &v), None);
        assert_eq!(t.missing("en", "es"), ["bye"]);
    }

    #[test]
    fn bad_files_name_the_line() {
        let mut t = Templates::default();
        let e = t
            .add_locale("en", "greet:\n  nested: map\n", "en.yml")
            .expect_err("refused");
        assert_eq!((e.file.as_str(), e.line), ("en.yml", 2));
        let e = t
            .add_locale("en", "- a list\n", "en.yml")
            .expect_err("refused");
        assert!(e.message.contains("mapping"), "{e}");
    }
}
