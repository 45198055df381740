use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const EXERCISE_DEFINED_V1: &str = "fitsync.exercise.defined.v1";

/// The owner the search index gives the global library's exercises (a custom exercise's
/// is its trainer's or gym's id). Exercise events are keyed by exercise id.
pub const LIBRARY_KEY: &str = "library";

/// Closed vocabularies of the exercise library (mapped from the Free Exercise DB's).
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        // The texts are the variants in snake_case (a unit test holds them to it): the
        // derives read `rename_all`, not a rename passed through a macro.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

vocabulary!(
    /// The 17 muscle groups.
    Muscle {
        Abdominals = "abdominals",
        Abductors = "abductors",
        Adductors = "adductors",
        Biceps = "biceps",
        Calves = "calves",
        Chest = "chest",
        Forearms = "forearms",
        Glutes = "glutes",
        Hamstrings = "hamstrings",
        Lats = "lats",
        LowerBack = "lower_back",
        MiddleBack = "middle_back",
        Neck = "neck",
        Quadriceps = "quadriceps",
        Shoulders = "shoulders",
        Traps = "traps",
        Triceps = "triceps",
    }
);

vocabulary!(Equipment {
    Band = "band",
    Barbell = "barbell",
    BodyOnly = "body_only",
    Cable = "cable",
    Dumbbell = "dumbbell",
    EzBar = "ez_bar",
    ExerciseBall = "exercise_ball",
    FoamRoll = "foam_roll",
    Kettlebell = "kettlebell",
    Machine = "machine",
    MedicineBall = "medicine_ball",
    Other = "other",
});

vocabulary!(Category {
    Cardio = "cardio",
    OlympicWeightlifting = "olympic_weightlifting",
    Plyometrics = "plyometrics",
    Powerlifting = "powerlifting",
    Strength = "strength",
    Stretching = "stretching",
    Strongman = "strongman",
});

vocabulary!(Force {
    Pull = "pull",
    Push = "push",
    Static = "static",
});

vocabulary!(Level {
    Beginner = "beginner",
    Intermediate = "intermediate",
    Expert = "expert",
});

vocabulary!(Mechanic {
    Compound = "compound",
    Isolation = "isolation",
});

/// Who owns a custom exercise (the global library has no owner).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OwnerKind {
    Trainer,
    Gym,
}

/// An exercise was added to the library or changed. Consumers keep the highest
/// `revision` per `exercise_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExerciseDefined {
    pub exercise_id: Uuid,
    /// Stable for the exercise's life: sets name their exercise by it.
    pub slug: String,
    pub name: String,
    pub owner_kind: Option<OwnerKind>,
    pub owner_id: Option<Uuid>,
    /// The Free Exercise DB id, for the global library.
    pub source_id: Option<String>,
    pub force: Option<Force>,
    pub level: Level,
    pub mechanic: Option<Mechanic>,
    pub equipment: Option<Equipment>,
    pub category: Category,
    pub primary_muscles: Vec<Muscle>,
    pub secondary_muscles: Vec<Muscle>,
    pub aliases: Vec<String>,
    pub revision: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serialized_as_named<T: Serialize + Copy>(all: &[T], as_str: fn(T) -> &'static str) {
        for v in all {
            assert_eq!(serde_json::to_value(v).unwrap(), as_str(*v));
        }
    }

    #[test]
    fn vocabularies_serialize_as_their_texts_and_parse_back() {
        serialized_as_named(Muscle::ALL, Muscle::as_str);
        serialized_as_named(Equipment::ALL, Equipment::as_str);
        serialized_as_named(Category::ALL, Category::as_str);
        serialized_as_named(Force::ALL, Force::as_str);
        serialized_as_named(Level::ALL, Level::as_str);
        serialized_as_named(Mechanic::ALL, Mechanic::as_str);
        assert_eq!(Muscle::ALL.len(), 17);
        for m in Muscle::ALL {
            assert_eq!(Muscle::parse(m.as_str()), Some(*m));
        }
        assert_eq!(Equipment::parse("body only"), None);
    }
}
