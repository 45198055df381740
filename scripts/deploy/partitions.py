"""The stream jobs' consumers and the topics' partitions agree in each environment: the
application chart's kafka.partitions (KEDA's ceiling), its FITSYNC__KAFKA__PARTITIONS,
and the data chart's KafkaTopics; and no job starts with more consumers than partitions.
"""

import sys

import yaml


def merge(base, over):
    """Helm's merge of values files: maps deeply, everything else replaced."""
    out = dict(base)
    for key, value in over.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def values(*files):
    merged = {}
    for f in files:
        merged = merge(merged, yaml.safe_load(open(f)) or {})
    return merged


app, data = "charts/fitsync", "charts/fitsync-data"
for env, app_files, data_files in (
    ("production", [f"{app}/values.yaml", f"{app}/values-production.yaml"], [f"{data}/values.yaml"]),
    (
        "staging",
        [f"{app}/values.yaml", f"{app}/values-staging.yaml"],
        [f"{data}/values.yaml", f"{data}/values-staging.yaml"],
    ),
):
    a, d = values(*app_files), values(*data_files)
    counts = {
        "app kafka.partitions": a["kafka"]["partitions"],
        "app FITSYNC__KAFKA__PARTITIONS": int(a["config"]["FITSYNC__KAFKA__PARTITIONS"]),
        "data kafka.partitions": d["kafka"]["partitions"],
    }
    if len(set(counts.values())) != 1:
        sys.exit(f"{env}: partition counts differ: {counts}")
    too_many = {
        t: s["replicas"]
        for t, s in a["targets"].items()
        if s.get("streamJob") and s["replicas"] > d["kafka"]["partitions"]
    }
    if too_many:
        sys.exit(f"{env}: more consumers than partitions: {too_many}")
    print(f"{env}: {d['kafka']['partitions']} partitions in both charts and the binary's setting")
