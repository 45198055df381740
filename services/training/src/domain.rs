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

/// Kilograms in one pound (exact, by the international yard and pound agreement, 1959).
pub const KG_PER_LB: f64 = 0.453_592_37;

/// The unit a user enters and reads loads in. Loads are stored in kilograms (to 10 g);
/// pounds are shown to 0.1 lb, which a stored value always rounds back to exactly.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    #[default]
    Kg,
    Lb,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Kg => "kg",
            Unit::Lb => "lb",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "kg" => Some(Unit::Kg),
            "lb" => Some(Unit::Lb),
            _ => None,
        }
    }

    /// A load entered in this unit, in kilograms (not yet rounded: `Kilograms::parse`
    /// checks and rounds it).
    pub fn to_kg(self, value: f64) -> f64 {
        match self {
            Unit::Kg => value,
            Unit::Lb => value * KG_PER_LB,
        }
    }

    /// A stored load shown in this unit: kilograms to 0.01, pounds to 0.1.
    pub fn from_kg(self, kg: f64) -> f64 {
        match self {
            Unit::Kg => (kg * 100.0).round() / 100.0,
            Unit::Lb => (kg / KG_PER_LB * 10.0).round() / 10.0,
        }
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

    /// Property tests over 200 000 random loads each (seeded, so a failure reproduces).
    mod units {
        use super::super::*;
        use rand::{rngs::StdRng, Rng, SeedableRng};

        fn stored(unit: Unit, value: f64) -> f64 {
            Kilograms::parse(unit.to_kg(value)).unwrap().get()
        }

        #[test]
        fn pounds_to_a_tenth_come_back_exactly() {
            let mut rng = StdRng::seed_from_u64(1959);
            for _ in 0..200_000 {
                let lb = f64::from(rng.gen_range(0..=22_046)) / 10.0;
                assert_eq!(Unit::Lb.from_kg(stored(Unit::Lb, lb)), lb, "{lb} lb");
            }
        }

        #[test]
        fn kilograms_to_ten_grams_come_back_exactly() {
            let mut rng = StdRng::seed_from_u64(1960);
            for _ in 0..200_000 {
                let kg = f64::from(rng.gen_range(0..=100_000)) / 100.0;
                assert_eq!(Unit::Kg.from_kg(stored(Unit::Kg, kg)), kg, "{kg} kg");
            }
        }

        #[test]
        fn conversion_keeps_order_and_the_stored_error_stays_below_five_grams() {
            let mut rng = StdRng::seed_from_u64(1961);
            for _ in 0..200_000 {
                let (a, b) = (rng.gen_range(0.0..2204.6), rng.gen_range(0.0..2204.6));
                let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
                assert!(stored(Unit::Lb, lo) <= stored(Unit::Lb, hi), "{lo} ≤ {hi}");
                assert!(
                    (stored(Unit::Lb, a) - a * 0.45359237).abs() <= 0.005 + 1e-9,
                    "{a} lb"
                );
            }
            // 1000 kg is the limit in either unit.
            assert!(Kilograms::parse(Unit::Lb.to_kg(2204.6)).is_ok());
            assert!(Kilograms::parse(Unit::Lb.to_kg(2205.0)).is_err());
            assert_eq!(Unit::Lb.from_kg(100.0), 220.5);
            assert_eq!(Unit::parse("lb"), Some(Unit::Lb));
            assert_eq!(Unit::parse("LB"), None);
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
