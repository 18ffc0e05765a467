//! A throwaway certificate authority for tests: server certificates for
//! names, client certificates, all written as PEM files.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

/// A CA made for one test.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
    /// Its certificate, as PEM.
    pub pem: String,
    /// Where its certificate is written.
    pub path: PathBuf,
}

/// A certificate and key written to files.
pub struct Issued {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The certificate, as PEM.
    pub cert_pem: String,
}

impl TestCa {
    /// A new CA, its certificate written as `dir/NAME.pem`.
    pub fn new(dir: &Path, name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("switchyard test CA {name}"));
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let pem = issuer.pem();
        let path = dir.join(format!("{name}.pem"));
        std::fs::write(&path, &pem).unwrap();
        TestCa { issuer, pem, path }
    }

    /// A certificate for `names` (server, or client: any name), written as
    /// `dir/FILE.pem` and `dir/FILE.key`.
    pub fn issue(&self, dir: &Path, file: &str, names: &[&str]) -> Issued {
        self.issue_with(dir, file, names, |_| {})
    }

    /// A certificate that expired in 2021.
    pub fn issue_expired(&self, dir: &Path, file: &str, names: &[&str]) -> Issued {
        self.issue_with(dir, file, names, |params| {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        })
    }

    fn issue_with(
        &self,
        dir: &Path,
        file: &str,
        names: &[&str],
        change: impl FnOnce(&mut CertificateParams),
    ) -> Issued {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
        change(&mut params);
        params
            .distinguished_name
            .push(DnType::CommonName, names.first().copied().unwrap_or(file));
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let (cert_path, key_path) = (dir.join(format!("{file}.pem")), dir.join(format!("{file}.key")));
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        Issued {
            cert: cert_path,
            key: key_path,
            cert_pem: cert.pem(),
        }
    }
}
