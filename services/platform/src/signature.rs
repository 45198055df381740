//! Signed webhooks between FitSync and its providers (payments, SMS receipts): the
//! header `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, the scheme Stripe and
//! others use. The timestamp is signed with the body, so an old delivery replayed later
//! is refused by its age.

use ring::hmac;

/// The header value signing `body` at unix time `t`.
pub fn sign(key: &hmac::Key, body: &[u8], t: i64) -> String {
    format!(
        "t={t},v1={}",
        hex(hmac::sign(key, &signed(t, body)).as_ref())
    )
}

/// Checks `header` against `body`: well formed, within `tolerance_secs` of `now` (unix
/// seconds) and made with `key`. `Err` says which, for the caller's 400.
pub fn verify(
    key: &hmac::Key,
    header: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), &'static str> {
    let (mut t, mut v1) = (None, None);
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => v1 = unhex(value),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return Err("a malformed signature");
    };
    if (now - t).abs() > tolerance_secs {
        return Err("a signature outside the time tolerance");
    }
    hmac::verify(key, &signed(t, body), &v1).map_err(|_| "a signature that does not match")
}

/// `verify` of the request header `name` (absent or not text: "no signature").
pub fn verify_header(
    key: &hmac::Key,
    headers: &axum::http::HeaderMap,
    name: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), &'static str> {
    let header = headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .ok_or("no signature")?;
    verify(key, header, body, now, tolerance_secs)
}

fn signed(t: i64, body: &[u8]) -> Vec<u8> {
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(body);
    signed
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_for_its_body_key_and_time() {
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"0123456789abcdef0123456789abcdef");
        let other = hmac::Key::new(hmac::HMAC_SHA256, b"fedcba9876543210fedcba9876543210");
        let header = sign(&key, b"{\"a\":1}", 1_000);
        // HMAC-SHA256 of "1000.{"a":1}", computed independently of this module.
        let expected = hmac::sign(&key, b"1000.{\"a\":1}");
        let hex: String = expected
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(header, format!("t=1000,v1={hex}"));
        assert_eq!(verify(&key, &header, b"{\"a\":1}", 1_100, 300), Ok(()));
        assert!(verify(&key, &header, b"{\"a\":2}", 1_100, 300).is_err());
        assert!(verify(&other, &header, b"{\"a\":1}", 1_100, 300).is_err());
        assert_eq!(
            verify(&key, &header, b"{\"a\":1}", 1_301, 300),
            Err("a signature outside the time tolerance")
        );
        assert_eq!(
            verify(&key, "t=1000", b"{\"a\":1}", 1_000, 300),
            Err("a malformed signature")
        );
    }
}
