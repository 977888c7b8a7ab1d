//! HTTPS for the sandbox and `serve`: certificates and the rustls server configuration.
//! A leaf: it uses nothing of the crate, so both servers (and any layer) may use it.
//!
//! Why: widely used clients hard-code `https://` (dbt-cloud-cli builds
//! `https://{DBT_CLOUD_HOST}/api/v2`), so plain HTTP alone cannot host them unmodified.
//!
//! [`TlsMode::SelfSigned`] generates, at start, a throwaway CA and a server certificate it
//! signs (SANs `localhost`, `127.0.0.1`, `::1` and the listening address). Clients trust the
//! CA's PEM. A CA plus a leaf rather than one self-signed leaf because strict verifiers refuse
//! the shortcut: rustls/webpki rejects a CA certificate used as a server certificate, and
//! Python 3.13's default `VERIFY_X509_STRICT` wants a real chain with key identifiers.
//! The private keys never leave memory.
//!
//! rustls with the ring provider (as reqwest here), set per config rather than process-wide
//! so a library caller's own provider choice is untouched.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// How the sandbox serves HTTPS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsMode {
    /// Generate a CA and a server certificate at start; clients trust
    /// [`RunningSandbox::ca_pem`](crate::sandbox::RunningSandbox::ca_pem) (also written to a file).
    SelfSigned,
    /// Serve this PEM certificate chain (leaf first) and PEM private key.
    Files { cert: PathBuf, key: PathBuf },
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot generate a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("cannot read {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("{path} holds no PEM certificate")]
    NoCertificate { path: PathBuf },
    #[error("invalid certificate or key: {0}")]
    Config(#[from] rustls::Error),
    #[error("cannot write the certificate to {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What a started TLS listener needs, and what callers are told to trust.
pub(crate) struct TlsSetup {
    pub acceptor: TlsAcceptor,
    /// PEM that clients should trust: the generated CA, or the served chain for `Files`.
    pub trust_pem: String,
}

impl TlsSetup {
    /// Build the server config for `mode`; `listen_ip` joins the SANs of a generated
    /// certificate when it is not already covered (e.g. `--addr 192.0.2.7:0`).
    pub fn new(mode: &TlsMode, listen_ip: IpAddr) -> Result<TlsSetup, TlsError> {
        let (chain, key, trust_pem) = match mode {
            TlsMode::SelfSigned => generate(listen_ip)?,
            TlsMode::Files { cert, key } => load(cert, key)?,
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        // The server speaks HTTP/1.1 only; saying so spares clients an h2 attempt.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsSetup {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            trust_pem,
        })
    }
}

type Material = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>, String);

fn generate(listen_ip: IpAddr) -> Result<Material, TlsError> {
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "datachonk sandbox CA (throwaway)");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let mut names = vec!["localhost".to_string(), "127.0.0.1".into(), "::1".into()];
    if !listen_ip.is_unspecified() && !listen_ip.is_loopback() {
        names.push(listen_ip.to_string());
    }
    let mut leaf_params = CertificateParams::new(names)?;
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "datachonk sandbox");
    leaf_params.use_authority_key_identifier_extension = true;
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = KeyPair::generate()?;
    let leaf = leaf_params.signed_by(&leaf_key, &issuer)?;

    let key = PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
    let chain = vec![leaf.der().clone(), ca_cert.der().clone()];
    Ok((chain, key, ca_cert.pem()))
}

fn load(cert: &Path, key: &Path) -> Result<Material, TlsError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|e| TlsError::Read {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    };
    let cert_bytes = read(cert)?;
    let chain = CertificateDer::pem_slice_iter(&cert_bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Read {
            path: cert.to_path_buf(),
            message: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: cert.to_path_buf(),
        });
    }
    let key_der = PrivateKeyDer::from_pem_slice(&read(key)?).map_err(|e| TlsError::Read {
        path: key.to_path_buf(),
        message: format!("no PEM private key ({e})"),
    })?;
    let trust_pem = String::from_utf8_lossy(&cert_bytes).into_owned();
    Ok((chain, key_der, trust_pem))
}

/// Where the trust PEM goes when the caller names no file: the system temp dir, named for
/// the port so two sandboxes never share a file.
pub fn default_cert_path(port: u16) -> PathBuf {
    std::env::temp_dir().join(format!("datachonk-sandbox-{port}.pem"))
}

/// Write the PEM (public material only) for out-of-process clients.
pub(crate) fn write_pem(path: &Path, pem: &str) -> Result<(), TlsError> {
    std::fs::write(path, pem).map_err(|source| TlsError::Write {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_material_builds_a_server_config() {
        let setup = TlsSetup::new(&TlsMode::SelfSigned, IpAddr::from([127, 0, 0, 1]))
            .expect("self-signed setup");
        assert!(setup.trust_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(!setup.trust_pem.contains("PRIVATE KEY"));
    }

    #[test]
    fn missing_files_are_named() {
        let err = TlsSetup::new(
            &TlsMode::Files {
                cert: "/nonexistent/cert.pem".into(),
                key: "/nonexistent/key.pem".into(),
            },
            IpAddr::from([127, 0, 0, 1]),
        )
        .err()
        .expect("fails");
        assert!(err.to_string().contains("/nonexistent/cert.pem"), "{err}");
    }
}
