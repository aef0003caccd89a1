//! `http.request`'s TLS options against a real HTTPS server on 127.0.0.1 whose certificates
//! (a private CA, the server's, a client's) each test generates.

use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls::crypto::ring::default_provider;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig};
use tokio_rustls::TlsAcceptor;

use crate::server::{failure, input_named, request};

/// A private CA and what it signed: the server's certificate (for 127.0.0.1) and a client's.
struct Pki {
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    server_der: CertificateDer<'static>,
    server_key: Vec<u8>,
    client_pem: String,
    client_key_pem: String,
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Ferry test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&server_key, &ca, &ca_key)
        .unwrap();
    let client_key = KeyPair::generate().unwrap();
    let client = CertificateParams::new(vec!["client.example".to_string()])
        .unwrap()
        .signed_by(&client_key, &ca, &ca_key)
        .unwrap();
    Pki {
        ca_pem: ca.pem(),
        ca_der: ca.der().clone(),
        server_der: server.der().clone(),
        server_key: server_key.serialize_der(),
        client_pem: client.pem(),
        client_key_pem: client_key.serialize_pem(),
    }
}

/// Serves HTTPS on a free port of 127.0.0.1 (asking for a client certificate signed by the CA
/// when `mutual`); every request gets `{ "clientCertificate": <whether one was presented> }`.
/// Gives the URL.
async fn serve_https(pki: &Pki, mutual: bool) -> String {
    let provider = Arc::new(default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = if mutual {
        let mut roots = RootCertStore::empty();
        roots.add(pki.ca_der.clone()).unwrap();
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .unwrap();
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let key = PrivateKeyDer::Pkcs8(pki.server_key.clone().into());
    let config = builder
        .with_single_cert(vec![pki.server_der.clone()], key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A refused handshake is the client's failure to see; the server moves on.
                let Ok(mut stream) = acceptor.accept(socket).await else {
                    return;
                };
                let presented = stream.get_ref().1.peer_certificates().is_some();
                let mut head = Vec::new();
                let mut buffer = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buffer[..n]),
                    }
                }
                let body = json!({ "clientCertificate": presented }).to_string();
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    format!("https://{address}/")
}

fn with(url: &str, tls: Value) -> Value {
    let mut inputs = json!({ "url": url });
    for (key, value) in tls.as_object().unwrap() {
        inputs[key] = value.clone();
    }
    inputs
}

#[tokio::test]
async fn a_server_signed_by_an_unknown_ca_is_refused_unless_its_ca_is_given() {
    let pki = pki();
    let url = serve_https(&pki, false).await;

    let refused = failure(request(json!({ "url": url })).await.unwrap_err());
    assert!(refused.contains("could not connect"), "{refused}");
    assert!(refused.to_lowercase().contains("certificate"), "{refused}");

    let trusted = request(with(&url, json!({ "tlsCaCertificate": pki.ca_pem })))
        .await
        .unwrap();
    assert_eq!(trusted["statusCode"], 200);
    assert_eq!(trusted["data"], json!({ "clientCertificate": false }));
}

#[tokio::test]
async fn tls_insecure_accepts_any_certificate() {
    let pki = pki();
    let url = serve_https(&pki, false).await;
    let answered = request(with(&url, json!({ "tlsInsecure": true })))
        .await
        .unwrap();
    assert_eq!(answered["statusCode"], 200);
    let refused = request(with(&url, json!({ "tlsInsecure": false }))).await;
    assert!(refused.is_err(), "false verifies as usual");
}

#[tokio::test]
async fn a_client_certificate_is_presented_for_mutual_tls() {
    let pki = pki();
    let url = serve_https(&pki, true).await;

    let anonymous = request(with(&url, json!({ "tlsCaCertificate": pki.ca_pem }))).await;
    assert!(
        anonymous.is_err(),
        "the server requires a client certificate"
    );

    let inputs = json!({
        "tlsCaCertificate": pki.ca_pem,
        "tlsClientCertificate": pki.client_pem,
        "tlsClientKey": pki.client_key_pem,
    });
    let answered = request(with(&url, inputs)).await.unwrap();
    assert_eq!(answered["data"], json!({ "clientCertificate": true }));
}

#[tokio::test]
async fn bad_tls_inputs_are_errors_naming_the_input_without_the_key() {
    let pki = pki();
    let url = "https://127.0.0.1:1/";
    let cases = [
        (
            json!({ "tlsCaCertificate": "not a certificate" }),
            "tlsCaCertificate",
        ),
        (json!({ "tlsCaCertificate": 42 }), "tlsCaCertificate"),
        (
            json!({ "tlsClientCertificate": pki.client_pem }),
            "tlsClientKey",
        ),
        (
            json!({ "tlsClientKey": pki.client_key_pem }),
            "tlsClientCertificate",
        ),
        (
            json!({ "tlsClientCertificate": "nope", "tlsClientKey": pki.client_key_pem }),
            "tlsClientCertificate",
        ),
        (
            json!({ "tlsClientCertificate": pki.client_pem, "tlsClientKey": "secret-ish text" }),
            "tlsClientKey",
        ),
        (json!({ "tlsInsecure": "sure" }), "tlsInsecure"),
    ];
    for (tls, input) in cases {
        let error = request(with(url, tls.clone())).await.unwrap_err();
        assert!(
            !error.to_string().contains("secret-ish"),
            "{error} repeats the key"
        );
        assert_eq!(input_named(error), input, "{tls}");
    }
}
