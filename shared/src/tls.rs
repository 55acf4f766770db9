//! TLS for the two HTTPS clients: rustls with the `ring` provider, trust anchors compiled into
//! the binary. Nothing here reads a certificate file, so building a client at init costs well
//! under a millisecond (the SDK's default client reads and parses the system's certificate
//! directory: ~7 ms of a ~10 ms init, measured by `bench --init-breakdown`).
//!
//! - DynamoDB: the four Amazon Trust Services roots (`tls/amazon-root-cas.pem`), which every
//!   AWS service endpoint chains to — and nothing else, so no other CA can stand in for
//!   DynamoDB. With an `https:` endpoint in `AWS_ENDPOINT_URL_DYNAMODB` (a proxy or another
//!   DynamoDB implementation) the system's roots are used instead, as the SDK would.
//! - Vobiz (and the local call simulator): Mozilla's root program (`webpki-roots`).

/// Amazon Root CA 1–4 (PEM, from <https://www.amazontrust.com/repository/>; valid to 2038/2040).
pub const AMAZON_ROOT_CAS_PEM: &str = include_str!("tls/amazon-root-cas.pem");

/// The SDK's HTTP client (hyper 1 + rustls/ring). `system_roots`: the endpoint is an HTTPS
/// server that is not AWS's, so trust the system's roots (read at the first connection).
#[cfg(feature = "aws")]
pub fn sdk_http_client(system_roots: bool) -> crate::error::Result<aws_sdk_dynamodb::config::SharedHttpClient> {
    use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore, rustls_provider::CryptoMode};
    let store = if system_roots {
        TrustStore::default()
    } else {
        TrustStore::empty()
            .with_native_roots(false)
            .with_pem_certificate(AMAZON_ROOT_CAS_PEM.as_bytes())
    };
    let tls = TlsContext::builder()
        .with_trust_store(store)
        .build()
        .map_err(|e| crate::error::Error::Config(format!("TLS context for DynamoDB: {e}")))?;
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .tls_context(tls)
        .build_https())
}

/// A reqwest client builder with our TLS configuration; every reqwest client in the project
/// starts here (reqwest is built without a crypto provider of its own).
#[cfg(feature = "http-client")]
#[allow(
    clippy::expect_used,
    reason = "ring supports TLS 1.2 and 1.3: a property of the provider, not of input"
)]
pub fn reqwest_builder() -> reqwest::ClientBuilder {
    use std::sync::Arc;
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("ring supports TLS 1.2 and 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder().tls_backend_preconfigured(config)
}

#[cfg(all(test, feature = "http-client"))]
mod tests {
    use super::*;

    #[test]
    fn the_amazon_roots_are_four_parsable_certificates() {
        use rustls::pki_types::{CertificateDer, pem::PemObject};
        let certs: Vec<_> = CertificateDer::pem_slice_iter(AMAZON_ROOT_CAS_PEM.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(certs.len(), 4);
        let mut store = rustls::RootCertStore::empty();
        let (added, rejected) = store.add_parsable_certificates(certs);
        assert_eq!((added, rejected), (4, 0));
    }

    #[cfg(feature = "aws")]
    #[test]
    fn the_sdk_client_builds_for_aws_and_for_a_custom_endpoint() {
        sdk_http_client(false).unwrap();
        sdk_http_client(true).unwrap();
    }

    #[test]
    fn reqwest_clients_build_with_our_tls() {
        reqwest_builder().build().unwrap();
    }
}
