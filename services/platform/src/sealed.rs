//! Secrets that must cross the change stream (the one-time tokens of emailed links)
//! travel sealed: AES-256-GCM under a key only their producer and their consumer hold
//! (`auth.email_token_key`), bound to the notification they belong to. The outbox,
//! Kafka, a dead-letter topic or a backup of any of them hold nothing usable.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64URL, Engine};
use ring::{
    aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN},
    rand::{SecureRandom, SystemRandom},
};
use secrecy::{ExposeSecret, SecretString};

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(
        "auth.email_token_key is required wherever the users or notifications service runs \
         outside `--target all` (32 bytes, base64; generate one with `fitsync keygen --token-key`)"
    )]
    Missing,
    #[error("auth.email_token_key is not 32 bytes of base64")]
    BadKey,
    #[error("a sealed value could not be opened")]
    Open,
    #[error("sealing failed")]
    Seal,
}

pub struct Sealer {
    key: LessSafeKey,
    random: SystemRandom,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

/// A new key, as `auth.email_token_key` takes it.
pub fn generate_key() -> Result<String, SealError> {
    let mut key = [0u8; 32];
    SystemRandom::new()
        .fill(&mut key)
        .map_err(|_| SealError::Seal)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(key))
}

impl Sealer {
    /// The configured key; without one a key of this process's own, which only a single
    /// `all` process may use (`allow_generated`).
    pub fn from_settings(
        key: Option<&SecretString>,
        allow_generated: bool,
    ) -> Result<Self, SealError> {
        let raw = match key {
            Some(key) => base64::engine::general_purpose::STANDARD
                .decode(key.expose_secret().trim())
                .map_err(|_| SealError::BadKey)?,
            None if allow_generated => base64::engine::general_purpose::STANDARD
                .decode(generate_key()?)
                .map_err(|_| SealError::BadKey)?,
            None => return Err(SealError::Missing),
        };
        let key = UnboundKey::new(&AES_256_GCM, &raw).map_err(|_| SealError::BadKey)?;
        Ok(Self {
            key: LessSafeKey::new(key),
            random: SystemRandom::new(),
        })
    }

    /// `secret` sealed for `context` (what it belongs to: opening it under any other
    /// context fails), as URL-safe base64 of nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, context: &[u8], secret: &str) -> Result<String, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.random.fill(&mut nonce).map_err(|_| SealError::Seal)?;
        let mut sealed = secret.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context),
                &mut sealed,
            )
            .map_err(|_| SealError::Seal)?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        Ok(B64URL.encode(out))
    }

    pub fn open(&self, context: &[u8], sealed: &str) -> Result<String, SealError> {
        let bytes = B64URL.decode(sealed).map_err(|_| SealError::Open)?;
        if bytes.len() < NONCE_LEN {
            return Err(SealError::Open);
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Open)?;
        let mut rest = rest.to_vec();
        let opened = self
            .key
            .open_in_place(nonce, Aad::from(context), &mut rest)
            .map_err(|_| SealError::Open)?;
        String::from_utf8(opened.to_vec()).map_err(|_| SealError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer() -> Sealer {
        Sealer::from_settings(Some(&SecretString::from(generate_key().unwrap())), false).unwrap()
    }

    #[test]
    fn sealed_secrets_open_only_with_their_key_and_context() {
        let a = sealer();
        let sealed = a.seal(b"notification-1", "the token").unwrap();
        assert!(!sealed.contains("the token"));
        assert_eq!(a.open(b"notification-1", &sealed).unwrap(), "the token");
        assert!(
            a.open(b"notification-2", &sealed).is_err(),
            "another context"
        );
        assert!(
            sealer().open(b"notification-1", &sealed).is_err(),
            "another key"
        );
        let mut tampered = B64URL.decode(&sealed).unwrap();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(a.open(b"notification-1", &B64URL.encode(tampered)).is_err());
        // Two seals of one secret differ (a fresh nonce each time).
        assert_ne!(sealed, a.seal(b"notification-1", "the token").unwrap());
    }

    #[test]
    fn outside_all_a_key_is_required() {
        assert!(matches!(
            Sealer::from_settings(None, false),
            Err(SealError::Missing)
        ));
        assert!(matches!(
            Sealer::from_settings(Some(&SecretString::from("c2hvcnQ=")), false),
            Err(SealError::BadKey)
        ));
    }
}
