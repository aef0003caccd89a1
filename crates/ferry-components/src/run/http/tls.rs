//! The TLS options of `http.request`: certificates to trust besides the public roots
//! (`tlsCaCertificate`), a client certificate for mutual TLS (`tlsClientCertificate` and
//! `tlsClientKey`), and, when explicitly asked, no verification at all (`tlsInsecure`).
//!
//! A step with any of them gets a client of its own, built for that request (connections
//! are not shared with other steps); a step without them uses the runner's shared client.

use reqwest::{Certificate, Client, Identity};

use super::super::{ActionError, Inputs};

/// What a step's TLS inputs ask for.
pub(super) struct Tls {
    roots: Vec<Certificate>,
    identity: Option<Identity>,
    insecure: bool,
}

impl Tls {
    /// The TLS options in `inputs`, or `None` when the step gives none.
    pub(super) fn from_inputs(inputs: &Inputs) -> Result<Option<Self>, ActionError> {
        let roots = match inputs.opt_text("tlsCaCertificate")? {
            Some(pem) => ca_certificates(&pem)?,
            None => Vec::new(),
        };
        let identity = identity(inputs)?;
        let insecure = inputs.flag("tlsInsecure", false)?;
        if roots.is_empty() && identity.is_none() && !insecure {
            return Ok(None);
        }
        Ok(Some(Self {
            roots,
            identity,
            insecure,
        }))
    }

    /// A client that applies these options.
    pub(super) fn client(self) -> Result<Client, ActionError> {
        let mut builder = Client::builder().danger_accept_invalid_certs(self.insecure);
        for root in self.roots {
            builder = builder.add_root_certificate(root);
        }
        if let Some(identity) = self.identity {
            builder = builder.identity(identity);
        }
        builder
            .build()
            .map_err(|e| ActionError::Failed(format!("the TLS options could not be applied: {e}")))
    }
}

fn ca_certificates(pem: &str) -> Result<Vec<Certificate>, ActionError> {
    let found = Certificate::from_pem_bundle(pem.as_bytes()).map_err(|e| {
        ActionError::input("tlsCaCertificate", format!("is not PEM certificates: {e}"))
    })?;
    if found.is_empty() {
        return Err(ActionError::input(
            "tlsCaCertificate",
            "holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
        ));
    }
    Ok(found)
}

/// The client certificate and its key, which come together.
fn identity(inputs: &Inputs) -> Result<Option<Identity>, ActionError> {
    let certificate = inputs.opt_text("tlsClientCertificate")?;
    let key = inputs.opt_text("tlsClientKey")?;
    let (certificate, key) = match (certificate, key) {
        (None, None) => return Ok(None),
        (Some(certificate), Some(key)) => (certificate, key),
        (Some(_), None) => {
            return Err(ActionError::input(
                "tlsClientKey",
                "a client certificate needs its private key (PEM)",
            ))
        }
        (None, Some(_)) => {
            return Err(ActionError::input(
                "tlsClientCertificate",
                "a client key needs its certificate (PEM)",
            ))
        }
    };
    if !certificate.contains("-----BEGIN CERTIFICATE-----") {
        return Err(ActionError::input(
            "tlsClientCertificate",
            "holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
        ));
    }
    let pem = format!("{}\n{}\n", certificate.trim(), key.trim());
    // The key's text is never repeated in the error.
    Identity::from_pem(pem.as_bytes()).map(Some).map_err(|_| {
        ActionError::input(
            "tlsClientKey",
            "is not a PEM private key (PKCS#8, PKCS#1 or SEC1) matching the certificate",
        )
    })
}
