//! The sync engine. STUB.
