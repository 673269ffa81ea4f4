//! Native-only parts. STUB.
