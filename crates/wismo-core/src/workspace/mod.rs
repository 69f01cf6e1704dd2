//! The store workspace: one folder (or stored version) holding everything
//! that makes wismo a particular store's assistant. See `docs/make-it-yours.md`.

mod files;

pub use files::{FilesError, WorkspaceFiles, MAX_FILES, MAX_FILE_BYTES, MAX_TOTAL_BYTES};
