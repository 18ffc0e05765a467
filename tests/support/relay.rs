//! Faults a real network throws, between the proxy and a server: a TCP
//! relay that passes bytes through, or delays the answer, drips it a few
//! bytes at a time, resets the connection after some bytes of it, or
//! accepts and never answers; and an address whose connections never
//! complete (a black hole, for connect timeouts). Each counts the
//! connections it got and the bytes of requests it saw.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the relay does to the server's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Bytes pass both ways.
    Pass,
    /// The answer's first byte waits this long.
    Delay(Duration),
    /// The answer goes `bytes` at a time, `every` apart.
    Drip { bytes: usize, every: Duration },
    /// The answer is cut after this many bytes: the connection is reset.
    CutAfter(usize),
    /// The request is read, nothing is ever answered, the connection stays
    /// open.
    NeverAnswer,
    /// The request is read, then the connection is closed at once.
    CloseAfterRequest,
}

/// A running relay in front of `target`.
pub struct Relay {
    pub address: SocketAddr,
    /// Connections accepted.
    pub connections: Arc<AtomicUsize>,
    /// Everything clients sent through it, in order.
    pub requests: Arc<Mutex<Vec<u8>>>,
    fault: Arc<Mutex<Fault>>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    pub async fn start(target: SocketAddr, fault: Fault) -> Relay {
        let listener = TcpListener::bind(super::ANY_PORT).await.unwrap();
        let address = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let fault = Arc::new(Mutex::new(fault));
        let (count, seen, current) = (Arc::clone(&connections), Arc::clone(&requests), Arc::clone(&fault));
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let fault = *current.lock().unwrap();
                tokio::spawn(relay(client, target, fault, Arc::clone(&seen)));
            }
        });
        Relay {
            address,
            connections,
            requests,
            fault,
            task,
        }
    }

    /// Changes the fault for connections accepted from now on.
    pub fn set(&self, fault: Fault) {
        *self.fault.lock().unwrap() = fault;
    }

    /// How many requests with this method were sent through it.
    pub fn requests_with(&self, method: &str) -> usize {
        let seen = self.requests.lock().unwrap();
        let text = String::from_utf8_lossy(&seen);
        text.matches(&format!("{method} /")).count()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(mut client: TcpStream, target: SocketAddr, fault: Fault, seen: Arc<Mutex<Vec<u8>>>) {
    let Ok(mut server) = TcpStream::connect(target).await else {
        return;
    };
    if let Fault::CutAfter(_) = fault {
        // The cut is a reset, not a clean close: linger 0 on drop.
        let _ = socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO));
    }
    let (mut client_read, mut client_write) = client.split();
    let (mut server_read, mut server_write) = server.split();
    let upstream = async {
        let mut buf = vec![0u8; 16 << 10];
        loop {
            match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    seen.lock().unwrap().extend_from_slice(&buf[..n]);
                    match fault {
                        Fault::NeverAnswer => continue,
                        Fault::CloseAfterRequest => return true,
                        _ => {
                            if server_write.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    }
                }
            }
        }
        let _ = server_write.shutdown().await;
        false
    };
    let downstream = async {
        if matches!(fault, Fault::NeverAnswer | Fault::CloseAfterRequest) {
            std::future::pending::<()>().await;
        }
        let mut buf = vec![0u8; 16 << 10];
        let mut sent = 0usize;
        let mut first = true;
        loop {
            let n = match server_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if first {
                first = false;
                if let Fault::Delay(delay) = fault {
                    tokio::time::sleep(delay).await;
                }
            }
            match fault {
                Fault::Drip { bytes, every } => {
                    for chunk in buf[..n].chunks(bytes.max(1)) {
                        if client_write.write_all(chunk).await.is_err() {
                            return;
                        }
                        tokio::time::sleep(every).await;
                    }
                }
                Fault::CutAfter(limit) => {
                    let room = limit.saturating_sub(sent).min(n);
                    let _ = client_write.write_all(&buf[..room]).await;
                    sent += room;
                    if sent >= limit {
                        return;
                    }
                }
                _ => {
                    if client_write.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = client_write.shutdown().await;
    };
    tokio::pin!(upstream, downstream);
    tokio::select! {
        closed = &mut upstream => {
            if !closed {
                // The client is done sending; the answer still flows.
                (&mut downstream).await;
            }
        }
        () = &mut downstream => {}
    }
}

/// An address whose connections never complete: a listening socket whose
/// accept queue is full and never served, so new SYNs are dropped and a
/// connect waits until its timeout.
pub struct Unreachable {
    pub address: SocketAddr,
    _socket: socket2::Socket,
    _fillers: Vec<std::net::TcpStream>,
}

impl Unreachable {
    pub fn start() -> Unreachable {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket
            .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
            .unwrap();
        socket.listen(0).unwrap();
        let address = socket.local_addr().unwrap().as_socket().unwrap();
        // Fill the queue: these complete in the kernel, nobody accepts.
        let mut fillers = Vec::new();
        for _ in 0..4 {
            let filler = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            filler.set_nonblocking(true).unwrap();
            let _ = filler.connect(&address.into());
            fillers.push(std::net::TcpStream::from(filler));
        }
        std::thread::sleep(Duration::from_millis(50));
        Unreachable {
            address,
            _socket: socket,
            _fillers: fillers,
        }
    }
}
