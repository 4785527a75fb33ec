//! Channel secrets, encrypted at rest with AES-256-GCM under a key from the configuration.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use rand::RngCore;

/// Encrypts and decrypts secrets. The key never leaves this type.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    /// A box for a 32-byte key.
    pub fn new(key: &[u8; 32]) -> SecretBox {
        SecretBox { cipher: Aes256Gcm::new(key.into()) }
    }

    /// Parse 64 hex digits.
    pub fn from_hex(hex_key: &str) -> Option<SecretBox> {
        let bytes = hex::decode(hex_key.trim()).ok()?;
        let key: [u8; 32] = bytes.try_into().ok()?;
        Some(SecretBox::new(&key))
    }

    /// A fresh random key, as hex.
    pub fn generate_key_hex() -> String {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        hex::encode(key)
    }

    /// Encrypt: base64 of nonce followed by ciphertext.
    pub fn seal(&self, plaintext: &[u8]) -> String {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = self.cipher.encrypt(Nonce::from_slice(&nonce), plaintext).expect("AES-GCM encryption does not fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        base64::engine::general_purpose::STANDARD.encode(out)
    }

    /// Decrypt what [`SecretBox::seal`] produced. Fails on a wrong key or tampering.
    pub fn open(&self, sealed: &str) -> Result<Vec<u8>, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(sealed)
            .map_err(|_| "stored secrets are not base64".to_string())?;
        if bytes.len() < 12 {
            return Err("stored secrets are truncated".into());
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        self.cipher.decrypt(Nonce::from_slice(nonce), ciphertext).map_err(|_| {
            "stored secrets cannot be decrypted: is storage.encryption_key the key they were written with?".to_string()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::SecretBox;

    #[test]
    fn seals_and_opens() {
        let a = SecretBox::from_hex(&SecretBox::generate_key_hex()).unwrap();
        let b = SecretBox::from_hex(&SecretBox::generate_key_hex()).unwrap();
        let sealed = a.seal(b"token");
        assert_ne!(sealed, a.seal(b"token"), "each seal uses a fresh nonce");
        assert_eq!(a.open(&sealed).unwrap(), b"token");
        assert!(b.open(&sealed).is_err());
        assert!(SecretBox::from_hex("abcd").is_none());
    }
}
