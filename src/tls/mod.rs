//! TLS termination: certificates loaded from PEM files (chain and key
//! separately, or one combined PEM as HAProxy takes it), checked for a
//! matching key, served by SNI through a store whose certificates can be
//! swapped without touching the listener (`sni.rs`). `client.rs`: TLS to
//! backends' servers.

mod client;
mod sni;

pub use client::{upstream_tls, UpstreamTls};
pub use sni::{claimed_twice, load_certificate, CertificateStore, LeafInfo, ServedCertificate};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;

use crate::config::{TlsConfig, TlsVersion};

/// A certificate or TLS setting that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file cannot be read, or is not PEM.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong reading it.
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    /// The file has no certificate.
    #[error("{} holds no certificate", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The file has no private key.
    #[error("{} holds no private key", path.display())]
    NoKey {
        /// The file.
        path: PathBuf,
    },
    /// The key is not the certificate's.
    #[error("the key in {} does not fit the certificate in {}", key.display(), cert.display())]
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls's reason.
        #[source]
        source: rustls::Error,
    },
    /// rustls refused the settings.
    #[error("TLS settings rejected")]
    Config(#[source] rustls::Error),
    /// Not a name a certificate can be verified against.
    #[error("{0:?} is not a DNS name or an IP address")]
    ServerName(String),
    /// The system has no root certificate rustls can use.
    #[error("no system root certificates found (install ca-certificates, or set tls.ca)")]
    NoSystemRoots,
}

/// The crypto provider used everywhere (aws-lc-rs).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Loads a certificate chain and its key. With `key` absent, the key is
/// read from `cert` (a combined PEM).
pub fn load_certified_key(cert: &Path, key: Option<&Path>) -> Result<CertifiedKey, TlsError> {
    let read_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TlsError::Read { path, source }
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(read_err(cert))?
        .collect::<Result<_, _>>()
        .map_err(read_err(cert))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: cert.to_path_buf(),
        });
    }
    let key_path = key.unwrap_or(cert);
    let private_key = match PrivateKeyDer::from_pem_file(key_path) {
        Ok(k) => k,
        Err(rustls::pki_types::pem::Error::NoItemsFound) => {
            return Err(TlsError::NoKey {
                path: key_path.to_path_buf(),
            })
        }
        Err(source) => return Err(read_err(key_path)(source)),
    };
    CertifiedKey::from_der(chain, private_key, &provider()).map_err(|source| TlsError::Mismatch {
        cert: cert.to_path_buf(),
        key: key_path.to_path_buf(),
        source,
    })
}

/// The rustls configuration of a TLS listener.
pub fn server_config(settings: &TlsConfig, store: Arc<CertificateStore>) -> Result<ServerConfig, TlsError> {
    let versions: &[&'static rustls::SupportedProtocolVersion] = match settings.min_version {
        TlsVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsVersion::Tls13 => &[&rustls::version::TLS13],
    };
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .map_err(TlsError::Config)?
        .with_no_client_auth()
        .with_cert_resolver(store);
    config.alpn_protocols = if settings.http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(config)
}
