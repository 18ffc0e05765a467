//! Certificates of TLS listeners: each listener's store, reloaded from its
//! files (a pair that loads and matches replaces the served certificate
//! for new handshakes; a broken one is logged and the old one stays), with
//! its expiry in the metrics and the status.

use std::sync::Arc;

use super::status::CertificateStatus;
use super::Reloader;
use crate::content_hash::{short, ContentHash};
use crate::report::Report;
use crate::tls::{load_certified_key, CertificateStore};

/// A TLS listener's certificate store, with where its files are.
pub struct CertificateSlot {
    /// The listener's name.
    pub listener: String,
    /// What its handshakes are served from.
    pub store: Arc<CertificateStore>,
}

impl Reloader {
    /// Re-reads every TLS listener's certificate files; a pair that loads
    /// and matches replaces the served certificate for new handshakes, a
    /// broken one is logged and the old certificate stays.
    pub async fn reload_certificates(&self) {
        let _one_at_a_time = self.serial.lock().await;
        let config = Arc::clone(&self.proxy.generation().config);
        for slot in &self.certificates {
            let Some(tls) = config
                .listeners
                .iter()
                .find(|l| l.name == slot.listener)
                .and_then(|l| l.tls.clone())
            else {
                continue;
            };
            let loaded = tokio::task::spawn_blocking(move || load_certified_key(&tls.cert, tls.key.as_deref())).await;
            match loaded {
                Ok(Ok(key)) => self.install_certificate(slot, key),
                Ok(Err(error)) => {
                    tracing::warn!(listener = %slot.listener, error = %Report(&error), "certificate rejected, the previous one keeps serving");
                    self.with_status(|s| {
                        if let Some(c) = s.certificates.iter_mut().find(|c| c.listener == slot.listener) {
                            c.last_error = Some(Report(&error).to_string());
                        }
                    });
                }
                Err(e) => tracing::error!(listener = %slot.listener, error = %e, "certificate reload aborted"),
            }
        }
    }

    pub(super) fn install_certificate(&self, slot: &CertificateSlot, key: rustls::sign::CertifiedKey) {
        let fingerprint = |k: &rustls::sign::CertifiedKey| k.cert.first().map(|c| ContentHash::of(c).to_string());
        let new = fingerprint(&key).unwrap_or_default();
        let old = fingerprint(&slot.store.current()).unwrap_or_default();
        if new != old {
            slot.store.replace(key);
            tracing::info!(listener = %slot.listener, fingerprint = %short(&new), "certificate replaced for new handshakes");
        }
        let leaf = slot.store.current().cert.first().and_then(|c| crate::tls::describe(c));
        if let Some(leaf) = &leaf {
            crate::metrics::metrics()
                .certificate_expiry
                .get_or_create(&crate::metrics::CertificateLabels {
                    listener: slot.listener.clone(),
                    subject: leaf.subject.clone(),
                })
                .set(leaf.not_after);
        }
        self.with_status(|s| {
            let entry = CertificateStatus {
                listener: slot.listener.clone(),
                fingerprint: new.clone(),
                subject: leaf.as_ref().map(|l| l.subject.clone()),
                not_after: leaf.as_ref().map(|l| l.not_after),
                last_error: None,
            };
            match s.certificates.iter_mut().find(|c| c.listener == slot.listener) {
                Some(c) => *c = entry,
                None => s.certificates.push(entry),
            }
        });
    }
}
