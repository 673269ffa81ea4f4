//! The server's integration tests, one binary (`cargo test -p parole-server --test api`):
//! the router against a real PostgreSQL (a fresh database per test), one module per
//! resource, plus the OpenAPI document and the embedded PostgreSQL.

mod helpers;

mod accounts;
mod attachments;
mod authorization;
mod embedded_pg;
mod export_formats;
mod export_xlsx;
mod exports;
mod health;
mod interviewers_devices;
mod metrics;
mod openapi;
mod pgbouncer;
mod questionnaires;
mod responses;
mod summary;
mod sync;
mod web_app;
mod xlsform;
