//! Parsed account input: if one of these exists, it is valid.

use fitsync_platform::ApiError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Exactly what the OpenAPI document's pattern says (`EMAIL_PATTERN`): one `@`, no
    /// whitespace or control characters, a dot inside the domain, at most 254
    /// characters. Nothing is trimmed: what is valid is what the contract says.
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let bad = |c: char| c == '@' || c.is_whitespace() || c.is_control();
        let valid = raw.chars().count() <= 254
            && raw.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && !local.chars().any(bad)
                    && !domain.chars().any(bad)
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            });
        if valid {
            Ok(Self(raw.to_lowercase()))
        } else {
            Err(ApiError::field("email", "is not an email address"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password that meets the length policy (NIST SP 800-63B: at least 8, allow long).
#[derive(Clone)]
pub struct NewPassword(String);

impl NewPassword {
    pub fn parse(raw: String) -> Result<Self, ApiError> {
        let n = raw.chars().count();
        if !(10..=128).contains(&n) {
            return Err(ApiError::field("password", "must be 10 to 128 characters"));
        }
        Ok(Self(raw))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// At most 100 characters, not all whitespace, no NUL (PostgreSQL text cannot hold
/// one); kept trimmed.
pub fn display_name(raw: &str) -> Result<String, ApiError> {
    let s = raw.trim();
    if s.is_empty() || raw.chars().count() > 100 || raw.contains('\0') {
        return Err(ApiError::field(
            "display_name",
            "must be 1 to 100 characters",
        ));
    }
    Ok(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(
            Email::parse("Ana@Example.COM").unwrap().as_str(),
            "ana@example.com"
        );
        for bad in [
            "",
            "ana",
            "ana@",
            "@x.io",
            "a@b",
            "a b@x.io",
            "a@@x.io",
            "a@x.io.",
            " a@x.io",
            "a@.io",
            "a\u{85}@x.io",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords() {
        assert!(NewPassword::parse("short".into()).is_err());
        assert!(NewPassword::parse("long enough pass".into()).is_ok());
        assert!(NewPassword::parse("x".repeat(129)).is_err());
    }
}
