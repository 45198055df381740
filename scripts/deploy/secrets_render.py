"""The secrets files the chart's providers render, loaded by the real binary.

For each provider (the Vault agent's template, External Secrets' template) and for an
API target, a worker and the migration hook: take the template from the rendered chart,
render it with Helm's template engine (the same Go text/template both providers use;
the agent's `secret` function becomes a lookup in a map of made-up secrets), then run
`fitsync config` with that file and the chart's ConfigMap environment. The binary
rejects unknown keys and bad TOML, and the test checks the values arrived.

usage: secrets_render.py RENDERED_VAULT.yaml RENDERED_ESO.yaml FITSYNC_BIN HELM
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib

import yaml

vault_manifests, eso_manifests, binary, helm = sys.argv[1:]

PEM = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n"
KV = {
    "signing_key_pem": PEM,
    "email_token_key": "k3y\"with'quotes",
    "redis_username": "fitsync-users",
    "redis_password": "r3dis:p@ss",
    "smtp_username": "mailer@fitsync.example",
    "smtp_password": "smtp\\pass",
    "sms_api_key": "sms-key",
    "sms_webhook_secret": "sms-secret",
    "vapid_private_key": PEM,
    # External Secrets reads the database URL from KV (no dynamic credentials).
    "database_url": "postgres://fitsync-users:db%40pass@fitsync-pg-rw.fitsync-data.svc:5432",
    "redis_host": "fitsync-redis.fitsync-data.svc:6379",
}
DB = {"username": "v-k8s-fitsync-users-abc", "password": "dyn\"pass"}


def docs(path):
    return [d for d in yaml.safe_load_all(open(path)) if d]


def render(template, data):
    """Renders a Go template with Helm's engine (`tpl`), returning the text."""
    with tempfile.TemporaryDirectory() as chart:
        os.makedirs(f"{chart}/templates")
        open(f"{chart}/Chart.yaml", "w").write("apiVersion: v2\nname: render\nversion: 0.1.0\n")
        open(f"{chart}/templates/out.yaml", "w").write(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: out}\n"
            "data:\n  out: {{ tpl .Values.template .Values.data | toJson }}\n"
        )
        values = f"{chart}/values.json"
        json.dump({"template": template, "data": data}, open(values, "w"))
        out = subprocess.run(
            [helm, "template", "r", chart, "-f", values], check=True, capture_output=True, text=True
        ).stdout
        return yaml.safe_load(out)["data"]["out"]


def config_env(manifests):
    cm = next(d for d in manifests if d["kind"] == "ConfigMap")
    return cm["data"]


def check(label, toml, env, expected):
    """The file parses as TOML with the expected values, and the binary accepts it with
    the chart's environment (unknown keys are refused) and sees every optional secret."""
    parsed = tomllib.loads(toml)
    for dotted, value in expected.items():
        section, key = dotted.split(".")
        got = parsed.get(section, {}).get(key)
        if got != value:
            sys.exit(f"{label}: {dotted} is {got!r}, expected {value!r}\n--- file:\n{toml}")
    with tempfile.NamedTemporaryFile("w", suffix=".toml") as f:
        f.write(toml)
        f.flush()
        run_env = {"PATH": os.environ["PATH"], "FITSYNC_CONFIG": f.name, **env}
        result = subprocess.run([binary, "config"], env=run_env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{label}: fitsync config refused the file:\n{result.stderr}\n--- file:\n{toml}")
    out = re.sub(r"\s+", "", result.stdout)
    # signing key, email key, SMTP password, SMS key and webhook secret, VAPID key.
    for needle, count in (('username:Some("mailer@fitsync.example",)', 1), ("Some(SecretBox<str>([REDACTED]),)", 6)):
        if out.count(needle) != count:
            sys.exit(f"{label}: expected {needle!r} {count} times in fitsync config:\n{out}")
    print(f"{label}: {len(expected)} values as expected, accepted by fitsync config")


def pod_annotations(manifests, component):
    for d in manifests:
        spec = d.get("spec", {})
        template = spec.get("template", {})
        labels = template.get("metadata", {}).get("labels", {})
        if labels.get("app.kubernetes.io/component") == component:
            return template["metadata"].get("annotations", {})
    sys.exit(f"no pod template for {component}")


EXPECTED = {
    "auth.signing_key_pem": PEM,
    "auth.email_token_key": KV["email_token_key"],
    "smtp.username": KV["smtp_username"],
    "smtp.password": KV["smtp_password"],
    "sms.api_key": KV["sms_api_key"],
    "sms.webhook_secret": KV["sms_webhook_secret"],
    "push.vapid_private_key": PEM,
}
REDIS = f"redis://{KV['redis_username']}:{KV['redis_password']}@{KV['redis_host']}"

vault = docs(vault_manifests)
env = config_env(vault)
for component, databases in (("users", True), ("notifications", True), ("indexer", False), ("migrate", True)):
    template = pod_annotations(vault, component)["vault.hashicorp.com/agent-inject-template-fitsync.toml"]
    paths = re.findall(r'secret "([^"]+)"', template)
    if len(paths) != (2 if databases else 1):
        sys.exit(f"{component}: the template reads {paths}")
    data = {"secrets": {}}
    for path in paths:
        data["secrets"][path] = {"Data": {"data": KV}} if "/data/" in path else {"Data": DB}
    go = re.sub(r'secret "([^"]+)"', r'index $.secrets "\1"', template).replace("toJSON", "toJson")
    expected = {**EXPECTED, "redis.url": REDIS}
    if databases:
        expected["database.url"] = (
            f"postgres://{DB['username']}:{DB['password']}@fitsync-pg-rw.fitsync-data.svc:5432"
        )
    check(f"vault agent template ({component})", render(go, data), env, expected)

eso = docs(eso_manifests)
env = config_env(eso)
secrets = [d for d in eso if d["kind"] == "ExternalSecret"]
if not secrets:
    sys.exit("no ExternalSecret rendered")
for d in secrets:
    toml = render(d["spec"]["target"]["template"]["data"]["fitsync.toml"], KV)
    expected = {**EXPECTED, "redis.url": REDIS, "database.url": KV["database_url"]}
    check(f"external secret {d['metadata']['name']}", toml, env, expected)
