//! TLS to a backend's servers: verification against the system's roots or
//! a CA file, an optional client certificate (mutual TLS), ALPN from the
//! backend's protocol, and one session cache per backend so new
//! connections resume earlier sessions instead of a full handshake.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::{provider, TlsError};
use crate::config::{UpstreamProtocol, UpstreamTlsConfig};

/// A backend's client TLS, built once per configuration.
#[derive(Debug, Clone)]
pub struct UpstreamTls {
    /// For requests: ALPN as the backend's protocol says.
    pub requests: Arc<ClientConfig>,
    /// For upgrades (WebSocket), which need HTTP/1.1: ALPN `http/1.1` only.
    /// Shares the session cache of `requests`.
    pub upgrades: Arc<ClientConfig>,
    /// The configured SNI name; `None`: each server's own host.
    pub server_name: Option<ServerName<'static>>,
}

/// The TLS client of a backend. Reads the CA and client-certificate files:
/// call it off the runtime (it runs while a configuration is prepared).
pub fn upstream_tls(settings: &UpstreamTlsConfig, protocol: UpstreamProtocol) -> Result<UpstreamTls, TlsError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)?;
    let builder = if settings.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate))
    } else {
        builder.with_root_certificates(roots(settings.ca.as_deref())?)
    };
    let mut config = match &settings.client_certificate {
        Some((cert, key)) => {
            let chain = certificates(cert)?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|source| TlsError::Read {
                path: key.clone(),
                source,
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|source| TlsError::Mismatch {
                    cert: cert.clone(),
                    key: settings
                        .client_certificate
                        .as_ref()
                        .map(|(_, k)| k.clone())
                        .unwrap_or_default(),
                    source,
                })?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = match protocol {
        UpstreamProtocol::H2 => vec![b"h2".to_vec()],
        UpstreamProtocol::Auto => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        UpstreamProtocol::Http1 | UpstreamProtocol::H2c => vec![b"http/1.1".to_vec()],
    };
    let mut upgrades = config.clone();
    upgrades.alpn_protocols = vec![b"http/1.1".to_vec()];
    let server_name = match &settings.server_name {
        Some(name) => Some(ServerName::try_from(name.clone()).map_err(|_| TlsError::ServerName(name.clone()))?),
        None => None,
    };
    Ok(UpstreamTls {
        requests: Arc::new(config),
        upgrades: Arc::new(upgrades),
        server_name,
    })
}

/// The roots to verify servers against: the CA file's, else the system's.
fn roots(ca: Option<&Path>) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    match ca {
        Some(path) => {
            for cert in certificates(path)? {
                roots.add(cert).map_err(TlsError::Config)?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            if let Some(error) = found.errors.first() {
                tracing::warn!(%error, "some system root certificates could not be read");
            }
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(TlsError::NoSystemRoots);
            }
        }
    }
    Ok(roots)
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let read = |source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(read)?
        .collect::<Result<_, _>>()
        .map_err(read)?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(chain)
}

/// `insecure_skip_verify = true`: every certificate is accepted (the
/// handshake's signatures are still checked, so the session is encrypted,
/// but to whoever answers).
#[derive(Debug)]
struct AcceptAnyCertificate;

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &provider().signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &provider().signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        provider().signature_verification_algorithms.supported_schemes()
    }
}
