//! Secret material: the master key that encrypts partner secrets at rest, random tokens, and
//! the two ways we keep what we only need to verify.
//!
//! - Passwords and partner API secrets: argon2, because they are verified rarely (at login or
//!   token issuance) and a human-chosen password needs a slow hash.
//! - Random bearer tokens (portal, OAuth2 access, admin session): SHA-256, because they carry
//!   256 bits of entropy (nothing to brute-force) and are checked on every request.

use aes_gcm::aead::Aead;
use aes_gcm::{Aes256Gcm, Nonce};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::RngCore;
use rand::distr::{Alphanumeric, SampleString};
use sha2::{Digest, Sha256};

use crate::Error;

/// AES-256-GCM key for secrets that must stay usable (T/CEC 102 keys, not-yet-shown API
/// secrets). Stored beside the database; losing it makes those secrets unreadable.
#[derive(Clone)]
pub struct MasterKey {
    cipher: Aes256Gcm,
    /// HMAC key for secrets derived per purpose (webhook signing keys), never the AES key itself.
    derive_key: [u8; 32],
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

const SEALED_PREFIX: &str = "v1:";

impl MasterKey {
    pub fn generate() -> [u8; 32] {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        key
    }

    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        use hmac::{Hmac, KeyInit, Mac};
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(bytes).expect("HMAC accepts 32-byte keys");
        mac.update(b"chargebridge derive v1");
        Self { cipher: Aes256Gcm::new(bytes.into()), derive_key: mac.finalize().into_bytes().into() }
    }

    /// A secret for `purpose` (e.g. `webhook:<partner id>`), stable for this master key, so it
    /// needs no storage and changes when the master key is rotated.
    pub fn derive(&self, purpose: &str) -> String {
        use hmac::{Hmac, KeyInit, Mac};
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.derive_key).expect("HMAC accepts 32-byte keys");
        mac.update(purpose.as_bytes());
        format!("whsec_{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    }

    /// `v1:` + Base64(nonce ‖ ciphertext ‖ tag). The version prefix leaves room for key rotation.
    pub fn seal(&self, plaintext: &[u8]) -> String {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self.cipher.encrypt(&Nonce::from(nonce), plaintext).expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{SEALED_PREFIX}{}", STANDARD.encode(out))
    }

    pub fn open(&self, sealed: &str) -> Result<Vec<u8>, Error> {
        let fail = || Error::Internal("a stored secret cannot be decrypted with this master key".into());
        let raw = sealed.strip_prefix(SEALED_PREFIX).ok_or_else(fail)?;
        let bytes = STANDARD.decode(raw).map_err(|_| fail())?;
        if bytes.len() < 12 + 16 {
            return Err(fail());
        }
        let (nonce, body) = bytes.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| fail())?;
        self.cipher.decrypt(&Nonce::from(nonce), body).map_err(|_| fail())
    }
}

/// A bearer token: a prefix that tells people what it is, then 256 random bits.
pub fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Letters and digits, for protocol secrets whose format is fixed-length text (T/CEC 102 keys).
pub fn random_alphanumeric(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::rng(), len)
}

pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Equality that does not stop at the first difference (for secrets and their hashes).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).expect("16 bytes is a valid salt length");
    Argon2::default().hash_password(password.as_bytes(), &salt).expect("argon2 with default parameters accepts any password").to_string()
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trip_and_tamper() {
        let key = MasterKey::from_bytes(&MasterKey::generate());
        let sealed = key.seal(b"DataSecret123456");
        assert_eq!(key.open(&sealed).unwrap(), b"DataSecret123456");
        assert_ne!(key.seal(b"x"), key.seal(b"x"), "nonces must differ");
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 3;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert!(key.open(std::str::from_utf8(&tampered).unwrap()).is_err());
        let other = MasterKey::from_bytes(&MasterKey::generate());
        assert!(other.open(&sealed).is_err());
    }

    #[test]
    fn passwords_verify() {
        let hash = hash_password("correct horse");
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("x", "not a hash"));
    }
}
