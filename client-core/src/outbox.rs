//! The offline outbox. STUB.
