//! Secrets at rest: AES-256-GCM under the master key (`DESIGN.md` section 2).
//!
//! A sealed value is text: `v1:<key id>:<base64 of nonce ‖ ciphertext>`. The key id (the first
//! 8 hex digits of the key's SHA-256) tells, when a value cannot be opened, whether it was
//! sealed under another master key. Each value is sealed with associated data naming where it
//! belongs (for example `instance:<uuid>:configVar:Acme API Key`), so a sealed value copied to
//! another row does not open there.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::StoreError;

const VERSION: &str = "v1";

/// A 256-bit master key.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({})", self.id())
    }
}

impl MasterKey {
    /// A new random key.
    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        Self(key)
    }

    /// Reads a key written by [`MasterKey::encode`] (base64 of 32 bytes).
    pub fn decode(text: &str) -> Result<Self, StoreError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| StoreError::InvalidArgument("the master key is not base64".into()))?;
        let key: [u8; 32] = bytes.try_into().map_err(|bytes: Vec<u8>| {
            StoreError::InvalidArgument(format!(
                "the master key is {} bytes; it must be 32",
                bytes.len()
            ))
        })?;
        Ok(Self(key))
    }

    /// The key as base64 text.
    pub fn encode(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// A short public identifier of the key.
    pub fn id(&self) -> String {
        let digest = Sha256::digest(self.0);
        digest.iter().take(4).map(|b| format!("{b:02x}")).collect()
    }
}

/// Seals and opens secrets under one master key.
#[derive(Clone)]
pub struct Sealer {
    cipher: Aes256Gcm,
    key_id: String,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealer({})", self.key_id)
    }
}

impl Sealer {
    /// A sealer for `key`.
    pub fn new(key: &MasterKey) -> Self {
        let cipher = Aes256Gcm::new((&key.0).into());
        Self {
            cipher,
            key_id: key.id(),
        }
    }

    /// Encrypts `plaintext`, bound to `context`.
    pub fn seal(&self, plaintext: &[u8], context: &str) -> String {
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plaintext,
            aad: context.as_bytes(),
        };
        // Encryption with a valid key and a 12-byte nonce cannot fail for inputs under 64 GiB.
        let ciphertext = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        format!("{VERSION}:{}:{}", self.key_id, STANDARD.encode(sealed))
    }

    /// Decrypts a value sealed for `context`.
    pub fn open(&self, sealed: &str, context: &str) -> Result<Vec<u8>, StoreError> {
        let corrupt =
            || StoreError::Corrupt(format!("a sealed secret for {context} cannot be read"));
        let mut parts = sealed.splitn(3, ':');
        let (Some(VERSION), Some(key_id), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(corrupt());
        };
        if key_id != self.key_id {
            return Err(StoreError::Corrupt(format!(
                "a secret for {context} was sealed under master key {key_id}, but the server runs with key {}",
                self.key_id
            )));
        }
        let bytes = STANDARD.decode(body).map_err(|_| corrupt())?;
        if bytes.len() < 12 {
            return Err(corrupt());
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let payload = Payload {
            msg: ciphertext,
            aad: context.as_bytes(),
        };
        self.cipher
            .decrypt(Nonce::from_slice(nonce), payload)
            .map_err(|_| corrupt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_in_their_context_and_under_their_key() {
        let key = MasterKey::generate();
        let sealer = Sealer::new(&key);
        let sealed = sealer.seal(b"s3cret", "instance:1:configVar:Key");
        assert!(sealed.starts_with(&format!("v1:{}:", key.id())));
        assert!(!sealed.contains("s3cret"));
        assert_eq!(
            sealer.open(&sealed, "instance:1:configVar:Key").unwrap(),
            b"s3cret"
        );
        assert!(
            sealer.open(&sealed, "instance:2:configVar:Key").is_err(),
            "bound to its context"
        );
        let other = Sealer::new(&MasterKey::generate());
        let err = other
            .open(&sealed, "instance:1:configVar:Key")
            .unwrap_err()
            .to_string();
        assert!(err.contains("sealed under master key"), "{err}");
        assert_ne!(
            sealer.seal(b"s3cret", "c"),
            sealer.seal(b"s3cret", "c"),
            "fresh nonce each time"
        );
        assert!(sealer.open("v1:garbage", "c").is_err());
    }

    #[test]
    fn keys_round_trip_through_text() {
        let key = MasterKey::generate();
        let again = MasterKey::decode(&key.encode()).unwrap();
        assert_eq!(again.id(), key.id());
        assert!(MasterKey::decode("c2hvcnQ=")
            .unwrap_err()
            .to_string()
            .contains("must be 32"));
        assert!(MasterKey::decode("!!").is_err());
        assert!(
            !format!("{key:?}").contains(&key.encode()),
            "Debug never shows the key"
        );
    }
}
