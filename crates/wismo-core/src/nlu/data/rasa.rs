//! Rasa NLU YAML training data (the Rasa 2.x/3.x `nlu:` format).

use super::annotation::strip_annotations;
use super::{DataError, Example, LookupTable, RegexEntry, Synonym, TrainingData};
use crate::yaml::{self as yaml_tree, Node, NodeKind};
use std::collections::HashMap;
use yaml_rust2::scanner::TScalarStyle;

/// Top-level keys Rasa allows next to `nlu:`; their content is not training data
/// for the NLU and is skipped.
const OTHER_RASA_KEYS: &[&str] = &[
    "version",
    "responses",
    "stories",
    "rules",
    "intents",
    "entities",
    "slots",
    "forms",
    "actions",
    "session_config",
    "e2e_actions",
    "retrieval_intents",
    "config",
];

const ENTRY_KINDS: &[&str] = &["intent", "synonym", "regex", "lookup"];

struct Ctx<'a> {
    file: &'a str,
}

impl Ctx<'_> {
    fn err(&self, line: usize, message: impl Into<String>) -> DataError {
        DataError {
            file: self.file.to_string(),
            line,
            message: message.into(),
        }
    }
}

pub(crate) fn parse(src: &str, file: &str) -> Result<TrainingData, DataError> {
    let cx = Ctx { file };
    let src = src.strip_prefix('\u{feff}').unwrap_or(src);
    let root = yaml_tree::parse(src)
        .map_err(|e| cx.err(e.line, e.message))?
        .ok_or_else(|| {
            cx.err(
                0,
                "file is empty: expected Rasa NLU YAML with an `nlu:` section",
            )
        })?;
    let NodeKind::Map(items) = &root.kind else {
        return Err(cx.err(
            root.line,
            format!(
                "expected a mapping with an `nlu:` key at the top level, found {}",
                root.type_name()
            ),
        ));
    };

    let mut data = TrainingData::default();
    let mut seen_examples: HashMap<String, (String, usize)> = HashMap::new();
    let mut recognised = false;
    for (key, value) in items {
        match key.as_str() {
            Some("nlu") => {
                recognised = true;
                parse_nlu(&cx, value, &mut data, &mut seen_examples)?;
            }
            Some(k) if OTHER_RASA_KEYS.contains(&k) => recognised = true,
            _ => {}
        }
    }
    if !recognised {
        let keys: Vec<&str> = items.iter().filter_map(|(k, _)| k.as_str()).collect();
        return Err(cx.err(
            root.line,
            format!(
                "no `nlu:` section: this does not look like Rasa NLU training data \
                 (top-level keys: {})",
                if keys.is_empty() {
                    "none".to_string()
                } else {
                    keys.join(", ")
                }
            ),
        ));
    }
    Ok(data)
}

fn parse_nlu(
    cx: &Ctx,
    nlu: &Node,
    data: &mut TrainingData,
    seen: &mut HashMap<String, (String, usize)>,
) -> Result<(), DataError> {
    let entries = match &nlu.kind {
        NodeKind::Seq(entries) => entries,
        _ if nlu.is_null() => return Ok(()),
        _ => {
            return Err(cx.err(
                nlu.line,
                format!(
                    "`nlu` must be a list of entries (`- intent: ...`), found {}",
                    nlu.type_name()
                ),
            ))
        }
    };
    for entry in entries {
        parse_entry(cx, entry, data, seen)?;
    }
    Ok(())
}

fn parse_entry(
    cx: &Ctx,
    entry: &Node,
    data: &mut TrainingData,
    seen: &mut HashMap<String, (String, usize)>,
) -> Result<(), DataError> {
    let NodeKind::Map(items) = &entry.kind else {
        return Err(cx.err(
            entry.line,
            format!(
                "`nlu` entry must be a mapping such as `- intent: greet`, found {}",
                entry.type_name()
            ),
        ));
    };
    let kinds: Vec<(&str, &Node, &Node)> = items
        .iter()
        .filter_map(|(k, v)| {
            let name = k.as_str()?;
            ENTRY_KINDS
                .iter()
                .find(|&&kind| kind == name)
                .map(|&kind| (kind, k, v))
        })
        .collect();
    let (kind, key_node, name_node) = match kinds.as_slice() {
        [one] => *one,
        [] => {
            let keys: Vec<&str> = items.iter().filter_map(|(k, _)| k.as_str()).collect();
            return Err(cx.err(
                entry.line,
                format!(
                    "`nlu` entry needs one of `intent:`, `synonym:`, `regex:` or `lookup:` \
                     (found keys: {})",
                    if keys.is_empty() {
                        "none".to_string()
                    } else {
                        keys.join(", ")
                    }
                ),
            ));
        }
        [first, second, ..] => {
            return Err(cx.err(
                second.1.line,
                format!(
                    "`nlu` entry has both `{}:` and `{}:`; split it into two entries",
                    first.0, second.0
                ),
            ))
        }
    };
    let what = match kind {
        "intent" => "intent name",
        "synonym" => "synonym value",
        "regex" => "regex name",
        _ => "lookup name",
    };
    let name = match &name_node.kind {
        NodeKind::Scalar { .. } => name_node.as_str().unwrap_or("").trim().to_string(),
        _ => {
            return Err(cx.err(
                name_node.line,
                format!("`{kind}` must be a string, found {}", name_node.type_name()),
            ))
        }
    };
    if name.is_empty() {
        return Err(cx.err(key_node.line, format!("empty {what} in `{kind}:`")));
    }
    let Some((examples_key, examples)) = entry.get_kv("examples") else {
        return Err(cx.err(key_node.line, format!("{kind} `{name}` has no `examples`")));
    };
    let lines = example_lines(cx, examples_key, examples, kind, &name)?;
    if lines.is_empty() {
        return Err(cx.err(
            examples_key.line,
            format!("{kind} `{name}` has no examples (the `examples` block is empty)"),
        ));
    }
    match kind {
        "intent" => {
            for (line, raw) in lines {
                let (text, entities) =
                    strip_annotations(&raw).map_err(|m| cx.err(line, format!("{m} in `{raw}`")))?;
                if text.trim().is_empty() {
                    return Err(cx.err(line, "empty example (no text left after annotations)"));
                }
                match seen.get(&text) {
                    Some((other, first_line)) if *other != name => {
                        return Err(cx.err(
                            line,
                            format!(
                                "example \"{text}\" is listed under intent `{name}` and also \
                                 under intent `{other}` (line {first_line}); an example can \
                                 have only one intent"
                            ),
                        ))
                    }
                    Some(_) => {}
                    None => {
                        seen.insert(text.clone(), (name.clone(), line));
                    }
                }
                data.examples.push(Example {
                    text,
                    intent: name.clone(),
                    entities,
                });
            }
        }
        "synonym" => data.synonyms.push(Synonym {
            value: name,
            examples: lines.into_iter().map(|(_, t)| t).collect(),
        }),
        "regex" => {
            for (line, pattern) in &lines {
                if let Err(e) = regex::Regex::new(pattern) {
                    let reason = crate::nlu::custom_entities::regex_error_reason(&e);
                    return Err(cx.err(
                        *line,
                        format!("invalid regex `{pattern}` in `regex: {name}`: {reason}"),
                    ));
                }
            }
            data.regexes.push(RegexEntry {
                name,
                patterns: lines.into_iter().map(|(_, t)| t).collect(),
            });
        }
        _ => data.lookups.push(LookupTable {
            name,
            elements: lines.into_iter().map(|(_, t)| t).collect(),
        }),
    }
    Ok(())
}

/// The example texts of an `examples:` value with their source lines.
fn example_lines(
    cx: &Ctx,
    key: &Node,
    examples: &Node,
    kind: &str,
    name: &str,
) -> Result<Vec<(usize, String)>, DataError> {
    let mut out = Vec::new();
    match &examples.kind {
        NodeKind::Scalar { value, style } if !examples.is_null() => {
            // In a literal block (`|`) every line of the value is one source
            // line; the node's line is that of the first non-blank one.
            let leading_blank = value.chars().take_while(|&c| c == '\n').count();
            let first = examples.line.saturating_sub(leading_blank).max(1);
            for (k, raw) in value.lines().enumerate() {
                let line = match style {
                    TScalarStyle::Literal => first.saturating_add(k),
                    _ => examples.line,
                };
                let trimmed = raw.trim();
                // Inside a block scalar a `#` line is text by YAML rules, not a
                // comment; it is not an example either, so it is skipped.
                if trimmed.is_empty() || trimmed.starts_with('#') {
                    continue;
                }
                let Some(rest) = trimmed.strip_prefix('-') else {
                    return Err(cx.err(
                        line,
                        format!("expected an example line starting with `- `, found `{trimmed}`"),
                    ));
                };
                if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
                    return Err(cx.err(
                        line,
                        format!(
                            "expected an example line starting with `- ` (dash and space), \
                             found `{trimmed}`"
                        ),
                    ));
                }
                let text = rest.trim();
                if text.is_empty() {
                    return Err(cx.err(line, format!("empty example in {kind} `{name}`")));
                }
                out.push((line, text.to_string()));
            }
        }
        NodeKind::Seq(items) => {
            for item in items {
                let text_node = match &item.kind {
                    NodeKind::Map(_) => item.get("text").ok_or_else(|| {
                        cx.err(
                            item.line,
                            format!("list example in {kind} `{name}` has no `text:`"),
                        )
                    })?,
                    NodeKind::Scalar { .. } => item,
                    NodeKind::Seq(_) => {
                        return Err(cx.err(
                            item.line,
                            format!(
                                "list example in {kind} `{name}` must be `- text: ...`, \
                                 found a list"
                            ),
                        ))
                    }
                };
                let text = match &text_node.kind {
                    NodeKind::Scalar { .. } => text_node.as_str().unwrap_or("").trim(),
                    _ => {
                        return Err(cx.err(
                            text_node.line,
                            format!(
                                "`text` in {kind} `{name}` must be a string, found {}",
                                text_node.type_name()
                            ),
                        ))
                    }
                };
                if text.is_empty() {
                    let line = if text_node.is_null() {
                        item.line
                    } else {
                        text_node.line
                    };
                    return Err(cx.err(line, format!("empty example in {kind} `{name}`")));
                }
                out.push((text_node.line, text.to_string()));
            }
        }
        _ => {
            return Err(cx.err(
                if examples.is_null() {
                    key.line
                } else {
                    examples.line
                },
                format!(
                    "`examples` of {kind} `{name}` must be a block string (`examples: |`) or a \
                     list of `- text:` entries, found {}",
                    examples.type_name()
                ),
            ))
        }
    }
    Ok(out)
}
