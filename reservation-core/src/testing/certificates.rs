//! Certificates a test makes for itself: a private CA, a certificate for a
//! server on 127.0.0.1 and localhost, and a client certificate, as PEM files
//! in a temporary directory. They are what a `redis-server` with TLS and its
//! clients need, so the TLS specs never depend on files outside the test.

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use tempfile::TempDir;

use crate::local_redis::LocalTls;
use crate::redis_config::RedisTls;

/// A private CA and the certificates it signed, removed when dropped.
pub struct TestCertificates {
    dir: TempDir,
}

impl TestCertificates {
    /// A new CA, with a server and a client certificate of its own.
    pub fn make() -> io::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("flashsale-certs-")
            .tempdir()?;
        let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(io::Error::other)?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "flash-sale test CA");
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate().map_err(io::Error::other)?;
        let ca_cert = ca.self_signed(&ca_key).map_err(io::Error::other)?;
        let issuer = Issuer::new(ca, ca_key);
        std::fs::write(dir.path().join("ca.pem"), ca_cert.pem())?;

        for name in ["server", "client"] {
            let mut leaf =
                CertificateParams::new(vec!["localhost".to_owned()]).map_err(io::Error::other)?;
            leaf.subject_alt_names
                .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
            leaf.distinguished_name
                .push(DnType::CommonName, format!("flash-sale test {name}"));
            let key = KeyPair::generate().map_err(io::Error::other)?;
            let cert = leaf.signed_by(&key, &issuer).map_err(io::Error::other)?;
            std::fs::write(dir.path().join(format!("{name}.pem")), cert.pem())?;
            std::fs::write(
                dir.path().join(format!("{name}-key.pem")),
                key.serialize_pem(),
            )?;
        }
        Ok(Self { dir })
    }

    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A server's TLS with these certificates; with `require_client_cert`,
    /// clients must present one of this CA's.
    pub fn server(&self, require_client_cert: bool) -> LocalTls {
        LocalTls {
            cert_file: self.dir.path().join("server.pem"),
            key_file: self.dir.path().join("server-key.pem"),
            ca_file: self.ca_file(),
            require_client_cert,
        }
    }

    /// A client that trusts this CA and, `with_client_cert`, presents its
    /// client certificate.
    pub fn client(&self, with_client_cert: bool) -> RedisTls {
        RedisTls {
            ca_file: Some(self.ca_file()),
            client_cert_file: with_client_cert.then(|| self.dir.path().join("client.pem")),
            client_key_file: with_client_cert.then(|| self.dir.path().join("client-key.pem")),
        }
    }
}
