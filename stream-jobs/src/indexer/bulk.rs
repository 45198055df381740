use std::time::Duration;

use opensearch::{
    http::request::JsonBody,
    indices::{IndicesCreateParts, IndicesExistsParts},
    BulkParts, OpenSearch,
};
use rdkafka::message::OwnedMessage;
use serde_json::{json, Value};

const ATTEMPTS: u32 = 5;

/// Creates the events index with explicit mappings if it does not exist.
pub async fn ensure_index(client: &OpenSearch, index: &str) -> anyhow::Result<()> {
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
        .body(json!({
            "settings": {"number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "1s"},
            "mappings": {"properties": {
                "id": {"type": "keyword"}, "type": {"type": "keyword"}, "source": {"type": "keyword"},
                "subject": {"type": "keyword"}, "time": {"type": "date"},
                "specversion": {"type": "keyword"}, "datacontenttype": {"type": "keyword"},
                "data": {"type": "object", "dynamic": true},
                "kafka": {"properties": {"topic": {"type": "keyword"}, "partition": {"type": "integer"}, "offset": {"type": "long"}}}
            }}
        }))
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
    index: &str,
    docs: &[(&'a OwnedMessage, (String, Value))],
) -> anyhow::Result<Vec<(&'a OwnedMessage, String)>> {
    let mut pending: Vec<usize> = (0..docs.len()).collect();
    let mut refused = Vec::new();
    for attempt in 1..=ATTEMPTS {
        if pending.is_empty() {
            break;
        }
        let mut body: Vec<JsonBody<Value>> = Vec::with_capacity(pending.len() * 2);
        for &i in &pending {
            let (id, doc) = &docs[i].1;
            body.push(json!({"index": {"_index": index, "_id": id}}).into());
            body.push(doc.clone().into());
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
