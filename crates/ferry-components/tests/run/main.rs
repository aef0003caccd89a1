//! Built-in actions run against real HTTP servers on 127.0.0.1 that each test starts.

mod http;
mod pagination;
mod server;
mod sleep;
mod tls;
