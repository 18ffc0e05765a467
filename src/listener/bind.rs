//! Listening sockets with `SO_REUSEPORT`, so a new process can bind the same
//! ports while an old one drains: the kernel spreads new connections over
//! both, and when the old socket closes, Linux (with
//! `net.ipv4.tcp_migrate_req = 1`) hands its queued connections to the new
//! one instead of resetting them.

use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpListener;

/// Pending connections the kernel queues per listener.
const BACKLOG: i32 = 4096;

/// A listening socket on `address` that another process, or another
/// worker, can bind too.
pub fn bind_reusable(address: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::from_std(bind_reusable_std(address)?)
}

/// The same, not yet registered with a runtime (for a worker's own).
pub fn bind_reusable_std(address: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(address), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    if address.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&address.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}
