//! The knowledge base: policy and FAQ articles, searched with BM25.
//!
//! Articles are files, one per topic, grouped by locale: Markdown (`# Title`
//! and `## Heading` sections, or plain paragraphs without any heading), plain
//! text, or simple HTML pages (see the `article` and `html` modules). Each is
//! split into passages: sections under headings, otherwise paragraphs, and
//! long ones into overlapping windows of whole sentences; an answer is always
//! one passage as written. The built-in set ([`KnowledgeBase::builtin`])
//! covers a general online store in English and Spanish (`shipping`,
//! `returns`, `payments`, `international`, `contact`, `orders`);
//! [`KnowledgeBase::from_dir`] reads a store's own.
//!
//! Passages are ranked with BM25F (Okapi BM25 over three fields: article
//! title with the file name, section heading and passage text; see the
//! `index` module), after lower-casing, accent folding, per-language stop
//! words, light stemming and a few shopper synonyms (see the `text` module).
//! A question word the articles never use is corrected to a known word at
//! edit distance 1 ("retunr" -> "return") when it is at least five letters;
//! a framing word no article uses ("policy", "método") is left out.
//!
//! # When the knowledge base declines
//!
//! [`KnowledgeBase::answer`] answers with the best-ranked passage (of the
//! first [`MAX_CANDIDATES`]) that passes all of:
//!
//! * **coverage** ≥ [`MIN_COVERAGE`]: the passage contains query terms that
//!   carry at least half of the question's information (idf-weighted; a word
//!   no article uses weighs as much as the rarest word they do use, so
//!   "what's the weather in paris" covers nothing);
//! * **score** ≥ [`MIN_SCORE`]: the BM25F score divided by the question's
//!   total idf (the most it could reach), so the match is not just a passing
//!   mention;
//! * **specificity**: the matched terms' idf sums to at least ln 2, the idf of
//!   a term found in half of the passages (or, in a one-passage knowledge
//!   base, the idf of its terms), so a question made only of words that are
//!   everywhere is not answered with an arbitrary passage.

mod article;
mod html;
mod index;
mod text;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use index::{Hit, LocaleIndex};

/// Least share of the question's idf mass the best passage must contain.
pub const MIN_COVERAGE: f32 = 0.5;
/// Least normalised BM25F score (score / question's total idf) to answer.
pub const MIN_SCORE: f32 = 0.2;
/// How many of the best-ranked passages [`KnowledgeBase::answer`] considers.
pub const MAX_CANDIDATES: usize = 50;
/// Largest article file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// Most article files read from one folder.
pub const MAX_FILES: usize = 1000;
/// The locale used when the requested one has no articles.
pub const FALLBACK_LOCALE: &str = "en";

/// The best passage for a question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// The article's file stem, e.g. `returns`.
    pub article_id: String,
    /// The article's title (`# Title`, `<h1>`, `<title>` or the file name).
    pub title: String,
    /// The passage as written: a section, a paragraph or a run of whole
    /// sentences (without its heading).
    pub passage: String,
    /// Normalised BM25F score in `[0, 1)`: comparable across questions.
    pub score: f32,
}

/// A folder or file that cannot be read as articles.
#[derive(Debug, thiserror::Error)]
#[error("{path}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct KnowledgeError {
    pub path: String,
    /// The line the problem is on, where there is one.
    pub line: Option<usize>,
    pub message: String,
}

/// An indexed set of articles in one or more locales.
#[derive(Debug, Clone, Default)]
pub struct KnowledgeBase {
    locales: BTreeMap<String, LocaleIndex>,
}

/// The built-in articles: (locale, id, Markdown).
const BUILTIN: &[(&str, &str, &str)] = &[
    (
        "en",
        "shipping",
        include_str!("../../data/knowledge/en/shipping.md"),
    ),
    (
        "en",
        "returns",
        include_str!("../../data/knowledge/en/returns.md"),
    ),
    (
        "en",
        "payments",
        include_str!("../../data/knowledge/en/payments.md"),
    ),
    (
        "en",
        "international",
        include_str!("../../data/knowledge/en/international.md"),
    ),
    (
        "en",
        "contact",
        include_str!("../../data/knowledge/en/contact.md"),
    ),
    (
        "en",
        "orders",
        include_str!("../../data/knowledge/en/orders.md"),
    ),
    (
        "es",
        "shipping",
        include_str!("../../data/knowledge/es/shipping.md"),
    ),
    (
        "es",
        "returns",
        include_str!("../../data/knowledge/es/returns.md"),
    ),
    (
        "es",
        "payments",
        include_str!("../../data/knowledge/es/payments.md"),
    ),
    (
        "es",
        "international",
        include_str!("../../data/knowledge/es/international.md"),
    ),
    (
        "es",
        "contact",
        include_str!("../../data/knowledge/es/contact.md"),
    ),
    (
        "es",
        "orders",
        include_str!("../../data/knowledge/es/orders.md"),
    ),
];

impl KnowledgeBase {
    /// The articles shipped with wismo (English and Spanish), indexed, with
    /// the built-in profile's values in place of their `{store.…}` keys.
    pub fn builtin() -> Self {
        let profile = crate::workspace::builtin_profile();
        Self::builtin_filled(&|locale, text| {
            crate::workspace::fill_page(text, &profile, locale)
                .map(|t| t.into_owned())
                .unwrap_or_else(|_| text.to_string())
        })
    }

    /// The built-in articles with `fill(locale, text)` applied to each (a
    /// store's profile values, see [`crate::workspace`]).
    pub fn builtin_filled(fill: &dyn Fn(&str, &str) -> String) -> Self {
        let mut by_locale: BTreeMap<String, Vec<article::Article>> = BTreeMap::new();
        for (locale, id, markdown) in BUILTIN {
            // The built-in articles are checked by tests; one that failed to
            // parse would simply be missing rather than panic here.
            let text = fill(locale, markdown);
            if let Ok(a) = article::parse_as(id, &text, article::Format::Markdown) {
                by_locale.entry((*locale).to_string()).or_default().push(a);
            }
        }
        Self::from_articles(by_locale)
    }

    fn from_articles(by_locale: BTreeMap<String, Vec<article::Article>>) -> Self {
        let locales = by_locale
            .into_iter()
            .map(|(locale, articles)| {
                let idx = LocaleIndex::build(&locale, articles);
                (locale, idx)
            })
            .collect();
        KnowledgeBase { locales }
    }

    /// Reads a folder of articles: `path/<locale>/*` (folders named like a
    /// locale: `en`, `es`, `pt-BR`, ...), or `path/*` as English when there
    /// are no locale folders. Articles are Markdown (`.md`, `.markdown`),
    /// plain text (`.txt`) or HTML (`.html`, `.htm`); other files are
    /// ignored. The article id is the file stem. Errors name the file (and
    /// the line where there is one): unreadable, larger than
    /// [`MAX_FILE_BYTES`], not UTF-8, empty, without text, two files with one
    /// id; or the folder: missing, more than [`MAX_FILES`] articles, or none.
    pub fn from_dir(path: &Path) -> Result<Self, KnowledgeError> {
        let err = |p: &Path, message: String| KnowledgeError {
            path: p.display().to_string(),
            line: None,
            message,
        };
        let entries = list_dir(path).map_err(|e| err(path, format!("cannot read folder: {e}")))?;
        let mut locale_dirs: Vec<(String, std::path::PathBuf)> = entries
            .iter()
            .filter(|p| p.is_dir())
            .filter_map(|p| {
                let name = p.file_name()?.to_str()?;
                locale_tag(name).map(|tag| (tag, p.clone()))
            })
            .collect();
        if locale_dirs.is_empty() {
            locale_dirs.push((FALLBACK_LOCALE.to_string(), path.to_path_buf()));
        }
        let mut by_locale: BTreeMap<String, Vec<article::Article>> = BTreeMap::new();
        for (locale, dir) in locale_dirs {
            let files = if dir == path {
                entries.clone()
            } else {
                list_dir(&dir).map_err(|e| err(&dir, format!("cannot read folder: {e}")))?
            };
            let articles: Vec<(&std::path::PathBuf, article::Format)> = files
                .iter()
                .filter(|p| p.is_file())
                .filter_map(|p| {
                    let ext = p.extension()?.to_str()?;
                    Some((p, article::Format::from_extension(ext)?))
                })
                .collect();
            if articles.len() > MAX_FILES {
                return Err(err(
                    &dir,
                    format!("more than {MAX_FILES} articles in one folder"),
                ));
            }
            let mut seen: BTreeMap<String, &std::path::PathBuf> = BTreeMap::new();
            for (file, format) in articles {
                let id = file
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .ok_or_else(|| err(file, "the file name is not valid UTF-8".into()))?;
                if let Some(other) = seen.insert(id.to_string(), file) {
                    return Err(err(
                        file,
                        format!(
                            "another article has the same name: {}",
                            other.file_name().and_then(|n| n.to_str()).unwrap_or(id)
                        ),
                    ));
                }
                let text = read_limited(file).map_err(|(line, m)| KnowledgeError {
                    line,
                    ..err(file, m)
                })?;
                let article = article::parse_as(id, &text, format).map_err(|e| KnowledgeError {
                    line: e.line,
                    ..err(file, e.message)
                })?;
                by_locale.entry(locale.clone()).or_default().push(article);
            }
        }
        if by_locale.is_empty() {
            return Err(err(path, "no articles (*.md, *.txt, *.html) found".into()));
        }
        Ok(Self::from_articles(by_locale))
    }

    /// Builds the knowledge base from in-memory files: `(path, text)` with
    /// paths relative to the knowledge folder, `<locale>/<name>.<ext>` or
    /// `<name>.<ext>` (English when no path has a locale folder), with the
    /// same rules and errors as [`from_dir`](Self::from_dir) (deeper folders
    /// under a locale are read as part of it). `prefix` is put before paths
    /// in errors.
    pub fn from_files<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
        prefix: &str,
    ) -> Result<Self, KnowledgeError> {
        let err = |p: &str, line: Option<usize>, message: String| KnowledgeError {
            path: format!("{prefix}{p}"),
            line,
            message,
        };
        let files: Vec<(&str, &str)> = files.into_iter().collect();
        let has_locales = files.iter().any(|(p, _)| {
            p.split_once('/')
                .is_some_and(|(d, _)| locale_tag(d).is_some())
        });
        let mut by_locale: BTreeMap<String, Vec<article::Article>> = BTreeMap::new();
        let mut seen: BTreeMap<(String, String), &str> = BTreeMap::new();
        for (path, text) in &files {
            let (locale, name) = match path.split_once('/') {
                Some((d, rest)) if has_locales => match locale_tag(d) {
                    Some(l) => (l, rest.rsplit('/').next().unwrap_or(rest)),
                    None => continue,
                },
                _ if has_locales => continue,
                _ => (
                    FALLBACK_LOCALE.to_string(),
                    path.rsplit('/').next().unwrap_or(path),
                ),
            };
            let Some((id, ext)) = name.rsplit_once('.') else {
                continue;
            };
            let Some(format) = article::Format::from_extension(ext) else {
                continue;
            };
            if text.len() as u64 > MAX_FILE_BYTES {
                return Err(err(
                    path,
                    None,
                    format!("larger than {MAX_FILE_BYTES} bytes"),
                ));
            }
            if let Some(other) = seen.insert((locale.clone(), id.to_string()), path) {
                return Err(err(
                    path,
                    None,
                    format!("another article has the same name: {other}"),
                ));
            }
            let a =
                article::parse_as(id, text, format).map_err(|e| err(path, e.line, e.message))?;
            let list = by_locale.entry(locale).or_default();
            if list.len() >= MAX_FILES {
                return Err(err(
                    path,
                    None,
                    format!("more than {MAX_FILES} articles in one language"),
                ));
            }
            list.push(a);
        }
        if by_locale.is_empty() {
            return Err(err(
                "",
                None,
                "no articles (*.md, *.txt, *.html) found".into(),
            ));
        }
        Ok(Self::from_articles(by_locale))
    }

    /// The best passage for `question` in `locale`, or `None` when nothing
    /// matches well enough to answer (see the module documentation).
    pub fn answer(&self, question: &str, locale: &str) -> Option<Answer> {
        let idx = self.index(locale)?;
        let floor = idx.specificity_floor();
        // The best-ranked passage that passes the rule: a long passage that
        // holds the answer is not hidden by a short one that merely shares a
        // common word with the question.
        let best = idx
            .search(question)
            .into_iter()
            .take(MAX_CANDIDATES)
            .find(|h| {
                h.coverage >= MIN_COVERAGE && h.score >= MIN_SCORE && h.matched_idf >= floor
            })?;
        to_answer(idx, &best)
    }

    /// The `limit` best passages for `question`, best first, whether or not
    /// they would pass the rule [`answer`](Self::answer) applies (for
    /// debugging and tuning). Only passages sharing a term with the question
    /// are listed.
    pub fn search(&self, question: &str, locale: &str, limit: usize) -> Vec<Answer> {
        let Some(idx) = self.index(locale) else {
            return Vec::new();
        };
        idx.search(question)
            .iter()
            .take(limit)
            .filter_map(|h| to_answer(idx, h))
            .collect()
    }

    /// The locale whose articles a question in `locale` is answered from:
    /// the locale itself ("es-MX", case and `_`/`-` insensitive), else its
    /// language ("es"), else [`FALLBACK_LOCALE`]; `None` if none has articles.
    pub fn resolve_locale(&self, locale: &str) -> Option<&str> {
        let tag = locale.trim().to_ascii_lowercase().replace('_', "-");
        let primary = tag.split('-').next().unwrap_or("");
        let found = [tag.as_str(), primary, FALLBACK_LOCALE]
            .into_iter()
            .find_map(|l| self.locales.get_key_value(l).map(|(k, _)| k.as_str()));
        found
    }

    /// The locales that have articles, sorted.
    pub fn locales(&self) -> Vec<&str> {
        self.locales.keys().map(String::as_str).collect()
    }

    /// The ids of the articles a question in `locale` is answered from (after
    /// [`resolve_locale`](Self::resolve_locale)), in load order.
    pub fn article_ids(&self, locale: &str) -> Vec<&str> {
        self.index(locale)
            .map(|idx| idx.articles.iter().map(|a| a.id.as_str()).collect())
            .unwrap_or_default()
    }

    fn index(&self, locale: &str) -> Option<&LocaleIndex> {
        self.locales.get(self.resolve_locale(locale)?)
    }
}

fn to_answer(idx: &LocaleIndex, hit: &Hit) -> Option<Answer> {
    let p = idx.passages.get(hit.passage)?;
    let article = idx.articles.get(p.article)?;
    let passage = article.passages.get(p.passage)?;
    Some(Answer {
        article_id: article.id.clone(),
        title: article.title.clone(),
        passage: passage.text.clone(),
        score: hit.score,
    })
}

/// The entries of `dir`, sorted by name.
fn list_dir(dir: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut out = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<Vec<_>>>()?;
    out.sort();
    Ok(out)
}

/// A file's text, at most [`MAX_FILE_BYTES`]; the error may carry a line.
fn read_limited(file: &Path) -> Result<String, (Option<usize>, String)> {
    use std::io::Read;
    let f = std::fs::File::open(file).map_err(|e| (None, format!("cannot read: {e}")))?;
    let mut bytes = Vec::new();
    f.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| (None, format!("cannot read: {e}")))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err((
            None,
            format!("the file is larger than {} KiB", MAX_FILE_BYTES / 1024),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let line = 1 + e.as_bytes()[..valid]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        (Some(line), format!("not valid UTF-8 ({})", e.utf8_error()))
    })
}

/// `Some("pt-br")` for folder names like `pt-BR`, `pt_BR`, `es`, `fil`.
fn locale_tag(name: &str) -> Option<String> {
    let lower = name.to_ascii_lowercase().replace('_', "-");
    let mut parts = lower.split('-');
    let primary = parts.next()?;
    let region_ok = match parts.next() {
        None => true,
        Some(r) => (2..=4).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_alphanumeric()),
    };
    let ok = (2..=3).contains(&primary.len())
        && primary.bytes().all(|b| b.is_ascii_lowercase())
        && region_ok
        && parts.next().is_none();
    ok.then_some(lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locale_folder_names() {
        for (name, want) in [
            ("en", Some("en")),
            ("pt_BR", Some("pt-br")),
            ("es-419", Some("es-419")),
            ("fil", Some("fil")),
            ("images", None),
            ("e", None),
            ("en-us-x", None),
            ("ñn", None),
        ] {
            assert_eq!(locale_tag(name).as_deref(), want, "{name}");
        }
    }
}
