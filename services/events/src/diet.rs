use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const DIET_SAVED_V1: &str = "fitsync.diet.plan_saved.v1";
pub const DIET_ASSIGNMENT_CHANGED_V1: &str = "fitsync.diet.assignment_changed.v1";
pub const FOOD_LOGGED_V1: &str = "fitsync.diet.food_logged.v1";
pub const FOOD_DELETED_V1: &str = "fitsync.diet.food_deleted.v1";

/// Energy and macronutrients: a day's targets, what 100 g of a food holds, or what was
/// eaten. Grams, and kilocalories.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nutrients {
    pub kcal: f64,
    pub protein_g: f64,
    pub carbs_g: f64,
    pub fat_g: f64,
    pub fiber_g: f64,
}

impl Nutrients {
    pub fn values(&self) -> [f64; 5] {
        [
            self.kcal,
            self.protein_g,
            self.carbs_g,
            self.fat_g,
            self.fiber_g,
        ]
    }

    /// The checks of the JSON Schema for a food's content per 100 g: nothing negative,
    /// at most 900 kcal (pure fat), at most 100 g of protein, carbohydrate and fat together
    /// (fiber is counted within carbohydrate on US labels, beside it on EU labels: it is
    /// bounded alone).
    pub fn validate_per_100g(&self) -> Result<(), &'static str> {
        if self.values().iter().any(|v| !v.is_finite() || *v < 0.0) {
            return Err("nutrients must be finite and not negative");
        }
        if self.kcal > 900.0 {
            return Err("100 g of food holds at most 900 kcal");
        }
        if self.protein_g + self.carbs_g + self.fat_g > 100.0 || self.fiber_g > 100.0 {
            return Err("100 g of food holds at most 100 g of protein, carbs and fat");
        }
        Ok(())
    }
}

/// A diet plan was created or saved as a new version (keyed by its owner).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DietSaved {
    pub plan_id: Uuid,
    /// `trainer` or `gym`.
    pub owner_kind: String,
    pub owner_id: Uuid,
    pub version: i32,
    pub name: String,
    pub targets: Nutrients,
    pub meals: i32,
}

/// A client's diet assignment as it now stands: the daily targets that apply from
/// `start_date` to `end_date` (inclusive; open when absent) in the client's time zone.
/// One ended before it started has `end_date` the day before `start_date`: no day.
/// Consumers replace what they hold for the assignment when `revision` is higher.
/// Keyed by the client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DietAssignmentChanged {
    pub assignment_id: Uuid,
    pub client_id: Uuid,
    pub plan_id: Uuid,
    pub plan_version: i32,
    /// `active` or `ended`.
    pub status: String,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
    pub time_zone: String,
    pub targets: Nutrients,
    pub revision: i32,
}

/// A client logged a food they ate on a (local) date. Keyed by the client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FoodLogged {
    pub entry_id: Uuid,
    pub client_id: Uuid,
    pub date: NaiveDate,
    pub meal: Option<String>,
    pub food: String,
    pub grams: f64,
    pub per_100g: Nutrients,
    pub logged_at: DateTime<Utc>,
}

impl FoodLogged {
    /// The checks the JSON Schema expresses, for consumers that decode with serde.
    pub fn validate(&self) -> Result<(), &'static str> {
        if !(self.grams.is_finite() && self.grams > 0.0 && self.grams <= 5000.0) {
            return Err("grams must be above 0 and at most 5000");
        }
        if self.food.trim().is_empty() || self.food.chars().count() > 120 {
            return Err("food must be 1 to 120 characters");
        }
        self.per_100g.validate_per_100g()
    }
}

/// A client deleted a food entry (revision 2: an entry is logged, then maybe deleted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FoodDeleted {
    pub entry_id: Uuid,
    pub client_id: Uuid,
    pub revision: i32,
}
