//! Verification with the users service's published keys (its JWKS document), for every
//! process that does not run the users service: only that service holds the private key.
//! Keys are fetched on first use and cached; a token naming an unknown key id triggers a
//! refresh (at most one per `MIN_REFRESH`, so a flood of forged key ids cannot turn
//! into a flood of fetches), and the cache is refreshed once it is older than
//! `auth.jwks_refresh_secs`, so a key dropped from the document stops verifying.

use std::{
    collections::HashMap,
    sync::RwLock,
    time::{Duration, Instant},
};

use jsonwebtoken::{DecodingKey, Validation};

use super::{
    claims::Claims,
    keys::{decoding_key_of, validation},
};
use crate::{config::AuthSettings, problem::ApiError};

const MIN_REFRESH: Duration = Duration::from_secs(5);
const FETCH_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Default)]
struct Cache {
    keys: HashMap<String, DecodingKey>,
    fetched_at: Option<Instant>,
    attempted_at: Option<Instant>,
}

pub struct RemoteKeys {
    url: String,
    http: reqwest::Client,
    validation: Validation,
    max_age: Duration,
    cache: RwLock<Cache>,
    /// One fetch at a time; the others wait for its result.
    fetching: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for RemoteKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteKeys")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

enum Lookup {
    Verified(Claims),
    Refused,
    /// The key id is not in the cache (or the cache is due for a refresh).
    Unknown,
}

impl RemoteKeys {
    pub fn new(settings: &AuthSettings) -> anyhow::Result<Self> {
        Ok(Self {
            url: settings.jwks_url.clone(),
            http: reqwest::Client::builder().timeout(FETCH_TIMEOUT).build()?,
            validation: validation(settings),
            max_age: Duration::from_secs(settings.jwks_refresh_secs),
            cache: RwLock::new(Cache::default()),
            fetching: tokio::sync::Mutex::new(()),
        })
    }

    pub async fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| ApiError::Unauthenticated)?;
        let kid = header.kid.ok_or(ApiError::Unauthenticated)?;
        match self.lookup(&kid, token) {
            Lookup::Verified(claims) => return Ok(claims),
            Lookup::Refused => return Err(ApiError::Unauthenticated),
            Lookup::Unknown => {}
        }
        self.refresh(&kid).await?;
        match self.lookup_any_age(&kid, token) {
            Lookup::Verified(claims) => Ok(claims),
            Lookup::Refused | Lookup::Unknown => Err(ApiError::Unauthenticated),
        }
    }

    /// Whether keys are at hand (fetching them if none are).
    pub async fn ready(&self) -> bool {
        if self.read().fetched_at.is_some() {
            return true;
        }
        self.refresh("").await.is_ok() && self.read().fetched_at.is_some()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Cache> {
        self.cache
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn lookup(&self, kid: &str, token: &str) -> Lookup {
        let stale = self
            .read()
            .fetched_at
            .is_none_or(|at| at.elapsed() > self.max_age);
        if stale {
            return Lookup::Unknown;
        }
        self.lookup_any_age(kid, token)
    }

    fn lookup_any_age(&self, kid: &str, token: &str) -> Lookup {
        let cache = self.read();
        match cache.keys.get(kid) {
            None => Lookup::Unknown,
            Some(key) => match jsonwebtoken::decode::<Claims>(token, key, &self.validation) {
                Ok(data) => Lookup::Verified(data.claims),
                Err(_) => Lookup::Refused,
            },
        }
    }

    /// Fetches the document unless `kid` arrived meanwhile or a fetch was tried within
    /// `MIN_REFRESH`. Fails only if no key was ever fetched (then nothing can verify).
    async fn refresh(&self, kid: &str) -> Result<(), ApiError> {
        let _one = self.fetching.lock().await;
        {
            let cache = self.read();
            let fresh = cache
                .fetched_at
                .is_some_and(|at| at.elapsed() <= self.max_age);
            let recently_tried = cache
                .attempted_at
                .is_some_and(|at| at.elapsed() < MIN_REFRESH);
            if (fresh && cache.keys.contains_key(kid)) || recently_tried {
                return self.any_keys(&cache);
            }
        }
        let fetched = self.fetch().await;
        let mut cache = self
            .cache
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.attempted_at = Some(Instant::now());
        match fetched {
            Ok(keys) => {
                cache.keys = keys;
                cache.fetched_at = Some(Instant::now());
            }
            Err(e) => tracing::warn!(url = %self.url, error = %e, "fetching the JWKS failed"),
        }
        self.any_keys(&cache)
    }

    fn any_keys(&self, cache: &Cache) -> Result<(), ApiError> {
        if cache.fetched_at.is_some() {
            Ok(())
        } else {
            Err(ApiError::Unavailable(
                "the token issuer's keys are not available yet".into(),
            ))
        }
    }

    #[tracing::instrument(skip(self), fields(url = %self.url), err)]
    async fn fetch(&self) -> anyhow::Result<HashMap<String, DecodingKey>> {
        let document: serde_json::Value = self
            .http
            .get(&self.url)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let keys: HashMap<String, DecodingKey> = document["keys"]
            .as_array()
            .map(|keys| keys.iter().filter_map(decoding_key_of).collect())
            .unwrap_or_default();
        anyhow::ensure!(!keys.is_empty(), "the JWKS document has no P-256 key");
        Ok(keys)
    }
}
