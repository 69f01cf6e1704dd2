//! wismo's conversational core.
//!
//! Pure and synchronous: no async runtime, no HTTP, no database. Everything here
//! takes text (and a reference time) in and gives plain data out, so the server,
//! the CLI and tests can all drive it the same way.
//!
//! * [`nlu`]: text preprocessing, intent classification, entity extraction and
//!   sentiment analysis, plus training-data readers and the model file format.

pub mod nlu;
