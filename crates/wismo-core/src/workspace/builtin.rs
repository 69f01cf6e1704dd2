//! The built-in workspace as files: what `wismo init` writes for a store to
//! edit. Loading an empty workspace gives the same assistant.

use super::WorkspaceFiles;

/// The built-in `store.toml`, with a comment on every setting.
pub(crate) const STORE_TOML: &str = include_str!("../../data/workspace/store.toml");

const FILES: &[(&str, &str)] = &[
    ("store.toml", STORE_TOML),
    ("flows.yml", include_str!("../../data/dialogue/flows.yml")),
    (
        "templates/en.yml",
        include_str!("../../data/dialogue/templates/en.yml"),
    ),
    (
        "templates/es.yml",
        include_str!("../../data/dialogue/templates/es.yml"),
    ),
    ("nlu/orders.yml", include_str!("../../data/nlu/orders.yml")),
    (
        "nlu/returns.yml",
        include_str!("../../data/nlu/returns.yml"),
    ),
    (
        "nlu/payments.yml",
        include_str!("../../data/nlu/payments.yml"),
    ),
    (
        "nlu/shipping.yml",
        include_str!("../../data/nlu/shipping.yml"),
    ),
    (
        "nlu/account.yml",
        include_str!("../../data/nlu/account.yml"),
    ),
    (
        "nlu/conversation.yml",
        include_str!("../../data/nlu/conversation.yml"),
    ),
    ("catalogue.json", include_str!("../../data/catalogue.json")),
    (
        "knowledge/en/shipping.md",
        include_str!("../../data/knowledge/en/shipping.md"),
    ),
    (
        "knowledge/en/returns.md",
        include_str!("../../data/knowledge/en/returns.md"),
    ),
    (
        "knowledge/en/payments.md",
        include_str!("../../data/knowledge/en/payments.md"),
    ),
    (
        "knowledge/en/international.md",
        include_str!("../../data/knowledge/en/international.md"),
    ),
    (
        "knowledge/en/contact.md",
        include_str!("../../data/knowledge/en/contact.md"),
    ),
    (
        "knowledge/en/orders.md",
        include_str!("../../data/knowledge/en/orders.md"),
    ),
    (
        "knowledge/es/shipping.md",
        include_str!("../../data/knowledge/es/shipping.md"),
    ),
    (
        "knowledge/es/returns.md",
        include_str!("../../data/knowledge/es/returns.md"),
    ),
    (
        "knowledge/es/payments.md",
        include_str!("../../data/knowledge/es/payments.md"),
    ),
    (
        "knowledge/es/international.md",
        include_str!("../../data/knowledge/es/international.md"),
    ),
    (
        "knowledge/es/contact.md",
        include_str!("../../data/knowledge/es/contact.md"),
    ),
    (
        "knowledge/es/orders.md",
        include_str!("../../data/knowledge/es/orders.md"),
    ),
    (
        "tests/example.yml",
        include_str!("../../data/workspace/tests/example.yml"),
    ),
];

/// An editable copy of the built-ins for `wismo init`: a commented
/// `store.toml`, the knowledge pages, `flows.yml`, `templates/en.yml` and
/// `es.yml`, the `nlu/` training data, the catalogue and an example test.
pub fn builtin_files() -> WorkspaceFiles {
    let mut files = WorkspaceFiles::new();
    for (path, text) in FILES {
        // Paths and sizes are fixed here and within the limits (tested).
        let _ = files.insert(path, *text);
    }
    files
}
