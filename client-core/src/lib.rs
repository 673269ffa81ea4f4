//! Parole's client core: everything a device needs to collect responses offline and deliver
//! them exactly once, shared by the phone (compiled to WebAssembly), the CLI and the server.
//!
//! - [`questionnaire`]: parse a questionnaire document (the format in
//!   `questionnaire-format.md`) into a typed model, refusing a broken one with every error.
//! - [`changes`]: what changed between two versions of a questionnaire, and whether it would
//!   make the responses already received unreadable (then publishing is refused).
//! - [`validate`]: validate a response's answers exactly as the format says (skip logic first).
//! - [`response`]: a response, its identity and its content hash.
//! - [`api`]: the HTTP API v1's wire types, used by the server and the clients alike.
//! - [`outbox`]: the offline queue, behind the [`outbox::Storage`] trait.
//! - [`retention`]: what a device keeps (a sent response's answers and photos are erased).
//! - [`sync`]: the sync engine, behind the [`sync::Transport`] trait. It never touches the
//!   network itself.
//!
//! With the `jsonschema` feature (default), answers are validated by the `jsonschema` crate;
//! without it (the phone's wasm), by the compact validator of [`schema`], and
//! [`Questionnaire::parse`] skips the meta-schema pass (the server checked the document).
//!
//! With the `native` feature: a file-backed [`Storage`](outbox::Storage) and a reqwest
//! [`Transport`](sync::Transport). Without it the crate builds for `wasm32-unknown-unknown`.

pub mod api;
pub mod backup;
pub mod changes;
pub mod condition;
pub mod i18n;
pub mod outbox;
pub mod questionnaire;
pub mod response;
pub mod retention;
pub mod schema;
pub mod sync;
pub mod validate;

#[cfg(feature = "native")]
pub mod native;

pub use questionnaire::Questionnaire;
pub use response::{ContentHash, Response, ResponseId};
pub use schema::Engine;
pub use validate::ValidationError;
