//! Workout input parsed into types that cannot hold an invalid value.

use fitsync_platform::ApiError;

/// A name as a slug: lowercase ASCII letters and digits, runs of anything else as one
/// hyphen, at most `max` bytes (cut at a word boundary where possible).
pub fn slugify(name: &str, max: usize) -> String {
    let mut slug = String::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let mut slug = slug.trim_end_matches('-').to_owned();
    if slug.len() > max {
        slug.truncate(max);
        slug = slug.trim_end_matches('-').to_owned();
    }
    slug
}

/// An exercise slug: lowercase words joined by hyphens (`back-squat`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExerciseSlug(String);

impl ExerciseSlug {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let ok = !raw.is_empty()
            && raw.len() <= 64
            && raw.split('-').all(|w| {
                !w.is_empty()
                    && w.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ApiError::field(
                "exercise",
                "must be a lowercase slug such as back-squat",
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reps(i32);

impl Reps {
    pub fn parse(raw: i64) -> Result<Self, ApiError> {
        match i32::try_from(raw) {
            Ok(n) if (1..=100).contains(&n) => Ok(Self(n)),
            _ => Err(ApiError::field("reps", "must be between 1 and 100")),
        }
    }
    pub fn get(self) -> i32 {
        self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Kilograms(f64);

impl Kilograms {
    pub fn parse(raw: f64) -> Result<Self, ApiError> {
        if raw.is_finite() && (0.0..=1000.0).contains(&raw) {
            // Plates come in 0.25 kg steps at the finest; more digits are noise.
            Ok(Self((raw * 100.0).round() / 100.0))
        } else {
            Err(ApiError::field("weight_kg", "must be between 0 and 1000"))
        }
    }
    pub fn get(self) -> f64 {
        self.0
    }
}

/// Reps in reserve: how many more reps the set could have had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rir(i32);

impl Rir {
    pub fn parse(raw: i64) -> Result<Self, ApiError> {
        match i32::try_from(raw) {
            Ok(n) if (0..=10).contains(&n) => Ok(Self(n)),
            _ => Err(ApiError::field("rir", "must be between 0 and 10")),
        }
    }
    pub fn get(self) -> i32 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(ExerciseSlug::parse("back-squat").is_ok());
        assert!(ExerciseSlug::parse("21s").is_ok());
        for bad in [
            "",
            "Back-Squat",
            "back--squat",
            "-squat",
            "squat-",
            "back squat",
            &"a".repeat(65),
        ] {
            assert!(ExerciseSlug::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn slugify_makes_slugs_that_parse() {
        assert_eq!(slugify("3/4 Sit-Up", 64), "3-4-sit-up");
        assert_eq!(
            slugify("  Barbell Bench Press - Medium Grip ", 64),
            "barbell-bench-press-medium-grip"
        );
        assert_eq!(slugify("Squat", 3), "squ");
        assert_eq!(slugify("ab cd", 3), "ab");
        for name in ["Ünïcode Row", "a", "Dips - Triceps Version", "x--y"] {
            let slug = slugify(name, 64);
            assert!(ExerciseSlug::parse(&slug).is_ok(), "{name} -> {slug}");
        }
    }

    #[test]
    fn numbers() {
        assert!(
            Reps::parse(0).is_err() && Reps::parse(101).is_err() && Reps::parse(i64::MAX).is_err()
        );
        assert_eq!(Reps::parse(5).unwrap().get(), 5);
        assert!(Kilograms::parse(-1.0).is_err() && Kilograms::parse(f64::NAN).is_err());
        assert_eq!(Kilograms::parse(102.499).unwrap().get(), 102.5);
        assert!(Rir::parse(11).is_err() && Rir::parse(-1).is_err());
    }
}
