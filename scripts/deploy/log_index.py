"""The log index template, tried on the real OpenSearch with the binary's real log lines.

Loads gitops/platform/opensearch/fitsync-logs-template.json under a name and pattern of
its own, runs `fitsync migrate` (already-migrated databases: it only logs), wraps each
JSON line the way the Fluent Bit configuration (gitops/platform/fluent-bit.yaml) does
(the parsed line under `log_fields`, Kubernetes metadata beside it; Fluent Bit itself is
not installable here), bulk-indexes them, and checks the mapping and a search.

usage: log_index.py FITSYNC_BIN OPENSEARCH_URL
"""

import json
import os
import subprocess
import sys
import urllib.request
import uuid

binary, url = sys.argv[1:]
run = uuid.uuid4().hex[:8]
name = f"fitsync-logs-check-{run}"


def call(method, path, body=None, ndjson=False):
    data = None
    headers = {}
    if body is not None:
        data = body.encode() if ndjson else json.dumps(body).encode()
        headers["Content-Type"] = "application/x-ndjson" if ndjson else "application/json"
    req = urllib.request.Request(f"{url}{path}", data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read() or b"{}")


template = json.load(open("gitops/platform/opensearch/fitsync-logs-template.json"))
template["index_patterns"] = [f"{name}-*"]
call("PUT", f"/_index_template/{name}", template)
index = f"{name}-2026.12.03"
try:
    env = {**os.environ, "FITSYNC__TELEMETRY__LOG_FORMAT": "json"}
    out = subprocess.run([binary, "migrate", "--wait", "30"], env=env, capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        sys.exit(f"fitsync migrate failed:\n{out.stderr}")
    lines = [json.loads(line) for line in (out.stdout + out.stderr).splitlines() if line.startswith("{")]
    if not lines:
        sys.exit("fitsync migrate logged no JSON line")
    bulk = ""
    for line in lines:
        record = {
            "@timestamp": line["timestamp"],
            "log_fields": line,
            "kubernetes": {
                "namespace_name": "fitsync",
                "pod_name": "fitsync-migrate-abcde",
                "container_name": "fitsync",
                "labels": {"app_kubernetes_io/component": "migrate"},
            },
        }
        bulk += json.dumps({"index": {"_index": index}}) + "\n" + json.dumps(record) + "\n"
    result = call("POST", "/_bulk?refresh=true", bulk, ndjson=True)
    if result["errors"]:
        sys.exit(f"bulk indexing refused a line: {json.dumps(result)[:2000]}")
    mapping = call("GET", f"/{index}/_mapping")[index]["mappings"]["properties"]
    fields = mapping["log_fields"]["properties"]
    expected = {"timestamp": "date", "level": "keyword", "message": "text", "target": "keyword", "service": "keyword"}
    got = {k: fields.get(k, {}).get("type") for k in expected}
    if got != expected:
        sys.exit(f"log_fields mapped as {got}, expected {expected}")
    hits = call("POST", f"/{index}/_search", {"query": {"bool": {"filter": [
        {"term": {"log_fields.level": "INFO"}},
        {"term": {"log_fields.service": "training"}},
        {"match": {"log_fields.message": "migrated"}},
    ]}}})["hits"]["total"]["value"]
    want = sum(1 for l in lines if l.get("level") == "INFO" and l.get("service") == "training" and "migrated" in l.get("message", ""))
    if want == 0 or hits != want:
        sys.exit(f"search found {hits} 'migrated' lines of the training service, expected {want}")
    print(f"{len(lines)} real log lines indexed; fields mapped {got}; search found {hits} of {want}")
finally:
    for path in (f"/{index}", f"/_index_template/{name}"):
        try:
            call("DELETE", path)
        except Exception as e:  # noqa: BLE001 - best-effort cleanup, reported
            print(f"cleanup of {path} failed: {e}", file=sys.stderr)
