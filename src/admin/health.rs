//! `GET /health`: whether this process can serve, for keepalived's
//! `track_script`, cloud load balancers and Kubernetes probes.
//!
//! Ready means: the listeners are bound and a generation is serving (both
//! hold once the admin endpoint answers: it starts after them), no stop or
//! handover has begun, and every listener's default backend has at least
//! one server that is up (by its health checks and passive health) and
//! not drained by an operator. A backend without health checks counts its
//! servers as up. 200 with `{"ready": true, ...}` when ready, else 503
//! with the reasons; it needs no token (it tells whether, not what).

use serde::{Deserialize, Serialize};

use crate::reload::Reloader;
use crate::upstream::AdminState;

/// What `GET /health` answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Readiness {
    /// Whether this process should get traffic.
    pub ready: bool,
    /// The configuration generation serving.
    pub generation: u64,
    /// A planned stop's handover (or the stop) has begun.
    pub handing_over: bool,
    /// Why it is not ready, one line each (empty when ready).
    pub reasons: Vec<String>,
}

/// The readiness of the proxy `reloader` serves, now.
pub fn readiness(reloader: &Reloader) -> Readiness {
    let proxy = reloader.proxy();
    let generation = proxy.generation();
    let mut reasons = Vec::new();
    let handing_over = proxy.handing_over();
    if handing_over {
        reasons.push("stopping: handing over to another node".to_string());
    }
    let mut checked = Vec::new();
    for listener in &generation.config.listeners {
        let Some(name) = listener.default_backend.as_deref() else {
            continue;
        };
        if checked.contains(&name) {
            continue;
        }
        checked.push(name);
        let Some(backend) = generation.backends.get(name) else {
            continue;
        };
        let servers = &backend.backend.servers;
        let up = servers
            .iter()
            .filter(|s| s.is_healthy() && s.admin_state() == AdminState::Ready)
            .count();
        if up == 0 {
            reasons.push(format!(
                "backend \"{name}\" (default of listener \"{}\"): none of its {} servers is up",
                listener.name,
                servers.len()
            ));
        }
    }
    Readiness {
        ready: reasons.is_empty(),
        generation: generation.number,
        handing_over,
        reasons,
    }
}
