//! Certificates of TLS listeners: each listener's store, reloaded from its
//! files. Every certificate on its own: one that loads and matches its key
//! replaces the one it was for new handshakes, a broken one is logged and
//! the old one stays, the others are left as they are. Each certificate's
//! names and expiry are in the metrics and the status.

use std::sync::Arc;

use super::status::CertificateStatus;
use super::Reloader;
use crate::content_hash::{short, ContentHash};
use crate::report::Report;
use crate::tls::{load_certificate, CertificateStore, ServedCertificate};

/// A TLS listener's certificate store, with where its files are.
pub struct CertificateSlot {
    /// The listener's name.
    pub listener: String,
    /// What its handshakes are served from.
    pub store: Arc<CertificateStore>,
}

fn fingerprint(certificate: &ServedCertificate) -> String {
    certificate
        .key
        .cert
        .first()
        .map(|der| ContentHash::of(der).to_string())
        .unwrap_or_default()
}

impl Reloader {
    /// Re-reads every certificate file of every TLS listener (see the
    /// module doc).
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
            for (index, certificate) in tls.certificates.iter().enumerate() {
                let (cert, key) = (certificate.cert.clone(), certificate.key.clone());
                let loaded = tokio::task::spawn_blocking(move || load_certificate(&cert, key.as_deref())).await;
                match loaded {
                    Ok(Ok(served)) => self.install_certificate(slot, index, served),
                    Ok(Err(error)) => {
                        tracing::warn!(listener = %slot.listener, file = %certificate.cert.display(), error = %Report(&error), "certificate rejected, the previous one keeps serving");
                        self.with_status(|s| {
                            let entry = s
                                .certificates
                                .iter_mut()
                                .find(|c| c.listener == slot.listener && c.index == index);
                            if let Some(c) = entry {
                                c.last_error = Some(Report(&error).to_string());
                            }
                        });
                    }
                    Err(e) => tracing::error!(listener = %slot.listener, error = %e, "certificate reload aborted"),
                }
            }
        }
    }

    /// Installs a listener's whole set (at start, and when a reload changed
    /// its certificates).
    pub(super) fn install_certificates(&self, slot: &CertificateSlot, served: &[ServedCertificate]) {
        if served.len() != slot.store.certificates().len() {
            tracing::warn!(listener = %slot.listener, "the number of certificates changed: restart to apply it");
        }
        for (index, certificate) in served.iter().enumerate() {
            self.install_certificate(slot, index, certificate.clone());
        }
    }

    /// New handshakes get `certificate` in place of the `index`-th, if it
    /// differs; its names, expiry and fingerprint are recorded.
    pub(super) fn install_certificate(&self, slot: &CertificateSlot, index: usize, certificate: ServedCertificate) {
        let new = fingerprint(&certificate);
        let old = slot
            .store
            .certificates()
            .get(index)
            .map(fingerprint)
            .unwrap_or_default();
        if new != old {
            tracing::info!(listener = %slot.listener, names = %certificate.names.join(","), fingerprint = %short(&new), "certificate replaced for new handshakes");
            slot.store.replace(index, certificate.clone());
        }
        if let Some(leaf) = &certificate.leaf {
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
                index,
                names: certificate.names.clone(),
                fingerprint: new.clone(),
                subject: certificate.leaf.as_ref().map(|l| l.subject.clone()),
                not_after: certificate.leaf.as_ref().map(|l| l.not_after),
                last_error: None,
            };
            let existing = s
                .certificates
                .iter_mut()
                .find(|c| c.listener == slot.listener && c.index == index);
            match existing {
                Some(c) => *c = entry,
                None => s.certificates.push(entry),
            }
        });
    }
}
