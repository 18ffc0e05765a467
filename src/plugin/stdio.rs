//! What a plugin writes to stdout and stderr: kept, not printed.
//!
//! A guest's own account of a failure goes to stderr: Rust's panic message,
//! CPython's traceback, a JavaScript exception, a C `fprintf(stderr)`
//! before `abort()`. Without stdio, the write itself trapped and the log
//! only showed that trap. Here `wasi:cli/stdout` and `wasi:cli/stderr`
//! hand out streams whose bytes go to the instance's [`GuestOutput`]: the
//! last [`GUEST_OUTPUT_TAIL`] bytes written during the call under way. A
//! failed call carries them in its error (the log line, `plugin test`); a
//! successful call that wrote something logs it at debug level.
//!
//! Only writing is provided: `check-write`, `write`, `flush`, their
//! blocking forms and `subscribe` (the buffer is always ready, so nothing
//! waits). `wasi:io/poll` answers for pollables that are ready now (a
//! stream, a clock already past) and traps for any that would make the
//! worker thread wait. Splicing and reading still trap, as does every
//! filesystem call; `wasi:filesystem/preopens` answers an empty list, so a
//! runtime that looks for files (CPython's traceback reading source lines)
//! learns there are none instead of trapping.

use std::future::Future;
use std::task::{Context, Poll, Waker};

use wasmtime::component::{Resource, ResourceAny, ResourceType, Val};
use wasmtime::StoreContextMut;
use wasmtime_wasi::p2::{DynPollable, Pollable};
use wasmtime_wasi_io::bindings::wasi::io::poll::{Host as PollHost, HostPollable};

use super::wasi::WasiHost;

/// Bytes of a call's output kept: enough for a traceback's last frames and
/// its exception line.
pub const GUEST_OUTPUT_TAIL: usize = 4096;

/// The most a guest may write in one `write` (what `check-write` grants).
const WRITE_PERMIT: u64 = 4096;

/// The host type behind a guest's stdout or stderr stream, an entry of
/// the store's resource table; its bytes go to [`GuestOutput`].
pub struct GuestStream;

#[wasmtime_wasi::async_trait]
impl Pollable for GuestStream {
    /// Always ready: writes land in memory.
    async fn ready(&mut self) {}
}

/// A guest's stdin: at its end from the start (WASI's preview-1 adapter,
/// which JavaScript and C runtimes carry, opens all three streams when it
/// starts).
pub struct GuestStdin;

#[wasmtime_wasi::async_trait]
impl Pollable for GuestStdin {
    /// Always ready: reading answers at once that the stream is closed.
    async fn ready(&mut self) {}
}

/// What an instance wrote during the call under way (the tail of it).
#[derive(Debug, Default)]
pub struct GuestOutput {
    tail: Vec<u8>,
    /// Bytes written before the tail, forgotten.
    dropped: usize,
}

impl GuestOutput {
    /// Keeps `bytes`, forgetting the oldest beyond [`GUEST_OUTPUT_TAIL`].
    pub fn write(&mut self, bytes: &[u8]) {
        self.tail.extend_from_slice(bytes);
        if self.tail.len() > GUEST_OUTPUT_TAIL {
            let excess = self.tail.len() - GUEST_OUTPUT_TAIL;
            self.tail.drain(..excess);
            self.dropped += excess;
        }
    }

    /// Forgets everything (a new call starts).
    pub fn clear(&mut self) {
        self.tail.clear();
        self.dropped = 0;
    }

    /// The output as text, trimmed (`None` when nothing but whitespace was
    /// written), marked when its start was cut; the buffer is emptied.
    pub fn take(&mut self) -> Option<String> {
        let text = String::from_utf8_lossy(&self.tail).trim().to_string();
        let dropped = self.dropped;
        self.clear();
        match (text.is_empty(), dropped) {
            (true, _) => None,
            (false, 0) => Some(text),
            (false, n) => Some(format!("[{n} earlier bytes left out] {text}")),
        }
    }
}

/// The resource type a stubbed import's resource must have, so that every
/// instance that names it (the interface defining it and those that `use`
/// it) agrees.
pub fn resource_type(import: &str, resource: &str) -> Option<ResourceType> {
    if !import.starts_with("wasi:") {
        return None;
    }
    match resource {
        // `wasi:io/poll` defines it; streams and clocks re-export it.
        "pollable" => Some(ResourceType::host::<DynPollable>()),
        "output-stream" => Some(ResourceType::host::<GuestStream>()),
        "input-stream" => Some(ResourceType::host::<GuestStdin>()),
        _ => None,
    }
}

/// The answer of a stubbed function that plugins may call, if it is one;
/// `None` leaves it trapping.
pub fn provided<T: WasiHost>(import: &str, function: &str) -> Option<HostFn<T>> {
    let (interface, _version) = import.split_once('@')?;
    let provided: HostFn<T> = match (interface, function) {
        ("wasi:cli/stdout", "get-stdout") | ("wasi:cli/stderr", "get-stderr") => new_stream::<T>,
        ("wasi:cli/stdin", "get-stdin") => new_stdin::<T>,
        ("wasi:io/streams", "[method]input-stream.read")
        | ("wasi:io/streams", "[method]input-stream.blocking-read")
        | ("wasi:io/streams", "[method]input-stream.skip")
        | ("wasi:io/streams", "[method]input-stream.blocking-skip") => closed::<T>,
        ("wasi:io/streams", "[method]input-stream.subscribe") => subscribe::<GuestStdin, T>,
        ("wasi:cli/terminal-stdout", "get-terminal-stdout")
        | ("wasi:cli/terminal-stderr", "get-terminal-stderr")
        | ("wasi:cli/terminal-stdin", "get-terminal-stdin") => not_a_terminal::<T>,
        ("wasi:filesystem/preopens", "get-directories") => no_directories::<T>,
        ("wasi:io/streams", "[method]output-stream.check-write") => check_write::<T>,
        ("wasi:io/streams", "[method]output-stream.write")
        | ("wasi:io/streams", "[method]output-stream.blocking-write-and-flush") => write::<T>,
        ("wasi:io/streams", "[method]output-stream.flush")
        | ("wasi:io/streams", "[method]output-stream.blocking-flush") => flush::<T>,
        ("wasi:io/streams", "[method]output-stream.subscribe") => subscribe::<GuestStream, T>,
        ("wasi:io/poll", "[method]pollable.ready") => ready::<T>,
        ("wasi:io/poll", "[method]pollable.block") => block::<T>,
        ("wasi:io/poll", "poll") => poll::<T>,
        _ => return None,
    };
    Some(provided)
}

/// Frees a stream or a pollable the guest dropped.
pub fn drop_resource<T: WasiHost>(mut store: StoreContextMut<'_, T>, resource: &str, rep: u32) -> wasmtime::Result<()> {
    let table = &mut store.data_mut().plugin_wasi().table;
    match resource {
        "pollable" => HostPollable::drop(table, Resource::<DynPollable>::new_own(rep)),
        "input-stream" => table
            .delete(Resource::<GuestStdin>::new_own(rep))
            .map(|_| ())
            .map_err(Into::into),
        _ => table
            .delete(Resource::<GuestStream>::new_own(rep))
            .map(|_| ())
            .map_err(Into::into),
    }
}

/// A dynamically typed host function.
pub type HostFn<T> = fn(StoreContextMut<'_, T>, &[Val], &mut [Val]) -> wasmtime::Result<()>;

fn new_stream<T: WasiHost>(mut store: StoreContextMut<'_, T>, _: &[Val], results: &mut [Val]) -> wasmtime::Result<()> {
    let stream = store.data_mut().plugin_wasi().table.push(GuestStream)?;
    let stream = stream.try_into_resource_any(&mut store)?;
    set(results, Val::Resource(stream))
}

fn new_stdin<T: WasiHost>(mut store: StoreContextMut<'_, T>, _: &[Val], results: &mut [Val]) -> wasmtime::Result<()> {
    let stream = store.data_mut().plugin_wasi().table.push(GuestStdin)?;
    let stream = stream.try_into_resource_any(&mut store)?;
    set(results, Val::Resource(stream))
}

/// `stream-error.closed`: stdin has nothing to read.
fn closed<T>(mut store: StoreContextMut<'_, T>, params: &[Val], results: &mut [Val]) -> wasmtime::Result<()> {
    release_self(&mut store, params)?;
    set(
        results,
        Val::Result(Err(Some(Box::new(Val::Variant("closed".into(), None))))),
    )
}

fn not_a_terminal<T>(_: StoreContextMut<'_, T>, _: &[Val], results: &mut [Val]) -> wasmtime::Result<()> {
    set(results, Val::Option(None))
}

fn no_directories<T>(_: StoreContextMut<'_, T>, _: &[Val], results: &mut [Val]) -> wasmtime::Result<()> {
    set(results, Val::List(Vec::new()))
}

fn check_write<T>(mut store: StoreContextMut<'_, T>, params: &[Val], results: &mut [Val]) -> wasmtime::Result<()> {
    release_self(&mut store, params)?;
    set(results, Val::Result(Ok(Some(Box::new(Val::U64(WRITE_PERMIT))))))
}

fn write<T: WasiHost>(mut store: StoreContextMut<'_, T>, params: &[Val], results: &mut [Val]) -> wasmtime::Result<()> {
    // (self: borrow<output-stream>, contents: list<u8>)
    let Some(Val::List(contents)) = params.get(1) else {
        return Err(wasmtime::format_err!("output-stream.write: unexpected arguments"));
    };
    let bytes: Vec<u8> = contents
        .iter()
        .map(|v| match v {
            Val::U8(b) => *b,
            _ => b'?',
        })
        .collect();
    store.data_mut().plugin_wasi().output.write(&bytes);
    release_self(&mut store, params)?;
    set(results, Val::Result(Ok(None)))
}

fn flush<T>(mut store: StoreContextMut<'_, T>, params: &[Val], results: &mut [Val]) -> wasmtime::Result<()> {
    release_self(&mut store, params)?;
    set(results, Val::Result(Ok(None)))
}

fn subscribe<S: Pollable, T: WasiHost>(
    mut store: StoreContextMut<'_, T>,
    params: &[Val],
    results: &mut [Val],
) -> wasmtime::Result<()> {
    let stream = borrowed::<S, T>(&mut store, resource_arg(params, 0)?)?;
    let pollable = wasmtime_wasi::p2::subscribe(&mut store.data_mut().plugin_wasi().table, stream)?;
    let pollable = pollable.try_into_resource_any(&mut store)?;
    set(results, Val::Resource(pollable))
}

fn ready<T: WasiHost>(mut store: StoreContextMut<'_, T>, params: &[Val], results: &mut [Val]) -> wasmtime::Result<()> {
    let pollable = borrowed::<DynPollable, T>(&mut store, resource_arg(params, 0)?)?;
    let table = &mut store.data_mut().plugin_wasi().table;
    let ready = now(HostPollable::ready(table, pollable)).unwrap_or(Ok(false))?;
    set(results, Val::Bool(ready))
}

fn block<T: WasiHost>(mut store: StoreContextMut<'_, T>, params: &[Val], _: &mut [Val]) -> wasmtime::Result<()> {
    let pollable = borrowed::<DynPollable, T>(&mut store, resource_arg(params, 0)?)?;
    let table = &mut store.data_mut().plugin_wasi().table;
    now(HostPollable::block(table, pollable)).unwrap_or_else(|| Err(would_wait()))
}

fn poll<T: WasiHost>(mut store: StoreContextMut<'_, T>, params: &[Val], results: &mut [Val]) -> wasmtime::Result<()> {
    let Some(Val::List(items)) = params.first() else {
        return Err(wasmtime::format_err!("poll: unexpected arguments"));
    };
    let mut pollables = Vec::with_capacity(items.len());
    for item in items {
        let Val::Resource(any) = item else {
            return Err(wasmtime::format_err!("poll: unexpected arguments"));
        };
        pollables.push(borrowed::<DynPollable, T>(&mut store, *any)?);
    }
    let table = &mut store.data_mut().plugin_wasi().table;
    let ready = now(PollHost::poll(table, pollables)).unwrap_or_else(|| Err(would_wait()))?;
    set(results, Val::List(ready.into_iter().map(Val::U32).collect()))
}

/// The table entry behind a borrowed argument (taking it ends the borrow:
/// one left open would fail the guest's call).
fn borrowed<R: 'static, T>(store: &mut StoreContextMut<'_, T>, any: ResourceAny) -> wasmtime::Result<Resource<R>> {
    Resource::<R>::try_from_resource_any(any, &mut *store)
}

/// Ends the borrow of a stream method's `self` that is not otherwise used.
fn release_self<T>(store: &mut StoreContextMut<'_, T>, params: &[Val]) -> wasmtime::Result<()> {
    match params.first() {
        Some(Val::Resource(any)) => any.resource_drop(&mut *store),
        _ => Ok(()),
    }
}

fn resource_arg(params: &[Val], index: usize) -> wasmtime::Result<ResourceAny> {
    match params.get(index) {
        Some(Val::Resource(any)) => Ok(*any),
        _ => Err(wasmtime::format_err!("expected a resource argument")),
    }
}

/// A future's answer if it has one without waiting. A plugin call runs on
/// a worker thread that serves other requests: it never waits. Outside a
/// Tokio runtime (where a timer cannot even be asked) nothing is ready.
fn now<F: Future>(future: F) -> Option<F::Output> {
    tokio::runtime::Handle::try_current().ok()?;
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

fn would_wait() -> wasmtime::Error {
    wasmtime::format_err!("waiting (`wasi:io/poll`) is not available to plugins: a plugin call must not block")
}

fn set(results: &mut [Val], value: Val) -> wasmtime::Result<()> {
    let slot = results
        .first_mut()
        .ok_or_else(|| wasmtime::format_err!("a stdio function without a result"))?;
    *slot = value;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_tail_and_says_what_was_cut() {
        let mut out = GuestOutput::default();
        assert_eq!(out.take(), None);
        out.write(b"  \n");
        assert_eq!(out.take(), None);
        out.write(b"Traceback (most recent call last):\n");
        out.write(b"NameError: name 'x' is not defined\n");
        assert_eq!(
            out.take().as_deref(),
            Some("Traceback (most recent call last):\nNameError: name 'x' is not defined")
        );
        out.write(&vec![b'a'; GUEST_OUTPUT_TAIL]);
        out.write(b"the end");
        let text = out.take().unwrap();
        assert!(text.starts_with("[7 earlier bytes left out] aaa"), "{text}");
        assert!(text.ends_with("the end"));
        assert_eq!(out.take(), None, "take empties it");
    }
}
