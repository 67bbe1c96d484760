//! AES-256-GCM for Google tokens at rest.
//!
//! A sealed value reads `v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`. The key id (the
//! first 4 bytes of the key's SHA-256) says which key sealed it, so that a key can be rotated:
//! values sealed under the previous key still open, and re-sealing moves them to the current
//! one. The associated data binds a value to its owner: a blob copied into another user's row
//! does not open.

use aes_gcm::aead::{Aead, Generate, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use sha2::{Digest, Sha256};

const VERSION: &str = "v1";
const NONCE_LEN: usize = 12;

/// Why a sealed value does not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CipherError {
    /// Not a value this cipher wrote.
    #[error("not a sealed value")]
    Malformed,
    /// Sealed under a key we no longer have.
    #[error("sealed under an unknown key")]
    UnknownKey,
    /// Tampered with, or bound to another owner.
    #[error("the sealed value does not authenticate")]
    Forged,
    /// Encryption itself failed.
    #[error("encryption failed")]
    Encrypt,
}

struct Key {
    id: String,
    cipher: Aes256Gcm,
}

impl Key {
    fn new(bytes: &[u8; 32]) -> Self {
        let digest = Sha256::digest(bytes);
        let id = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        Self {
            id,
            cipher: Aes256Gcm::new(bytes.into()),
        }
    }
}

/// Seals and opens secrets with the current key, and opens with the previous one too.
pub struct TokenCipher {
    current: Key,
    previous: Option<Key>,
}

impl std::fmt::Debug for TokenCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCipher")
            .field("current_key_id", &self.current.id)
            .field("previous_key_id", &self.previous.as_ref().map(|k| &k.id))
            .finish()
    }
}

impl TokenCipher {
    /// A cipher sealing with `current`, also opening values sealed with `previous`.
    pub fn new(current: &[u8; 32], previous: Option<&[u8; 32]>) -> Self {
        Self {
            current: Key::new(current),
            previous: previous.map(Key::new),
        }
    }

    /// Encrypts `plaintext` bound to `owner` under a fresh random nonce.
    pub fn seal(&self, plaintext: &[u8], owner: &[u8]) -> Result<String, CipherError> {
        let nonce = Nonce::generate();
        let sealed = self
            .current
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: owner,
                },
            )
            .map_err(|_| CipherError::Encrypt)?;
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&sealed);
        Ok(format!(
            "{VERSION}.{}.{}",
            self.current.id,
            B64.encode(blob)
        ))
    }

    /// Decrypts a value sealed for `owner` by this or the previous key.
    pub fn open(&self, sealed: &str, owner: &[u8]) -> Result<Vec<u8>, CipherError> {
        let mut parts = sealed.splitn(3, '.');
        let (Some(VERSION), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(CipherError::Malformed);
        };
        let key = std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .find(|k| k.id == id)
            .ok_or(CipherError::UnknownKey)?;
        let blob = B64.decode(body).map_err(|_| CipherError::Malformed)?;
        if blob.len() < NONCE_LEN {
            return Err(CipherError::Malformed);
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        let nonce = Nonce::try_from(nonce).map_err(|_| CipherError::Malformed)?;
        key.cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: owner,
                },
            )
            .map_err(|_| CipherError::Forged)
    }

    /// True when `sealed` was sealed by the current key (nothing to rotate).
    pub fn is_current(&self, sealed: &str) -> bool {
        sealed
            .split('.')
            .nth(1)
            .is_some_and(|id| id == self.current.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: [u8; 32] = [7; 32];
    const KEY_B: [u8; 32] = [9; 32];

    #[test]
    fn opens_what_it_sealed_for_the_same_owner_only() {
        let cipher = TokenCipher::new(&KEY_A, None);
        let sealed = cipher.seal(b"refresh-token", b"user:1").expect("seal");
        assert!(!sealed.contains("refresh-token"));
        assert_eq!(
            cipher.open(&sealed, b"user:1").expect("open"),
            b"refresh-token"
        );
        assert_eq!(cipher.open(&sealed, b"user:2"), Err(CipherError::Forged));
    }

    #[test]
    fn refuses_tampering_and_foreign_keys() {
        let cipher = TokenCipher::new(&KEY_A, None);
        let sealed = cipher.seal(b"secret", b"u").expect("seal");
        let mut bytes = sealed.clone().into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).expect("ascii");
        assert!(matches!(
            cipher.open(&tampered, b"u"),
            Err(CipherError::Forged | CipherError::Malformed)
        ));
        let other = TokenCipher::new(&KEY_B, None);
        assert_eq!(other.open(&sealed, b"u"), Err(CipherError::UnknownKey));
        assert_eq!(cipher.open("plain text", b"u"), Err(CipherError::Malformed));
        assert_eq!(cipher.open("v1.abc.", b"u"), Err(CipherError::UnknownKey));
    }

    #[test]
    fn every_seal_uses_a_fresh_nonce() {
        let cipher = TokenCipher::new(&KEY_A, None);
        let sealed: std::collections::HashSet<String> = (0..200)
            .map(|_| cipher.seal(b"same", b"u").expect("seal"))
            .collect();
        assert_eq!(sealed.len(), 200);
        let nonces: std::collections::HashSet<Vec<u8>> = sealed
            .iter()
            .map(|s| {
                B64.decode(s.rsplit('.').next().unwrap_or_default())
                    .expect("b64")[..NONCE_LEN]
                    .to_vec()
            })
            .collect();
        assert_eq!(nonces.len(), 200);
    }

    #[test]
    fn a_rotated_cipher_opens_old_values_and_seals_with_the_new_key() {
        let old = TokenCipher::new(&KEY_A, None);
        let sealed = old.seal(b"token", b"u").expect("seal");
        let rotated = TokenCipher::new(&KEY_B, Some(&KEY_A));
        assert!(!rotated.is_current(&sealed));
        assert_eq!(rotated.open(&sealed, b"u").expect("open"), b"token");
        let resealed = rotated.seal(b"token", b"u").expect("seal");
        assert!(rotated.is_current(&resealed));
        assert_eq!(old.open(&resealed, b"u"), Err(CipherError::UnknownKey));
    }
}
