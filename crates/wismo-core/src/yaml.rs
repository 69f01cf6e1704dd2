//! A small YAML document tree that remembers the source line of every node.
//!
//! Built iteratively from yaml-rust2's event parser (no recursion, so deeply
//! nested input cannot overflow the stack), with limits on nesting depth and on
//! the number of nodes (aliases are expanded, so "billion laughs" input is cut off).

use std::collections::HashMap;
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Deepest nesting of sequences/mappings accepted.
const MAX_DEPTH: usize = 64;
/// Most nodes (after alias expansion) accepted in one document.
const MAX_NODES: usize = 2_000_000;

#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub kind: NodeKind,
    /// 1-based source line where the node starts (for block scalars: the first
    /// line with content, after any leading blank lines).
    pub line: usize,
    /// Nodes in this subtree, for the alias-expansion budget.
    size: usize,
}

#[derive(Debug, Clone)]
pub(crate) enum NodeKind {
    Scalar { value: String, style: TScalarStyle },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The scalar's text, unless it is a YAML null (`~`, `null`, or nothing).
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { value, style } => {
                if *style == TScalarStyle::Plain
                    && matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL")
                {
                    None
                } else {
                    Some(value)
                }
            }
            _ => None,
        }
    }

    /// Value for `key` in a mapping (first match).
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.get_kv(key).map(|(_, v)| v)
    }

    /// Key node and value node for `key` in a mapping (first match).
    pub fn get_kv(&self, key: &str) -> Option<(&Node, &Node)> {
        match &self.kind {
            NodeKind::Map(items) => items
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.kind, NodeKind::Scalar { .. }) && self.as_str().is_none()
    }

    /// Human name of the node's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            NodeKind::Scalar { .. } if self.is_null() => "nothing (null)",
            NodeKind::Scalar { .. } => "a string",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }
}

#[derive(Debug)]
pub(crate) struct YamlError {
    pub line: usize,
    pub message: String,
}

enum Frame {
    Seq {
        items: Vec<Node>,
        line: usize,
        anchor: usize,
        size: usize,
    },
    Map {
        items: Vec<(Node, Node)>,
        key: Option<Node>,
        line: usize,
        anchor: usize,
        size: usize,
    },
}

struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    nodes: usize,
    root: Option<Node>,
}

impl Builder {
    fn add(&mut self, node: Node, anchor: usize) -> Result<(), YamlError> {
        self.nodes = self.nodes.saturating_add(node.size);
        if self.nodes > MAX_NODES {
            return Err(YamlError {
                line: node.line,
                message: format!("document is too large (more than {MAX_NODES} YAML nodes)"),
            });
        }
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, size, .. }) => {
                *size += node.size;
                items.push(node);
            }
            Some(Frame::Map {
                items, key, size, ..
            }) => {
                *size += node.size;
                match key.take() {
                    None => *key = Some(node),
                    Some(k) => items.push((k, node)),
                }
            }
        }
        Ok(())
    }

    fn push(&mut self, frame: Frame, line: usize) -> Result<(), YamlError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(YamlError {
                line,
                message: format!("YAML is nested too deeply (more than {MAX_DEPTH} levels)"),
            });
        }
        self.stack.push(frame);
        Ok(())
    }
}

fn line_of(mark: &Marker) -> usize {
    mark.line().max(1)
}

/// Parses the first YAML document of `src`. `Ok(None)` when there is no document
/// (empty file, or only comments). A second document is an error.
pub(crate) fn parse(src: &str) -> Result<Option<Node>, YamlError> {
    let mut parser = Parser::new_from_str(src);
    let mut b = Builder {
        stack: Vec::new(),
        anchors: HashMap::new(),
        nodes: 0,
        root: None,
    };
    let mut documents = 0usize;
    loop {
        let (event, mark) = parser.next_token().map_err(|e| YamlError {
            line: line_of(e.marker()),
            message: format!("invalid YAML: {}", e.info()),
        })?;
        let line = line_of(&mark);
        match event {
            Event::StreamEnd => break,
            Event::Nothing | Event::StreamStart | Event::DocumentEnd => {}
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Err(YamlError {
                        line,
                        message: "more than one YAML document (`---`) in one training file; \
                                  put each document in its own file"
                            .into(),
                    });
                }
            }
            Event::Alias(id) => {
                let node = b.anchors.get(&id).cloned().ok_or_else(|| YamlError {
                    line,
                    message: "alias refers to an unknown anchor".into(),
                })?;
                b.add(node, 0)?;
            }
            Event::Scalar(value, style, anchor, _tag) => {
                let node = Node {
                    kind: NodeKind::Scalar { value, style },
                    line,
                    size: 1,
                };
                b.add(node, anchor)?;
            }
            Event::SequenceStart(anchor, _) => b.push(
                Frame::Seq {
                    items: Vec::new(),
                    line,
                    anchor,
                    size: 1,
                },
                line,
            )?,
            Event::MappingStart(anchor, _) => b.push(
                Frame::Map {
                    items: Vec::new(),
                    key: None,
                    line,
                    anchor,
                    size: 1,
                },
                line,
            )?,
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match b.stack.pop() {
                    Some(Frame::Seq {
                        items,
                        line,
                        anchor,
                        size,
                    }) => (
                        Node {
                            kind: NodeKind::Seq(items),
                            line,
                            size,
                        },
                        anchor,
                    ),
                    Some(Frame::Map {
                        items,
                        line,
                        anchor,
                        size,
                        ..
                    }) => (
                        Node {
                            kind: NodeKind::Map(items),
                            line,
                            size,
                        },
                        anchor,
                    ),
                    None => {
                        return Err(YamlError {
                            line,
                            message: "invalid YAML: unexpected end of collection".into(),
                        })
                    }
                };
                // The collection's own size was counted at its start; its
                // children were counted as they arrived.
                b.nodes = b.nodes.saturating_sub(node.size);
                b.add(node, anchor)?;
            }
        }
    }
    Ok(b.root)
}

/// Parses a document that must have content.
pub(crate) fn parse_document(src: &str) -> Result<Node, YamlError> {
    parse(src)?.ok_or_else(|| YamlError {
        line: 0,
        message: "the file is empty".into(),
    })
}

/// A string or a list of strings (a missing node is an empty list).
pub(crate) fn string_list(node: Option<&Node>) -> Result<Vec<String>, YamlError> {
    let Some(node) = node else {
        return Ok(Vec::new());
    };
    let fail = |line: usize, message: &str| YamlError {
        line,
        message: message.to_string(),
    };
    match &node.kind {
        NodeKind::Seq(items) => items
            .iter()
            .map(|n| {
                n.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| fail(n.line, "expected a string"))
            })
            .collect(),
        NodeKind::Scalar { .. } => Ok(node
            .as_str()
            .map(|s| vec![s.to_string()])
            .unwrap_or_default()),
        NodeKind::Map(_) => Err(fail(node.line, "expected a string or a list of strings")),
    }
}
