//! The glue an export macro expands to: the generated `Guest` traits of
//! the plugin's world implemented by calling the SDK's traits, with this
//! crate's types turned into the generated ones. Each expands inside the
//! module that holds the plugin's bindings (`exports::...` resolves there).

/// `lifecycle`: `Plugin::init`.
#[doc(hidden)]
#[macro_export]
macro_rules! __adapt_lifecycle {
    ($plugin:ident) => {
        impl exports::switchyard::plugin::lifecycle::Guest for $plugin {
            fn init() -> ::core::result::Result<(), ::std::string::String> {
                <$plugin as $crate::Plugin>::init()
            }
        }
    };
}

/// `request-hook`, and the conversion of a decision every hook that
/// decides on requests uses.
#[doc(hidden)]
#[macro_export]
macro_rules! __adapt_request_hook {
    ($plugin:ident) => {
        fn __decision(d: $crate::Decision) -> exports::switchyard::plugin::request_hook::Decision {
            use exports::switchyard::plugin::request_hook as hook;
            let action = match d.action {
                $crate::Action::Continue => hook::Action::Continue,
                $crate::Action::Route(backend) => hook::Action::Route(backend),
                $crate::Action::Respond(response) => hook::Action::Respond(response),
                $crate::Action::Ask(a) => hook::Action::Ask(hook::Ask {
                    backend: a.backend,
                    method: a.method,
                    path: a.path,
                    headers: a.headers,
                    body: a.body,
                    timeout_ms: a.timeout_ms,
                    context: a.context,
                }),
            };
            hook::Decision {
                action,
                request_headers: d.request_headers,
                response_headers: d.response_headers,
            }
        }

        impl exports::switchyard::plugin::request_hook::Guest for $plugin {
            fn declare_interest() -> exports::switchyard::plugin::request_hook::Interest {
                let interest = <$plugin as $crate::RequestHook>::interest();
                exports::switchyard::plugin::request_hook::Interest {
                    schemes: interest.schemes,
                    path_prefixes: interest.path_prefixes,
                }
            }

            fn on_request(req: &$crate::Request) -> exports::switchyard::plugin::request_hook::Decision {
                __decision(<$plugin as $crate::RequestHook>::on_request(req))
            }
        }
    };
}

/// `reply-hook` (needs `__adapt_request_hook` in the same module).
#[doc(hidden)]
#[macro_export]
macro_rules! __adapt_reply_hook {
    ($plugin:ident) => {
        impl exports::switchyard::plugin::reply_hook::Guest for $plugin {
            fn on_reply(
                req: &$crate::Request,
                context: ::std::string::String,
                reply: ::core::result::Result<
                    exports::switchyard::plugin::reply_hook::Reply,
                    exports::switchyard::plugin::reply_hook::AskFailure,
                >,
            ) -> exports::switchyard::plugin::request_hook::Decision {
                use exports::switchyard::plugin::reply_hook::AskFailure as F;
                let reply = match reply {
                    Ok(r) => Ok($crate::Reply {
                        status: r.status,
                        headers: r.headers,
                        body: r.body,
                        truncated: r.truncated,
                    }),
                    Err(F::UnknownBackend) => Err($crate::AskFailure::UnknownBackend),
                    Err(F::Unavailable) => Err($crate::AskFailure::Unavailable),
                    Err(F::Timeout) => Err($crate::AskFailure::Timeout),
                    Err(F::BadReply) => Err($crate::AskFailure::BadReply),
                    Err(F::TooManyAsks) => Err($crate::AskFailure::TooManyAsks),
                };
                __decision(<$plugin as $crate::ReplyHook>::on_reply(req, context, reply))
            }
        }
    };
}

/// `memo`.
#[doc(hidden)]
#[macro_export]
macro_rules! __adapt_memo {
    ($plugin:ident) => {
        impl exports::switchyard::plugin::memo::Guest for $plugin {
            fn declare_memo() -> Option<exports::switchyard::plugin::memo::MemoKey> {
                use exports::switchyard::plugin::memo as hook;
                let key = <$plugin as $crate::Memo>::memo()?;
                let mut parts = hook::RequestParts::empty();
                for part in key.parts {
                    parts = parts
                        | match part {
                            $crate::Part::Scheme => hook::RequestParts::SCHEME,
                            $crate::Part::Listener => hook::RequestParts::LISTENER,
                            $crate::Part::LocalPort => hook::RequestParts::LOCAL_PORT,
                            $crate::Part::Method => hook::RequestParts::METHOD,
                            $crate::Part::Authority => hook::RequestParts::AUTHORITY,
                            $crate::Part::Path => hook::RequestParts::PATH,
                            $crate::Part::Query => hook::RequestParts::QUERY,
                            $crate::Part::Version => hook::RequestParts::VERSION,
                            $crate::Part::TlsServerName => hook::RequestParts::TLS_SERVER_NAME,
                        };
                }
                Some(hook::MemoKey {
                    parts,
                    headers: key.headers,
                    max_entries: key.max_entries,
                })
            }
        }
    };
}

/// `body-hook`.
#[doc(hidden)]
#[macro_export]
macro_rules! __adapt_body_hook {
    ($plugin:ident) => {
        impl exports::switchyard::plugin::body_hook::Guest for $plugin {
            fn declare_body_interest() -> exports::switchyard::plugin::body_hook::BodyInterest {
                use exports::switchyard::plugin::body_hook as hook;
                let interest = <$plugin as $crate::BodyHook>::body_interest();
                hook::BodyInterest {
                    max_bytes: interest.max_bytes,
                    over_limit: match interest.over_limit {
                        $crate::OverLimit::Reject => hook::OverLimit::Reject,
                        $crate::OverLimit::Skip => hook::OverLimit::Skip,
                        $crate::OverLimit::Truncate => hook::OverLimit::Truncate,
                    },
                }
            }
        }
    };
}

/// `response-hook`.
#[doc(hidden)]
#[macro_export]
macro_rules! __adapt_response_hook {
    ($plugin:ident) => {
        impl exports::switchyard::plugin::response_hook::Guest for $plugin {
            fn declare_response_interest() -> exports::switchyard::plugin::response_hook::ResponseInterest {
                use exports::switchyard::plugin::response_hook as hook;
                let interest = <$plugin as $crate::ResponseHook>::response_interest();
                hook::ResponseInterest {
                    statuses: interest
                        .statuses
                        .into_iter()
                        .map(|r| hook::StatusRange {
                            first: *r.start(),
                            last: *r.end(),
                        })
                        .collect(),
                    from_server: interest.from_server,
                    from_proxy: interest.from_proxy,
                }
            }

            fn on_response(
                req: &$crate::Request,
                resp: &$crate::ResponseHead,
            ) -> exports::switchyard::plugin::response_hook::ResponseDecision {
                use exports::switchyard::plugin::response_hook as hook;
                let decision = <$plugin as $crate::ResponseHook>::on_response(req, resp);
                hook::ResponseDecision {
                    action: match decision.action {
                        $crate::ResponseAction::Continue => hook::ResponseAction::Continue,
                        $crate::ResponseAction::Replace(response) => hook::ResponseAction::Replace(response),
                    },
                    headers: decision.headers,
                }
            }
        }
    };
}

/// `balancer`.
#[doc(hidden)]
#[macro_export]
macro_rules! __adapt_balancer {
    ($plugin:ident) => {
        impl exports::switchyard::plugin::balancer::Guest for $plugin {
            fn pick(
                req: &$crate::Request,
                backend: &$crate::Backend,
                sequence: u64,
                attempt: u32,
                candidates: ::std::vec::Vec<exports::switchyard::plugin::balancer::Candidate>,
            ) -> ::core::option::Option<exports::switchyard::plugin::balancer::Choice> {
                let candidates: ::std::vec::Vec<$crate::Candidate> = candidates
                    .into_iter()
                    .map(|c| $crate::Candidate {
                        key: c.key,
                        weight: c.weight,
                        healthy: c.healthy,
                        in_flight: c.in_flight,
                    })
                    .collect();
                <$plugin as $crate::Balancer>::pick(req, backend, sequence, attempt, &candidates).map(|choice| {
                    exports::switchyard::plugin::balancer::Choice {
                        server: choice.server,
                        response_headers: choice.response_headers,
                    }
                })
            }
        }
    };
}

/// `rotation`.
#[doc(hidden)]
#[macro_export]
macro_rules! __adapt_rotation {
    ($plugin:ident) => {
        impl exports::switchyard::plugin::rotation::Guest for $plugin {
            fn rotate(
                backend: &$crate::Backend,
                candidates: ::std::vec::Vec<exports::switchyard::plugin::balancer::Candidate>,
            ) -> ::core::option::Option<::std::vec::Vec<u32>> {
                let candidates: ::std::vec::Vec<$crate::Candidate> = candidates
                    .into_iter()
                    .map(|c| $crate::Candidate {
                        key: c.key,
                        weight: c.weight,
                        healthy: c.healthy,
                        in_flight: c.in_flight,
                    })
                    .collect();
                <$plugin as $crate::Rotation>::rotation(backend, &candidates)
            }
        }
    };
}
