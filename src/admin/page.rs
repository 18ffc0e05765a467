//! The status page: a static shell whose script reads `/api/state` every
//! two seconds and draws listeners, backends and servers (health, operator
//! state, rise/fall counters, last check, request rates, errors), plugins
//! and certificates, like HAProxy's stats page. With an admin token, the
//! page asks for it once and keeps it for the browser tab.

pub const HTML: &str = include_str!("page.html");
