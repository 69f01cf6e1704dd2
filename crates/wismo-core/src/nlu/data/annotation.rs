//! Inline entity annotations in example text:
//! `[1042](order_number)`, `[NYC](city:New York)` and
//! `[New York]{"entity": "city", "value": "NYC", "role": "destination", "group": "1"}`.

use super::AnnotatedEntity;

/// Removes annotation markup from `raw`, returning the plain text and the
/// entities with char offsets into it. Errors are messages without location.
pub(crate) fn strip_annotations(raw: &str) -> Result<(String, Vec<AnnotatedEntity>), String> {
    let chars: Vec<char> = raw.chars().collect();
    let mut text = String::with_capacity(raw.len());
    let mut text_len = 0usize; // in chars
    let mut entities = Vec::new();
    let mut i = 0usize;
    while let Some(&c) = chars.get(i) {
        match c {
            '[' => {
                let open = i;
                let close = find_from(&chars, i + 1, ']').ok_or_else(|| {
                    format!(
                        "unbalanced annotation brackets: `[` at character {} has no closing `]` \
                         (expected `[text](entity)`)",
                        open + 1
                    )
                })?;
                let inner = chars.get(open + 1..close).unwrap_or(&[]);
                match chars.get(close + 1) {
                    Some('(') | Some('{') => {}
                    // `[sic]`: brackets that are not followed by an annotation are text.
                    _ => {
                        if inner.contains(&'[') {
                            return Err(format!(
                                "unbalanced annotation brackets: `[` at character {} has no \
                                 closing `]`",
                                open + 1
                            ));
                        }
                        for &ch in chars.get(open..=close).unwrap_or(&[]) {
                            text.push(ch);
                        }
                        text_len += close + 1 - open;
                        i = close + 1;
                        continue;
                    }
                }
                if inner.contains(&'[') {
                    return Err(format!(
                        "unbalanced annotation brackets: `[` at character {} is not closed \
                         before the next `[`",
                        open + 1
                    ));
                }
                let surface: String = inner.iter().collect();
                if surface.trim().is_empty() {
                    return Err(format!(
                        "annotation at character {} marks empty text `[]`",
                        open + 1
                    ));
                }
                let (entity, value, role, group, next) = if chars.get(close + 1) == Some(&'(') {
                    let end = find_from(&chars, close + 2, ')').ok_or_else(|| {
                        format!(
                            "unbalanced annotation brackets: `(` at character {} has no closing `)`",
                            close + 2
                        )
                    })?;
                    let spec: String = chars.get(close + 2..end).unwrap_or(&[]).iter().collect();
                    let (name, value) = match spec.split_once(':') {
                        Some((n, v)) => (n.trim().to_string(), Some(v.trim().to_string())),
                        None => (spec.trim().to_string(), None),
                    };
                    if name.is_empty() {
                        return Err(format!(
                            "annotation `[{surface}]({spec})` has an empty entity name"
                        ));
                    }
                    if value.as_deref() == Some("") {
                        return Err(format!(
                            "annotation `[{surface}]({spec})` has an empty value after `:`"
                        ));
                    }
                    (name, value, None, None, end + 1)
                } else {
                    let end = find_json_end(&chars, close + 1).ok_or_else(|| {
                        format!(
                            "unbalanced annotation brackets: `{{` at character {} has no closing `}}`",
                            close + 2
                        )
                    })?;
                    let json: String = chars.get(close + 1..=end).unwrap_or(&[]).iter().collect();
                    let (e, v, r, g) = parse_json_spec(&json)?;
                    (e, v, r, g, end + 1)
                };
                let start = text_len;
                text.push_str(&surface);
                text_len += inner.len();
                entities.push(AnnotatedEntity {
                    entity,
                    value: value.unwrap_or_else(|| surface.clone()),
                    start,
                    end: text_len,
                    role,
                    group,
                });
                i = next;
            }
            ']' if matches!(chars.get(i + 1), Some('(') | Some('{')) => {
                return Err(format!(
                    "unbalanced annotation brackets: `]` at character {} has no opening `[`",
                    i + 1
                ));
            }
            _ => {
                text.push(c);
                text_len += 1;
                i += 1;
            }
        }
    }
    Ok((text, entities))
}

fn find_from(chars: &[char], from: usize, target: char) -> Option<usize> {
    chars
        .get(from..)?
        .iter()
        .position(|&c| c == target)
        .map(|p| p + from)
}

/// Index of the `}` closing the JSON object that starts at `open` (a `{`),
/// skipping braces inside JSON strings.
fn find_json_end(chars: &[char], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (k, &c) in chars.get(open..)?.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' => depth += 1,
            '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(open + k);
                }
            }
            _ => {}
        }
    }
    None
}

type Spec = (String, Option<String>, Option<String>, Option<String>);

fn parse_json_spec(json: &str) -> Result<Spec, String> {
    let value: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| format!("annotation JSON `{json}` does not parse: {e}"))?;
    let obj = value
        .as_object()
        .ok_or_else(|| format!("annotation JSON `{json}` is not an object"))?;
    let field = |key: &str| -> Result<Option<String>, String> {
        match obj.get(key) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.trim().to_string())),
            Some(serde_json::Value::Number(n)) => Ok(Some(n.to_string())),
            Some(serde_json::Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(_) => Err(format!(
                "annotation JSON `{json}`: \"{key}\" must be a string"
            )),
        }
    };
    let entity = field("entity")?
        .filter(|e| !e.is_empty())
        .ok_or_else(|| format!("annotation JSON `{json}` lacks \"entity\""))?;
    Ok((entity, field("value")?, field("role")?, field("group")?))
}
