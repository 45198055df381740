#!/usr/bin/env bash
# A smoke test through a deployment's public address, for the pipeline (staging and
# production, .github/workflows/deliver.yml) and scripts/image.sh (the image on this
# machine): routes anyone may call answer through the edge, and the others refuse a
# request without a token.
#   scripts/deploy/smoke.sh BASE_URL
#   - GET /.well-known/openid-configuration: the issuer is BASE_URL, the keys under it;
#   - GET /.well-known/jwks.json: at least one ES256 P-256 key;
#   - GET /api/users/me without a token: 401 (the service) or 403 (the edge's policy).
set -euo pipefail
url=${1:?usage: scripts/deploy/smoke.sh BASE_URL}
url=${url%/}
retry=(--retry 10 --retry-all-errors --retry-delay 3 --max-time 10)
body=$(mktemp)
trap 'rm -f "$body"' EXIT

curl -fsS "${retry[@]}" -o "$body" "$url/.well-known/openid-configuration"
python3 - "$url" "$body" <<'PY'
import json, sys
url, path = sys.argv[1:]
doc = json.load(open(path))
if doc.get("issuer") != url or doc.get("jwks_uri") != f"{url}/.well-known/jwks.json":
    sys.exit(f"openid-configuration names issuer {doc.get('issuer')!r}, keys {doc.get('jwks_uri')!r}; expected {url!r}")
PY
echo "smoke: openid-configuration names $url"

curl -fsS "${retry[@]}" -o "$body" "$url/.well-known/jwks.json"
python3 - "$body" <<'PY'
import json, sys
keys = json.load(open(sys.argv[1])).get("keys", [])
good = [k for k in keys if k.get("kty") == "EC" and k.get("crv") == "P-256" and k.get("alg") == "ES256" and k.get("kid")]
if not good:
    sys.exit(f"no ES256 P-256 key in the JWKS: {keys}")
print(f"smoke: {len(good)} signing key(s) published")
PY

code=$(curl -sS "${retry[@]}" -o "$body" -w '%{http_code}' "$url/api/users/me")
if [[ $code != 401 && $code != 403 ]]; then
  echo "smoke: GET /api/users/me without a token answered $code, expected 401 or 403" >&2
  exit 1
fi
echo "smoke: a request without a token is refused ($code)"
