//! Everything between the proxy and its servers: backends and servers with
//! health (active checks and passive observation) and in-flight counts,
//! retry budgets, keep-alive connection pools, and the response body that
//! returns a connection to its pool.
//! This module knows servers and requests, not plugins: the proxy asks the
//! balancer plugin and hands the chosen server here.

mod backend;
mod budget;
mod connect;
mod error;
mod health;
mod http1;
mod pool;
mod response;
mod server;

pub use backend::{Backend, Outcome};
pub use budget::RetryBudget;
pub use connect::{Connected, Connector, Purpose, Transport};
pub use error::{ExchangeError, UpstreamError};
pub use health::{worst_case_detection, HealthCheckers};
#[cfg(test)]
pub(crate) use http1::{parse_head, Parsed};
pub use http1::{read_response, Http1Error, WholeResponse};
pub use pool::{Connection, ConnectionPool, Incoming, Sender, Stream, TrySendError};
pub use response::UpstreamBody;
pub use server::{server_key, AdminState, CheckRecord, InFlight, Server};
