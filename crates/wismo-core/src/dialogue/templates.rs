//! Response templates: several variants per response, per locale.
//!
//! Format (YAML), one file per locale:
//!
//! ```yaml
//! greet:
//!   - "Hi{ name}! How can I help with your order today?"
//!   - "Hello{ name}! What can I do for you?"
//! status.in_transit:
//!   - "{?tracking_number}Order #{order_number} is on its way[[ with {carrier}]]. Tracking: {tracking_number}[[ ({tracking_url})]]"
//!   - "{!tracking_number}Order #{order_number} shipped[[ on {shipped_date}]]; there's no tracking number for this one."
//! ```
//!
//! - `{key}` is replaced by the value of `key`.
//! - `{, key}` (anything before the key inside the braces) writes that text and
//!   the value, or nothing when the value is empty: "Thanks{, name}!" reads
//!   "Thanks, Maria!" or "Thanks!".
//! - `[[ … ]]` is an optional part: written only when every placeholder in it
//!   has a value, so "in transit[[ with {carrier}]]." never reads "with .".
//! - A variant may start with conditions: `{?a,b}` (only when `a` and `b` have
//!   values) and `{!c}` (only when `c` has none). A variant is eligible when its
//!   conditions hold and every placeholder outside optional parts has a value;
//!   the variant is picked among the eligible ones.
//!
//! [`Templates::check_guards`] proves at load time that a template can never
//! render a hole: every placeholder whose value can be absent is guarded
//! (optional part, `{, key}`, or a `{?key}` condition), and for every
//! combination of present and absent values some variant is eligible.

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

    /// Rewrites every variant with `f(locale, id, variant)`; `None` drops the
    /// variant. Templates left without variants are removed and returned as
    /// `(locale, id)` (used to fill in a store's profile values at load time).
    pub fn rewrite(
        &mut self,
        mut f: impl FnMut(&str, &str, &str) -> Option<String>,
    ) -> Vec<(String, String)> {
        let mut emptied = Vec::new();
        for (locale, table) in &mut self.by_locale {
            table.retain(|id, variants| {
                *variants = variants.iter().filter_map(|v| f(locale, id, v)).collect();
                if variants.is_empty() {
                    emptied.push((locale.clone(), id.clone()));
                }
                !variants.is_empty()
            });
        }
        emptied.sort();
        emptied
    }

    /// Drops every template of `locale`.
    pub fn clear_locale(&mut self, locale: &str) {
        self.by_locale.remove(locale);
    }

    /// The locales that have templates, sorted.
    pub fn locales(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.by_locale.keys().map(String::as_str).collect();
        v.sort();
        v
    }

    /// The variants of `id` in `locale` exactly (no fallback).
    pub fn get(&self, locale: &str, id: &str) -> Option<&[String]> {
        self.by_locale
            .get(locale)
            .and_then(|t| t.get(id))
            .map(Vec::as_slice)
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

    /// Renders template `id` in `locale` (falling back to English), choosing
    /// among the eligible variants by `pick` (stable per conversation and turn).
    pub fn render(
        &self,
        locale: &str,
        id: &str,
        pick: usize,
        vars: &HashMap<&'static str, String>,
    ) -> Option<String> {
        let variants = self.variants(locale, id)?;
        let has = |k: &str| vars.get(k).is_some_and(|v| !v.is_empty());
        let eligible: Vec<&String> = variants
            .iter()
            .filter(|t| Variant::parse(t).eligible(&has))
            .collect();
        let t = if eligible.is_empty() {
            // Only reachable when a key the engine always provides is missing;
            // the optional parts still keep the reply free of holes.
            &variants[pick % variants.len()]
        } else {
            eligible[pick % eligible.len()]
        };
        Some(fill(t, vars))
    }

    fn variants(&self, locale: &str, id: &str) -> Option<&Vec<String>> {
        self.by_locale
            .get(locale)
            .and_then(|t| t.get(id))
            .or_else(|| self.by_locale.get("en").and_then(|t| t.get(id)))
    }

    /// Every locale and template id, sorted.
    pub fn ids(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self
            .by_locale
            .iter()
            .flat_map(|(l, t)| t.keys().map(move |id| (l.clone(), id.clone())))
            .collect();
        v.sort();
        v
    }

    /// Proves that no template renders a hole when any of the `optional` keys
    /// has no value: each such placeholder must be guarded, and every
    /// combination of present and absent optional keys that a template
    /// mentions must leave at least one variant eligible. One line per problem.
    pub fn check_guards(&self, optional: &[&str]) -> Vec<String> {
        let mut problems = Vec::new();
        for (locale, id) in self.ids() {
            let Some(variants) = self.by_locale.get(&locale).and_then(|t| t.get(&id)) else {
                continue;
            };
            let parsed: Vec<Variant> = variants.iter().map(|t| Variant::parse(t)).collect();
            let mut mentioned: Vec<&str> = Vec::new();
            for (n, v) in parsed.iter().enumerate() {
                for k in v.bare_keys() {
                    if optional.contains(&k) && !v.requires.contains(&k) {
                        problems.push(format!(
                            "{locale}.yml: {id} (variant {}): {{{k}}} can be absent and is not guarded; put it in [[ … ]] or start the variant with {{?{k}}}",
                            n + 1
                        ));
                    }
                }
                for k in v
                    .bare_keys()
                    .chain(v.requires.iter().copied())
                    .chain(v.forbids.iter().copied())
                {
                    if optional.contains(&k) && !mentioned.contains(&k) {
                        mentioned.push(k);
                    }
                }
            }
            if mentioned.len() > 12 {
                problems.push(format!(
                    "{locale}.yml: {id}: too many optional keys to check"
                ));
                continue;
            }
            for mask in 0u32..(1 << mentioned.len()) {
                let present = |k: &str| {
                    mentioned
                        .iter()
                        .position(|m| *m == k)
                        .is_none_or(|i| mask & (1 << i) != 0)
                };
                if !parsed.iter().any(|v| v.eligible(&present)) {
                    let absent: Vec<&str> = mentioned
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| mask & (1 << i) == 0)
                        .map(|(_, k)| *k)
                        .collect();
                    problems.push(format!(
                        "{locale}.yml: {id}: no variant fits when {} {} no value",
                        absent.join(", "),
                        if absent.len() == 1 { "has" } else { "have" }
                    ));
                    break;
                }
            }
        }
        problems
    }
}

/// One variant's conditions and placeholders.
struct Variant<'a> {
    requires: Vec<&'a str>,
    forbids: Vec<&'a str>,
    /// The text after the conditions.
    body: &'a str,
}

impl<'a> Variant<'a> {
    fn parse(t: &'a str) -> Self {
        let mut v = Variant {
            requires: Vec::new(),
            forbids: Vec::new(),
            body: t,
        };
        while let Some((list, rest)) = v
            .body
            .strip_prefix("{?")
            .or_else(|| v.body.strip_prefix("{!"))
            .and_then(|rest| rest.split_once('}'))
        {
            let target = if v.body.starts_with("{?") {
                &mut v.requires
            } else {
                &mut v.forbids
            };
            target.extend(list.split(',').map(str::trim).filter(|k| !k.is_empty()));
            v.body = rest;
        }
        v
    }

    /// Keys of placeholders outside optional parts and not in `{, key}` form.
    fn bare_keys(&self) -> impl Iterator<Item = &'a str> + '_ {
        placeholders(self.body)
            .filter(|(prefix, _)| prefix.is_empty())
            .map(|(_, k)| k)
    }

    fn eligible(&self, has: &dyn Fn(&str) -> bool) -> bool {
        self.requires.iter().all(|k| has(k))
            && !self.forbids.iter().any(|k| has(k))
            && self.bare_keys().all(has)
    }
}

/// `(prefix, key)` of every `{…}` placeholder outside `[[ … ]]` parts.
fn placeholders(t: &str) -> impl Iterator<Item = (&str, &str)> {
    let mut out = Vec::new();
    let mut rest = t;
    let mut depth = 0usize;
    loop {
        let next = [rest.find("[["), rest.find("]]"), rest.find('{')]
            .into_iter()
            .flatten()
            .min();
        let Some(at) = next else { break };
        if rest[at..].starts_with("[[") {
            depth += 1;
            rest = &rest[at + 2..];
        } else if rest[at..].starts_with("]]") {
            depth = depth.saturating_sub(1);
            rest = &rest[at + 2..];
        } else {
            let after = &rest[at + 1..];
            let Some(close) = after.find('}') else { break };
            if depth == 0 {
                out.push(split_key(&after[..close]));
            }
            rest = &after[close + 1..];
        }
    }
    out.into_iter()
}

/// `{, name}` → (", ", "name"); `{name}` → ("", "name").
fn split_key(inner: &str) -> (&str, &str) {
    let key_start = inner
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_alphanumeric() || *c == '_')
        .last()
        .map_or(inner.len(), |(i, _)| i);
    inner.split_at(key_start)
}

/// Fills a variant: conditions dropped, optional parts written only when all
/// their placeholders have values, `{key}` and `{, key}` replaced.
pub fn fill(template: &str, vars: &HashMap<&'static str, String>) -> String {
    let body = Variant::parse(template).body;
    let mut out = String::with_capacity(body.len() + 32);
    let mut rest = body;
    while let Some(open) = rest.find("[[") {
        fill_plain(&rest[..open], vars, &mut out);
        let after = &rest[open + 2..];
        let Some(close) = after.find("]]") else {
            fill_plain(after, vars, &mut out);
            return out;
        };
        let section = &after[..close];
        let complete =
            placeholders(section).all(|(_, k)| vars.get(k).is_some_and(|v| !v.is_empty()));
        if complete {
            fill_plain(section, vars, &mut out);
        }
        rest = &after[close + 2..];
    }
    fill_plain(rest, vars, &mut out);
    out
}

/// Replaces `{key}` and `{, key}` placeholders.
fn fill_plain(template: &str, vars: &HashMap<&'static str, String>, out: &mut String) {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return;
        };
        let (prefix, key) = split_key(&after[..close]);
        let value = vars.get(key).map(String::as_str).unwrap_or("");
        if !value.is_empty() {
            out.push_str(prefix);
            out.push_str(value);
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
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
