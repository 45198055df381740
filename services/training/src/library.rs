//! The global exercise library: the 873 exercises of the Free Exercise DB (public
//! domain; `data/README.md`), imported at `migrate` with the project's own vocabularies,
//! stable slugs and a few common aliases. Every exercise the import adds or changes is
//! written to the outbox in the same transaction, so the search index and the analytics
//! learn the library from the change stream like any other change.

use fitsync_events::{
    Category, CloudEvent, Equipment, ExerciseDefined, Force, Level, Mechanic, Muscle, Topic,
    EXERCISE_DEFINED_V1,
};
use fitsync_platform::outbox;
use serde::Deserialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{domain::slugify, handlers::SOURCE};

const SOURCE_DATA: &str = include_str!("../data/exercises.json");

/// Common names lifters type, mapped to the library's slug. A set may name its exercise
/// by either; search finds both.
pub const ALIASES: &[(&str, &[&str])] = &[
    ("barbell-squat", &["Back Squat", "Squat"]),
    ("barbell-bench-press-medium-grip", &["Bench Press", "Bench"]),
    ("barbell-deadlift", &["Deadlift", "Conventional Deadlift"]),
    ("romanian-deadlift", &["RDL", "Stiff-Leg Deadlift"]),
    (
        "standing-military-press",
        &["Overhead Press", "OHP", "Military Press"],
    ),
    ("bent-over-barbell-row", &["Barbell Row", "Row"]),
    ("pullups", &["Pull-Up"]),
    ("pushups", &["Push-Up"]),
    ("front-squat-clean-grip", &["Front Squat"]),
    ("barbell-hip-thrust", &["Hip Thrust"]),
];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SourceExercise {
    id: String,
    name: String,
    force: Option<String>,
    level: String,
    mechanic: Option<String>,
    equipment: Option<String>,
    primary_muscles: Vec<String>,
    secondary_muscles: Vec<String>,
    category: String,
}

/// One library exercise in the project's vocabulary.
#[derive(Debug, Clone, PartialEq)]
pub struct LibraryExercise {
    pub source_id: String,
    pub slug: String,
    pub name: String,
    pub force: Option<Force>,
    pub level: Level,
    pub mechanic: Option<Mechanic>,
    pub equipment: Option<Equipment>,
    pub category: Category,
    pub primary_muscles: Vec<Muscle>,
    pub secondary_muscles: Vec<Muscle>,
    pub aliases: Vec<String>,
}

fn muscle(text: &str) -> anyhow::Result<Muscle> {
    Muscle::parse(&text.replace(' ', "_")).ok_or_else(|| anyhow::anyhow!("unknown muscle {text}"))
}

fn equipment(text: &str) -> anyhow::Result<Equipment> {
    let mapped = match text {
        "bands" => "band",
        "body only" => "body_only",
        "e-z curl bar" => "ez_bar",
        "kettlebells" => "kettlebell",
        other => other,
    };
    Equipment::parse(&mapped.replace(' ', "_"))
        .ok_or_else(|| anyhow::anyhow!("unknown equipment {text}"))
}

/// The library as shipped, mapped and checked (every value must map).
pub fn exercises() -> anyhow::Result<Vec<LibraryExercise>> {
    let source: Vec<SourceExercise> = serde_json::from_str(SOURCE_DATA)?;
    let mut out = Vec::with_capacity(source.len());
    for e in source {
        let slug = slugify(&e.name, 64);
        let aliases = ALIASES
            .iter()
            .find(|(s, _)| *s == slug)
            .map(|(_, a)| a.iter().map(|s| (*s).to_owned()).collect())
            .unwrap_or_default();
        let unknown = |what: &str, text: &str| anyhow::anyhow!("{}: unknown {what} {text}", e.id);
        out.push(LibraryExercise {
            force: e
                .force
                .map(|f| Force::parse(&f).ok_or_else(|| unknown("force", &f)))
                .transpose()?,
            level: Level::parse(&e.level).ok_or_else(|| unknown("level", &e.level))?,
            mechanic: e
                .mechanic
                .map(|m| Mechanic::parse(&m).ok_or_else(|| unknown("mechanic", &m)))
                .transpose()?,
            equipment: e.equipment.as_deref().map(equipment).transpose()?,
            category: Category::parse(&e.category.replace(' ', "_"))
                .ok_or_else(|| unknown("category", &e.category))?,
            primary_muscles: e
                .primary_muscles
                .iter()
                .map(|m| muscle(m))
                .collect::<anyhow::Result<_>>()?,
            secondary_muscles: e
                .secondary_muscles
                .iter()
                .map(|m| muscle(m))
                .collect::<anyhow::Result<_>>()?,
            source_id: e.id,
            slug,
            name: e.name,
            aliases,
        });
    }
    Ok(out)
}

/// Brings the library in the database up to the shipped one: adds what is missing,
/// updates what changed (its revision goes up), and writes an `exercise.defined` event
/// for each, in one transaction. Run again, it changes and emits nothing.
pub async fn import(pool: &PgPool) -> anyhow::Result<usize> {
    let library = exercises()?;
    let n = library.len();
    let (mut ids, mut slugs, mut names, mut sources) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut forces, mut levels, mut mechanics, mut equipments, mut categories) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    // Arrays of arrays must be rectangular in PostgreSQL: pass them as JSON.
    let (mut primary, mut secondary, mut aliases, mut alias_slugs) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for e in &library {
        ids.push(Uuid::now_v7());
        slugs.push(e.slug.clone());
        names.push(e.name.clone());
        sources.push(e.source_id.clone());
        forces.push(e.force.map(|f| f.as_str()));
        levels.push(e.level.as_str());
        mechanics.push(e.mechanic.map(|m| m.as_str()));
        equipments.push(e.equipment.map(|q| q.as_str()));
        categories.push(e.category.as_str());
        primary.push(serde_json::json!(e.primary_muscles));
        secondary.push(serde_json::json!(e.secondary_muscles));
        aliases.push(serde_json::json!(e.aliases));
        alias_slugs.push(serde_json::json!(e
            .aliases
            .iter()
            .map(|a| slugify(a, 64))
            .collect::<Vec<_>>()));
    }
    let mut tx = pool.begin().await?;
    // Two processes migrating at once import one after the other.
    sqlx::query!("select pg_advisory_xact_lock(hashtext('fitsync.exercise_library'))")
        .execute(&mut *tx)
        .await?;
    let changed = sqlx::query!(
        r#"insert into exercises (id, slug, name, source_id, force, level, mechanic, equipment, category,
                                  primary_muscles, secondary_muscles, aliases, alias_slugs)
           select id, slug, name, source_id, force, level, mechanic, equipment, category,
                  array(select jsonb_array_elements_text(p)), array(select jsonb_array_elements_text(s)),
                  array(select jsonb_array_elements_text(a)), array(select jsonb_array_elements_text(x))
           from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                       $8::text[], $9::text[], $10::jsonb[], $11::jsonb[], $12::jsonb[], $13::jsonb[])
                as t(id, slug, name, source_id, force, level, mechanic, equipment, category, p, s, a, x)
           on conflict (source_id) do update
           set name = excluded.name, force = excluded.force, level = excluded.level,
               mechanic = excluded.mechanic, equipment = excluded.equipment, category = excluded.category,
               primary_muscles = excluded.primary_muscles, secondary_muscles = excluded.secondary_muscles,
               aliases = excluded.aliases, alias_slugs = excluded.alias_slugs,
               revision = exercises.revision + 1, updated_at = now()
           where (exercises.name, exercises.force, exercises.level, exercises.mechanic, exercises.equipment,
                  exercises.category, exercises.primary_muscles, exercises.secondary_muscles, exercises.aliases)
                 is distinct from
                 (excluded.name, excluded.force, excluded.level, excluded.mechanic, excluded.equipment,
                  excluded.category, excluded.primary_muscles, excluded.secondary_muscles, excluded.aliases)
           returning id, slug, source_id as "source_id!", revision"#,
        &ids,
        &slugs,
        &names,
        &sources,
        &forces as &[Option<&str>],
        &levels as &[&str],
        &mechanics as &[Option<&str>],
        &equipments as &[Option<&str>],
        &categories as &[&str],
        &primary,
        &secondary,
        &aliases,
        &alias_slugs
    )
    .fetch_all(&mut *tx)
    .await?;
    let by_source: std::collections::HashMap<&str, &LibraryExercise> =
        library.iter().map(|e| (e.source_id.as_str(), e)).collect();
    for row in &changed {
        let e = by_source[row.source_id.as_str()];
        let event = CloudEvent::new(
            SOURCE,
            EXERCISE_DEFINED_V1,
            row.id.to_string(),
            ExerciseDefined {
                exercise_id: row.id,
                slug: row.slug.clone(),
                name: e.name.clone(),
                owner_kind: None,
                owner_id: None,
                source_id: Some(e.source_id.clone()),
                force: e.force,
                level: e.level,
                mechanic: e.mechanic,
                equipment: e.equipment,
                category: e.category,
                primary_muscles: e.primary_muscles.clone(),
                secondary_muscles: e.secondary_muscles.clone(),
                aliases: e.aliases.clone(),
                revision: row.revision,
            },
        );
        outbox::enqueue(&mut tx, Topic::Exercises, &event).await?;
    }
    tx.commit().await?;
    if !changed.is_empty() {
        tracing::info!(changed = changed.len(), "exercise library imported");
    }
    Ok(changed.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_source_exercise_maps_to_a_unique_slug() {
        let library = exercises().unwrap();
        assert_eq!(library.len(), 873);
        let slugs: std::collections::HashSet<_> = library.iter().map(|e| &e.slug).collect();
        assert_eq!(slugs.len(), 873);
        for (slug, _) in ALIASES {
            assert!(slugs.contains(&(*slug).to_owned()), "alias target {slug}");
        }
        let rdl = library
            .iter()
            .find(|e| e.slug == "romanian-deadlift")
            .unwrap();
        assert_eq!(rdl.primary_muscles, vec![Muscle::Hamstrings]);
        assert!(rdl.aliases.contains(&"RDL".to_owned()));
        assert!(library.iter().all(|e| !e.primary_muscles.is_empty()));
    }
}
