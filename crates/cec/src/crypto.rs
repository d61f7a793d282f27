//! AES-128-CBC + PKCS#7 + Base64 for `Data`, HMAC-MD5 for `Sig` (T/CEC 102.4).
//!
//! Keys are checked once when a [`Keys`] is built (exactly 16 bytes for key and IV), and the
//! keyed cipher and HMAC states are kept so each message costs only the block operations.

use aes::Aes128;
use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, InnerIvInit, KeyInit};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use md5::Md5;

use crate::secrets::Secrets;

type Encryptor = cbc::Encryptor<Aes128>;
type Decryptor = cbc::Decryptor<Aes128>;
type HmacMd5 = Hmac<Md5>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("{0} must be exactly 16 bytes")]
    KeyLength(&'static str),
    #[error("Data is not valid Base64")]
    Base64,
    #[error("Data does not decrypt with this partner's DataSecret/DataSecretIV (bad padding)")]
    Decrypt,
}

/// A partner's secrets, ready to use.
#[derive(Clone)]
pub struct Keys {
    cipher: Aes128,
    iv: [u8; 16],
    mac: HmacMd5,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

impl Keys {
    pub fn new(secrets: &Secrets) -> Result<Self, CryptoError> {
        let key: [u8; 16] = secrets.data_secret.as_bytes().try_into().map_err(|_| CryptoError::KeyLength("DataSecret"))?;
        let iv: [u8; 16] = secrets.data_secret_iv.as_bytes().try_into().map_err(|_| CryptoError::KeyLength("DataSecretIV"))?;
        Ok(Self {
            cipher: Aes128::new(&key.into()),
            iv,
            mac: <HmacMd5 as hmac::KeyInit>::new_from_slice(secrets.sig_secret.as_bytes()).expect("HMAC accepts keys of any length"),
        })
    }

    /// Base64(AES-128-CBC-PKCS7(plaintext)), one line.
    pub fn encrypt(&self, plaintext: &[u8]) -> String {
        let encryptor = Encryptor::inner_iv_init(self.cipher.clone(), &self.iv.into());
        STANDARD.encode(encryptor.encrypt_padded_vec::<Pkcs7>(plaintext))
    }

    /// Accepts Base64 wrapped with CR/LF or spaces (old Java encoders wrap at 76 characters).
    pub fn decrypt(&self, data: &str) -> Result<Vec<u8>, CryptoError> {
        let compact: String;
        let text = if data.bytes().any(|b| b.is_ascii_whitespace()) {
            compact = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            compact.as_str()
        } else {
            data
        };
        let bytes = STANDARD.decode(text).map_err(|_| CryptoError::Base64)?;
        if bytes.is_empty() || bytes.len() % 16 != 0 {
            return Err(CryptoError::Decrypt);
        }
        let decryptor = Decryptor::inner_iv_init(self.cipher.clone(), &self.iv.into());
        decryptor.decrypt_padded_vec::<Pkcs7>(&bytes).map_err(|_| CryptoError::Decrypt)
    }

    /// Upper-case hex HMAC-MD5 over the plain concatenation of `parts`.
    pub fn sign(&self, parts: &[&str]) -> String {
        let mut mac = self.mac.clone();
        for part in parts {
            mac.update(part.as_bytes());
        }
        hex::encode_upper(mac.finalize().into_bytes())
    }

    /// Constant-time check; lower-case hex is accepted (several peers send it).
    pub fn verify(&self, parts: &[&str], sig: &str) -> bool {
        let Ok(raw) = hex::decode(sig.trim()) else { return false };
        let mut mac = self.mac.clone();
        for part in parts {
            mac.update(part.as_bytes());
        }
        mac.verify_slice(&raw).is_ok()
    }
}

/// Equality that does not stop at the first difference (for secrets).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn keys(key: &str, iv: &str, sig: &str) -> Keys {
        Keys::new(&Secrets::new("x", key, iv, sig)).unwrap()
    }

    #[test]
    fn refuses_wrong_key_lengths() {
        assert_eq!(Keys::new(&Secrets::new("x", "short", "1234567890abcdef", "s")).unwrap_err(), CryptoError::KeyLength("DataSecret"));
        assert_eq!(Keys::new(&Secrets::new("x", "1234567890abcdef", "1234567890abcdef0", "s")).unwrap_err(), CryptoError::KeyLength("DataSecretIV"));
    }

    #[test]
    fn lower_case_signatures_verify() {
        let k = keys("1234567890abcdef", "1234567890abcdef", "1234567890abcdef");
        let sig = k.sign(&["a", "b"]);
        assert!(k.verify(&["a", "b"], &sig));
        assert!(k.verify(&["a", "b"], &sig.to_lowercase()));
        assert!(!k.verify(&["a", "c"], &sig));
        assert!(!k.verify(&["a", "b"], "not hex"));
    }

    proptest! {
        #[test]
        fn encrypt_decrypt_round_trip(plaintext in proptest::collection::vec(any::<u8>(), 0..600), key in "[ -~]{16}", iv in "[ -~]{16}") {
            let k = keys(&key, &iv, "sig");
            let sealed = k.encrypt(&plaintext);
            prop_assert_eq!(k.decrypt(&sealed).unwrap(), plaintext);
        }

        #[test]
        fn decrypt_never_panics(data in ".{0,200}") {
            let k = keys("1234567890abcdef", "1234567890abcdef", "s");
            let _ = k.decrypt(&data);
        }
    }
}
