//! wismo's conversational core.
//!
//! Pure and synchronous: no async runtime, no HTTP, no database. Everything here
//! takes text (and a reference time) in and gives plain data out, so the server,
//! the CLI and tests can all drive it the same way.
//!
//! * [`nlu`]: text preprocessing, intent classification, entity extraction and
//!   sentiment analysis, plus training-data readers and the model file format.
//! * [`store`]: the order/customer/case traits the assistant uses, and an
//!   in-memory implementation over Shopify order JSON.
//! * [`knowledge`]: policy and FAQ articles searched with BM25.
//! * [`workspace`]: a store workspace (profile, knowledge, flows, templates,
//!   training data, catalogue, tests) as files, and what it builds.

pub mod dialogue;
pub mod knowledge;
pub mod nlu;
pub mod redact;
pub mod store;
pub mod workspace;
pub(crate) mod yaml;
