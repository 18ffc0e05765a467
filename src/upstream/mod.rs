//! Everything between the proxy and its servers: backends and servers with
//! health and in-flight counts, keep-alive connection pools, active health
//! checks, and the response body that returns a connection to its pool.
//! This module knows servers and requests, not plugins: the proxy asks the
//! balancer plugin and hands the chosen server here.

mod error;
mod health;
mod pool;
mod response;
mod server;

pub use error::UpstreamError;
pub use health::{worst_case_detection, HealthCheckers};
pub use pool::{Connection, ConnectionPool, Sender};
pub use response::ResponseBody;
pub use server::{Backend, InFlight, Server};
