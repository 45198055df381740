use std::time::Duration;

use opensearch::{
    http::request::JsonBody,
    indices::{IndicesCreateParts, IndicesExistsParts},
    BulkParts, OpenSearch,
};
use rdkafka::message::OwnedMessage;
use serde_json::{json, Value};

const ATTEMPTS: u32 = 5;

/// One document to index. With a `version`, OpenSearch keeps the highest (external
/// versioning): an older one arriving later is a no-op, not an error.
pub struct Doc {
    pub index: String,
    pub id: String,
    pub version: Option<u64>,
    pub body: Value,
}

/// The events index: the history of every domain event.
pub fn events_index() -> Value {
    json!({
        "settings": {"number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "1s"},
        "mappings": {"properties": {
            "id": {"type": "keyword"}, "type": {"type": "keyword"}, "source": {"type": "keyword"},
            "subject": {"type": "keyword"}, "time": {"type": "date"},
            "specversion": {"type": "keyword"}, "datacontenttype": {"type": "keyword"},
            "data": {"type": "object", "dynamic": true},
            "kafka": {"properties": {"topic": {"type": "keyword"}, "partition": {"type": "integer"}, "offset": {"type": "long"}}}
        }}
    })
}

/// Abbreviations lifters type, searched as the words they stand for (and back).
pub const EXERCISE_SYNONYMS: &[&str] = &[
    "rdl, romanian deadlift",
    "sldl, stiff leg deadlift",
    "ohp, overhead press, military press",
    "bench, bench press",
    "db, dumbbell",
    "bb, barbell",
    "kb, kettlebell",
    "ez, ez bar, e z curl bar",
    "pullup, pull up, pullups",
    "pushup, push up, pushups",
    "chinup, chin up",
    "situp, sit up",
    "pulldown, pull down",
    "abs, abdominals, ab",
    "tris, triceps",
    "bis, biceps",
    "delts, shoulders, deltoid",
];

/// The exercise index: names and aliases searched with synonyms and typo tolerance, and
/// by the prefix of each word as it is typed (edge n-grams); the rest filter as keywords.
pub fn exercises_index() -> Value {
    let keyword = json!({"type": "keyword"});
    let name = json!({
        "type": "text", "analyzer": "exercise_name", "search_analyzer": "exercise_name_search",
        "fields": {
            "prefix": {"type": "text", "analyzer": "exercise_prefix", "search_analyzer": "exercise_name"},
            "raw": {"type": "keyword"}
        }
    });
    json!({
        "settings": {
            "number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "1s",
            "analysis": {
                "filter": {
                    "exercise_synonyms": {"type": "synonym_graph", "synonyms": EXERCISE_SYNONYMS},
                    "exercise_edge": {"type": "edge_ngram", "min_gram": 1, "max_gram": 20}
                },
                "analyzer": {
                    "exercise_name": {"tokenizer": "standard", "filter": ["lowercase", "asciifolding"]},
                    "exercise_name_search": {"tokenizer": "standard", "filter": ["lowercase", "asciifolding", "exercise_synonyms"]},
                    "exercise_prefix": {"tokenizer": "standard", "filter": ["lowercase", "asciifolding", "exercise_edge"]}
                }
            }
        },
        "mappings": {"dynamic": "strict", "properties": {
            "exercise_id": keyword, "slug": keyword, "name": name, "aliases": name,
            "owner": keyword, "owner_kind": keyword, "owner_id": keyword, "source_id": keyword,
            "force": keyword, "level": keyword, "mechanic": keyword, "equipment": keyword,
            "category": keyword, "primary_muscles": keyword, "secondary_muscles": keyword,
            "revision": {"type": "long"}
        }}
    })
}

/// Creates `index` with `definition` (settings and mappings) if it does not exist.
pub async fn ensure_index(
    client: &OpenSearch,
    index: &str,
    definition: Value,
) -> anyhow::Result<()> {
    let exists = client
        .indices()
        .exists(IndicesExistsParts::Index(&[index]))
        .send()
        .await?;
    if exists.status_code().is_success() {
        return Ok(());
    }
    let response = client
        .indices()
        .create(IndicesCreateParts::Index(index))
        .body(definition)
        .send()
        .await?;
    let status = response.status_code();
    if !status.is_success() {
        let body: Value = response.json().await.unwrap_or_default();
        if body.pointer("/error/type").and_then(Value::as_str)
            != Some("resource_already_exists_exception")
        {
            anyhow::bail!("creating index {index}: {status} {body}");
        }
    }
    Ok(())
}

/// Bulk-indexes `docs`, retrying the items that failed for a passing reason (429, 5xx).
/// Returns the items the index refused for good (4xx), with the reason.
pub async fn index_all<'a>(
    client: &OpenSearch,
    docs: &[(&'a OwnedMessage, Doc)],
) -> anyhow::Result<Vec<(&'a OwnedMessage, String)>> {
    let mut pending: Vec<usize> = (0..docs.len()).collect();
    let mut refused = Vec::new();
    for attempt in 1..=ATTEMPTS {
        if pending.is_empty() {
            break;
        }
        let mut body: Vec<JsonBody<Value>> = Vec::with_capacity(pending.len() * 2);
        for &i in &pending {
            let doc = &docs[i].1;
            let mut action = json!({"_index": doc.index, "_id": doc.id});
            if let Some(version) = doc.version {
                action["version"] = json!(version);
                action["version_type"] = json!("external");
            }
            body.push(json!({ "index": action }).into());
            body.push(doc.body.clone().into());
        }
        let response = client.bulk(BulkParts::None).body(body).send().await?;
        if !response.status_code().is_success() {
            anyhow::bail!("bulk request failed: {}", response.status_code());
        }
        let result: Value = response.json().await?;
        let items = result["items"].as_array().cloned().unwrap_or_default();
        if items.len() != pending.len() {
            anyhow::bail!(
                "bulk response has {} items for {} requests",
                items.len(),
                pending.len()
            );
        }
        let mut retry = Vec::new();
        for (&i, item) in pending.iter().zip(&items) {
            let status = item["index"]["status"].as_u64().unwrap_or(0);
            match status {
                200..=299 => {}
                // A newer revision is already there.
                409 if docs[i].1.version.is_some() => {}
                429 | 500..=599 | 0 => retry.push(i),
                _ => refused.push((
                    docs[i].0,
                    format!(
                        "opensearch refused the document: {}",
                        item["index"]["error"]
                    ),
                )),
            }
        }
        pending = retry;
        if !pending.is_empty() && attempt < ATTEMPTS {
            tokio::time::sleep(Duration::from_millis(100 * 2u64.pow(attempt))).await;
        }
    }
    if !pending.is_empty() {
        anyhow::bail!(
            "{} documents still failing after {ATTEMPTS} attempts",
            pending.len()
        );
    }
    Ok(refused)
}
