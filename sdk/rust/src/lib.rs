//! Write Switchyard plugins in Rust without wit-bindgen boilerplate.
//!
//! A plugin is a type that implements [`Plugin`] and the hooks it offers
//! ([`RequestHook`], [`ReplyHook`], [`BodyHook`], [`ResponseHook`],
//! [`Balancer`]), exported with the macro of the world those hooks make up:
//!
//! | hooks | macro |
//! |---|---|
//! | request | [`request_plugin!`] |
//! | request + reply (asks another service) | [`asking_plugin!`] |
//! | request + body | [`body_plugin!`] |
//! | response | [`response_plugin!`] |
//! | request + response | [`request_response_plugin!`] |
//! | balancer | [`balancer_plugin!`] |
//! | all of them | [`plugin!`] |
//!
//! ```ignore
//! use switchyard_plugin::{Decision, Plugin, Request, RequestHook};
//!
//! struct Maintenance;
//!
//! impl Plugin for Maintenance {}
//!
//! impl RequestHook for Maintenance {
//!     fn on_request(req: &Request) -> Decision {
//!         let decision = match req.path().starts_with("/admin") {
//!             true => Decision::route("admin-backend"),
//!             false => Decision::next(),
//!         };
//!         decision.set_response_header("x-plugin", "maintenance")
//!     }
//! }
//!
//! switchyard_plugin::request_plugin!(Maintenance);
//! ```
//!
//! `cargo build --release --target wasm32-wasip2` then writes the component
//! (`target/wasm32-wasip2/release/NAME.wasm`, with `crate-type =
//! ["cdylib"]`). The contract, every function documented, is
//! `wit/plugin.wit` (`switchyard:plugin@0.2.0`); this crate's types mirror
//! it: what the host lends ([`Request`], [`ResponseHead`], [`Backend`]) and
//! offers ([`host`], [`shared`], [`config`], [`log`]) comes from its
//! bindings, what a hook returns is built with this crate's helpers.
//!
//! The export macros expand to `wit_bindgen::generate!` in the plugin's
//! crate and refer to this crate as `::switchyard_plugin`: depend on it
//! under that name.

mod balancer;
mod decision;
mod helpers;
mod response;

pub mod config;
pub mod log;

#[doc(hidden)]
pub mod __adapters;

include!(concat!(env!("OUT_DIR"), "/bindings.rs"));

/// The host's types (`switchyard:plugin/types`): the request, response
/// head and backend resources, headers and header edits.
pub use generated::switchyard::plugin::types;

/// What the host offers every plugin (`switchyard:plugin/host`): logging
/// and the plugin's configuration (see [`log`] and [`config`] for typed
/// helpers).
pub use generated::switchyard::plugin::host;

/// Counters and keys every instance of the plugin sees, with expiry
/// (`switchyard:plugin/shared`).
pub use generated::switchyard::plugin::shared;

pub use balancer::{Candidate, Choice};
pub use decision::{Action, Ask, AskFailure, BodyInterest, Decision, Interest, MemoKey, OverLimit, Part, Reply};
pub use helpers::{Backend, Header, HeaderOp, Request, Response, ResponseHead, Scheme};
pub use response::{ResponseAction, ResponseDecision, ResponseInterest};

#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;

/// Every plugin: `init` runs once per instance, before any hook.
pub trait Plugin {
    /// Reads and checks the configuration ([`config`]). An `Err` rejects
    /// the plugin: `switchyard check` and the proxy's log show the message,
    /// so name the setting and say what is wrong.
    fn init() -> Result<(), String> {
        Ok(())
    }
}

/// The request hook: route, respond, ask, or let the next plugin decide,
/// with header edits.
pub trait RequestHook: Plugin {
    /// Which requests the plugin sees, asked once after `init` and matched
    /// by the host: others skip the plugin without entering Wasm. Default:
    /// every request.
    fn interest() -> Interest {
        Interest::all()
    }

    /// The decision for one request. `req` is a handle: only what is read
    /// (`req.path()`, `req.header("host")`, ...) is copied into the plugin.
    fn on_request(req: &Request) -> Decision;
}

/// A balancer whose choice depends on the pick sequence and the
/// candidates' health and weights alone (round-robin): it hands the host
/// the whole cycle, which the host follows without a call per request
/// until a candidate's health or weight changes. Retries still call
/// [`Balancer::pick`].
pub trait Rotation: Balancer {
    /// The cycle as indices into `candidates` (repeat one for its weight;
    /// at most 4,096 entries; empty: 503). `None` (the default): call
    /// `pick` for every request.
    fn rotation(backend: &Backend, candidates: &[Candidate]) -> Option<Vec<u32>> {
        let _ = (backend, candidates);
        None
    }
}

/// A request hook whose decision depends on a few parts of the request
/// only: the host calls it once per distinct value of them and reuses its
/// decision for every later request alike (until the plugin, its
/// configuration or the generation changes). Declare it only when the
/// decision reads nothing else: no other part, no shared state, no clock.
pub trait Memo: RequestHook {
    /// What the decision depends on, asked once after `init`; `None`
    /// (the default) never reuses a decision.
    fn memo() -> Option<MemoKey> {
        None
    }
}

/// The answer to an [`Ask`]: the plugin's final decision for the request.
pub trait ReplyHook: RequestHook {
    /// Called with the reply to the ask `on_request` (or a previous
    /// `on_reply`) returned, and its `context`.
    fn on_reply(req: &Request, context: String, reply: Result<Reply, AskFailure>) -> Decision;
}

/// A request hook that reads the first bytes of the body
/// ([`Request::body`]) before it decides.
pub trait BodyHook: RequestHook {
    /// How much body to read, and what to do with a longer one. Asked once
    /// after `init`; the host caps it at the plugin's `max_body_buffer`.
    fn body_interest() -> BodyInterest;
}

/// The response hook: edit the response head or replace the response
/// (an error page, CORS, `Cache-Control`...).
pub trait ResponseHook: Plugin {
    /// Which responses the plugin sees (statuses, from servers and/or the
    /// proxy), asked once after `init`. Default: every response.
    fn response_interest() -> ResponseInterest {
        ResponseInterest::all()
    }

    /// The decision for one response head.
    fn on_response(req: &Request, resp: &ResponseHead) -> ResponseDecision;
}

/// The balancer: pick the server of a backend that gets a request.
pub trait Balancer: Plugin {
    /// Chooses one of `candidates` (every server of the backend not tried
    /// yet, in configuration order, healthy or not), or `None` for 503.
    /// `sequence` counts picks on this backend across every instance, for
    /// stateless rotation; `attempt` counts failed connections so far.
    /// Server names and addresses are read from `backend` by index.
    fn pick(req: &Request, backend: &Backend, sequence: u64, attempt: u32, candidates: &[Candidate]) -> Option<Choice>;
}

/// Exports the bindings of `$world` with `$plugin` behind the hooks listed.
#[doc(hidden)]
#[macro_export]
macro_rules! __switchyard_export {
    ($plugin:ty, $bindings:ident, [$($hook:ident),*]) => {
        #[doc(hidden)]
        #[allow(missing_docs, unused_imports, unreachable_pub, clippy::all)]
        mod __switchyard_plugin_exports {
            use super::*;
            $crate::$bindings!();
            type Exported = $plugin;
            $crate::__adapt_lifecycle!(Exported);
            $($crate::$hook!(Exported);)*
            export!(Exported);
        }
    };
}

/// Exports a plugin with a request hook (world `request-plugin`).
#[macro_export]
macro_rules! request_plugin {
    ($plugin:ty) => {
        $crate::__switchyard_export!(
            $plugin,
            __switchyard_bindings_request_plugin,
            [__adapt_request_hook]
        );
    };
}

/// Exports a plugin with a request hook whose decisions the host may
/// reuse (world `memo-request-plugin`: [`RequestHook`] and [`Memo`]).
#[macro_export]
macro_rules! memo_request_plugin {
    ($plugin:ty) => {
        $crate::__switchyard_export!(
            $plugin,
            __switchyard_bindings_memo_request_plugin,
            [__adapt_request_hook, __adapt_memo]
        );
    };
}

/// Exports a plugin with a request hook that asks other services
/// (world `asking-plugin`: [`RequestHook`] and [`ReplyHook`]).
#[macro_export]
macro_rules! asking_plugin {
    ($plugin:ty) => {
        $crate::__switchyard_export!(
            $plugin,
            __switchyard_bindings_asking_plugin,
            [__adapt_request_hook, __adapt_reply_hook]
        );
    };
}

/// Exports a plugin with a request hook that reads the body first
/// (world `body-plugin`: [`RequestHook`] and [`BodyHook`]).
#[macro_export]
macro_rules! body_plugin {
    ($plugin:ty) => {
        $crate::__switchyard_export!(
            $plugin,
            __switchyard_bindings_body_plugin,
            [__adapt_request_hook, __adapt_body_hook]
        );
    };
}

/// Exports a plugin with a response hook (world `response-plugin`).
#[macro_export]
macro_rules! response_plugin {
    ($plugin:ty) => {
        $crate::__switchyard_export!(
            $plugin,
            __switchyard_bindings_response_plugin,
            [__adapt_response_hook]
        );
    };
}

/// Exports a plugin with request and response hooks (world
/// `request-response-plugin`).
#[macro_export]
macro_rules! request_response_plugin {
    ($plugin:ty) => {
        $crate::__switchyard_export!(
            $plugin,
            __switchyard_bindings_request_response_plugin,
            [__adapt_request_hook, __adapt_response_hook]
        );
    };
}

/// Exports a balancer (world `balancer-plugin`).
#[macro_export]
macro_rules! balancer_plugin {
    ($plugin:ty) => {
        $crate::__switchyard_export!($plugin, __switchyard_bindings_balancer_plugin, [__adapt_balancer]);
    };
}

/// Exports a balancer with its rotation (world `rotating-balancer-plugin`:
/// [`Balancer`] and [`Rotation`]).
#[macro_export]
macro_rules! rotating_balancer_plugin {
    ($plugin:ty) => {
        $crate::__switchyard_export!(
            $plugin,
            __switchyard_bindings_rotating_balancer_plugin,
            [__adapt_balancer, __adapt_rotation]
        );
    };
}

/// Exports a plugin with every hook (world `plugin`).
#[macro_export]
macro_rules! plugin {
    ($plugin:ty) => {
        $crate::__switchyard_export!(
            $plugin,
            __switchyard_bindings_plugin,
            [
                __adapt_request_hook,
                __adapt_reply_hook,
                __adapt_body_hook,
                __adapt_response_hook,
                __adapt_balancer,
                __adapt_memo,
                __adapt_rotation
            ]
        );
    };
}
