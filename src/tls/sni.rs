//! The certificates of one TLS listener, chosen by the name the client
//! sends by SNI: an exact name first, then a wildcard (`*.example.com`
//! covers one label), then the first certificate for clients that send no
//! name or an unknown one, or no certificate at all (the handshake is
//! refused) when the listener says `unknown_name = "refuse"`.
//!
//! The names come from each certificate's subject alternative names (its
//! common name when it has none). Each certificate is replaced on its own
//! while the listener runs: new handshakes get the new one, established
//! connections keep theirs.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::{load_certified_key, TlsError};
use crate::config::UnknownName;

/// A certificate as a listener serves it.
#[derive(Debug, Clone)]
pub struct ServedCertificate {
    /// The chain and its signing key.
    pub key: Arc<CertifiedKey>,
    /// The names it answers for, lower case (`*.example.com` for a wildcard).
    pub names: Vec<String>,
    /// The leaf's subject and expiry, when it parses.
    pub leaf: Option<LeafInfo>,
}

/// What the status page shows of a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafInfo {
    /// The subject's distinguished name (`CN=...`).
    pub subject: String,
    /// Expiry, seconds since the Unix epoch.
    pub not_after: i64,
}

/// Loads a certificate (see [`load_certified_key`]) with its names.
pub fn load_certificate(cert: &Path, key: Option<&Path>) -> Result<ServedCertificate, TlsError> {
    let key = load_certified_key(cert, key)?;
    let (names, leaf) = key.cert.first().map(|der| describe(der)).unwrap_or_default();
    Ok(ServedCertificate {
        key: Arc::new(key),
        names,
        leaf,
    })
}

/// The names and the subject and expiry of a DER certificate.
fn describe(der: &[u8]) -> (Vec<String>, Option<LeafInfo>) {
    let Ok((_, certificate)) = x509_parser::parse_x509_certificate(der) else {
        return (Vec::new(), None);
    };
    let mut names: Vec<String> = certificate
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    x509_parser::extensions::GeneralName::DNSName(dns) => Some(dns.to_ascii_lowercase()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    if names.is_empty() {
        names = certificate
            .subject()
            .iter_common_name()
            .filter_map(|cn| cn.as_str().ok())
            .map(str::to_ascii_lowercase)
            .collect();
    }
    let leaf = LeafInfo {
        subject: certificate.subject().to_string(),
        not_after: certificate.validity().not_after.timestamp(),
    };
    (names, Some(leaf))
}

/// The certificates of a listener and the names that choose them.
#[derive(Debug)]
struct SniTable {
    certificates: Vec<ServedCertificate>,
    exact: HashMap<String, usize>,
    /// `*.example.com` as `example.com`.
    wildcard: HashMap<String, usize>,
}

impl SniTable {
    fn new(certificates: Vec<ServedCertificate>) -> SniTable {
        let mut exact = HashMap::new();
        let mut wildcard = HashMap::new();
        for (i, certificate) in certificates.iter().enumerate() {
            for name in &certificate.names {
                match name.strip_prefix("*.") {
                    Some(parent) => wildcard.entry(parent.to_string()).or_insert(i),
                    None => exact.entry(name.clone()).or_insert(i),
                };
            }
        }
        SniTable {
            certificates,
            exact,
            wildcard,
        }
    }

    /// The certificate for `name`, if one covers it.
    fn covering(&self, name: &str) -> Option<usize> {
        let name = name.to_ascii_lowercase();
        if let Some(&i) = self.exact.get(&name) {
            return Some(i);
        }
        let (_, parent) = name.split_once('.')?;
        self.wildcard.get(parent).copied()
    }
}

/// A listener's certificates, each replaceable while it runs.
#[derive(Debug)]
pub struct CertificateStore {
    table: ArcSwap<SniTable>,
    unknown: UnknownName,
}

impl CertificateStore {
    /// A store serving `certificates` (the first is the default).
    pub fn new(certificates: Vec<ServedCertificate>, unknown: UnknownName) -> Arc<CertificateStore> {
        Arc::new(CertificateStore {
            table: ArcSwap::from_pointee(SniTable::new(certificates)),
            unknown,
        })
    }

    /// New handshakes get `certificate` in place of the one at `index`;
    /// the others stay as they are.
    pub fn replace(&self, index: usize, certificate: ServedCertificate) {
        let mut certificates = self.certificates();
        if let Some(slot) = certificates.get_mut(index) {
            *slot = certificate;
            self.table.store(Arc::new(SniTable::new(certificates)));
        }
    }

    /// Every certificate served now, in configuration order.
    pub fn certificates(&self) -> Vec<ServedCertificate> {
        self.table.load().certificates.clone()
    }

    /// The certificate a handshake asking for `name` gets (`None`: no
    /// name was sent).
    pub fn choose(&self, name: Option<&str>) -> Option<Arc<CertifiedKey>> {
        let table = self.table.load();
        let covering = name.and_then(|n| table.covering(n));
        let index = match (covering, self.unknown) {
            (Some(i), _) => i,
            (None, UnknownName::Default) => 0,
            (None, UnknownName::Refuse) => return None,
        };
        table.certificates.get(index).map(|c| Arc::clone(&c.key))
    }
}

impl ResolvesServerCert for CertificateStore {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.choose(hello.server_name())
    }
}

/// Names claimed by more than one certificate of a listener.
pub fn claimed_twice(certificates: &[ServedCertificate]) -> Vec<String> {
    let mut seen = HashMap::new();
    let mut twice = Vec::new();
    for certificate in certificates {
        for name in &certificate.names {
            if seen.insert(name.clone(), ()).is_some() && !twice.contains(name) {
                twice.push(name.clone());
            }
        }
    }
    twice
}
