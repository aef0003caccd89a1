//! The `ferry` binary end to end: `ferry serve` as a real process on a loopback port, and the
//! management commands against it, on SQLite and PostgreSQL.

mod basics;
mod cluster;
mod components;
mod crash;
mod harness;
mod roles;
mod runs;
