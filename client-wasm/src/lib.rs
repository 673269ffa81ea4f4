//! Parole's phone app core: [`parole_client`] (client-core) compiled to WebAssembly, with
//!
//! - [`IdbStorage`](idb_storage::IdbStorage): client-core's `Storage` over IndexedDB;
//! - [`FetchTransport`](fetch::FetchTransport): client-core's `Transport` over `fetch`;
//! - [`ParoleClient`](client::ParoleClient): the JS API the web UI calls (see README.md);
//! - [`designer`]: what the console's questionnaire builder asks (errors as one types, the
//!   preview's `visible` / `validate`, skip logic as picks).
//!
//! The browser-only modules are compiled for `wasm32` only; the pure parts ([`util`],
//! [`error`], [`backup`]) also natively, so `cargo test --workspace` tests them.
//!
//! **Architecture invariant:** this crate adds no rule of its own to validation, queuing or
//! sync: it calls client-core's `Questionnaire`, `Outbox` and `SyncEngine`, so the phone
//! validates, queues and delivers exactly as the CLI and the server do.

pub mod backup;
pub mod error;
pub mod util;

#[cfg(target_arch = "wasm32")]
pub mod client;
#[cfg(target_arch = "wasm32")]
pub mod designer;
#[cfg(target_arch = "wasm32")]
pub mod fetch;
#[cfg(target_arch = "wasm32")]
pub mod idb_storage;
