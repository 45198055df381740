#!/usr/bin/env bash
# Stands up wger (the open-source workout manager, https://wger.de) as the peer that the
# API benchmark compares FitSync with (issue 13, item 3): wger 2.1 from PyPI in a
# virtualenv of its own, on the local stack's PostgreSQL, under gunicorn with the worker
# count gunicorn's documentation recommends, (2 x cores) + 1.
#
#   scripts/wger.sh install                      create or reuse the virtualenv only
#   scripts/wger.sh start --db NAME --port PORT [--workers N] [--logs N]
#                                                fresh database NAME, one user with an API
#                                                token and N (200) logged sets, gunicorn on
#                                                127.0.0.1:PORT in the background
#   scripts/wger.sh stop --port PORT             stop that gunicorn (SIGTERM, then SIGKILL)
#   scripts/wger.sh status --port PORT           say whether it runs
#
# `start` prints only KEY=VALUE lines on stdout, for the benchmark to parse:
#   WGER_URL          http://127.0.0.1:PORT
#   WGER_TOKEN        DRF token; send it as `Authorization: Token <WGER_TOKEN>`
#   WGER_READ_PATH    GET: the user's workout log, newest first, one page of WGER_PAGE_SIZE
#                     rows (100, as FitSync's GET /api/workouts/sets returns by default)
#   WGER_WRITE_PATH   POST with Content-Type: application/json and WGER_WRITE_BODY: logs one
#                     set (exercise, workout, reps, weight and unit, RiR, date); answers 201
#   WGER_PAGE_SIZE, WGER_LOGS, WGER_PID (gunicorn master), WGER_WORKERS, WGER_DB,
#   WGER_PORT, WGER_LOG (gunicorn's error log)
# Everything else goes to stderr. gunicorn runs its default sync workers, which close the
# connection after each response, so a load generator connects once per request.
#
# wger runs here without the internet: no exercise sync or image download from wger.de
# (those are management commands that are never run), no celery (2.1 has none), e-mail
# to Django's dummy backend, guest users and registration off. Its tables come from its
# migrations and the fixtures its wheel ships (the list `wger bootstrap` loads, less the
# exercise fixtures: the 2.1 wheel's exercise-base-data.json names a field its models no
# longer have, so it fails to load); the two exercises the user logs are created here.
# The cache is wger's own default, Django's per-process local memory, so no Redis is
# involved. DEBUG is off, wger's logger is at WARNING, and database connections persist
# (CONN_MAX_AGE) as in a deployment. wger is otherwise as shipped: its middleware saves a
# new Django session (one row in django_session, and a Set-Cookie) for every request
# that brings no session cookie, token-authenticated API requests included.
#
# The virtualenv lives outside the clone, in $FITSYNC_CACHE/tools/wger-venv, and is
# reused while the pins below and the Python version match. A template database with
# wger's migrations and fixtures applied (wger_tpl_<hash of the pins and the Python
# version>) is kept on the server, so a warm `start` copies it instead of migrating.
# Per-port files (settings module, pid file, gunicorn's log) live in
# $FITSYNC_STATE/wger/PORT.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FITSYNC_CACHE=${FITSYNC_CACHE:-$HOME/.cache/fitsync}
FITSYNC_STATE=${FITSYNC_STATE:-$ROOT/.fitsync}
PG_HOST=127.0.0.1
PG_PORT=${FITSYNC_PG_PORT:-55432}
PG_USER=postgres
PYTHON=${WGER_PYTHON:-python3}
VENV=$FITSYNC_CACHE/tools/wger-venv
PAGE_SIZE=100

# wger 2.1 (the newest on PyPI) and everything it pulls in, pinned to what pip resolves
# for it on Python 3.11. All are wheels except reportlab 3.6.11 (wger pins it exactly;
# it has no cp311 wheel and compiles with gcc in about 15 s) and django-activity-stream
# 1.4.2 (pure Python, published as a source archive only).
PINS=(
  wger==2.1
  gunicorn==27.0.1
  psycopg2-binary==2.9.13
  Django==3.2.25
  asgiref==3.13.0
  bleach==5.0.1
  certifi==2026.10.19.post1
  charset-normalizer==2.1.1
  django-activity-stream==1.4.2
  django-appconf==1.2.0
  django-bootstrap-breadcrumbs==0.9.2
  django-compressor==4.4
  django-cors-headers==3.13.0
  django-crispy-forms==1.14.0
  django-email-verification==0.1.0
  django-environ==0.9.0
  django-extensions==3.2.3
  django-filter==22.1
  django-formtools==2.5.1
  django-recaptcha==3.0.0
  django-simple-history==3.6.0
  django-sortedm2m==3.1.1
  django-storages==1.14.6
  djangorestframework==3.15.1
  easy-thumbnails==2.8.3
  fontawesomefree==6.1.2
  icalendar==4.1.0
  idna==3.20
  invoke==1.7.3
  Pillow==9.2.0
  python-dateutil==4.0.0
  pytz==2026.6
  rcssmin==1.1.1
  reportlab==3.6.11
  requests==2.28.1
  rjsmin==1.2.1
  six==1.17.0
  sqlparse==0.6.1
  tinycss2==1.1.1
  tzdata==2026.6
  urllib3==1.26.20
  webencodings==0.6.1
)

log() { printf '[wger] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

psql_q() {
  PGOPTIONS='-c client_min_messages=warning' \
    psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -v ON_ERROR_STOP=1 -qAtX "$@"
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pid_alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }

# The pins and the interpreter's version, as one text: the virtualenv is reused while
# its copy matches. A short hash of it names the template database.
pins_text() {
  printf '%s\n' "$("$PYTHON" -c 'import sys; print(sys.version.split()[0])')" "${PINS[@]}"
}
pins_hash() { pins_text | sha256sum | cut -c1-10; }

install() {
  local want have=''
  want=$(pins_text)
  [[ -f $VENV/fitsync-pins.txt ]] && have=$(cat "$VENV/fitsync-pins.txt")
  if [[ $want == "$have" && -x $VENV/bin/gunicorn ]]; then
    log "virtualenv $VENV is up to date"
    return
  fi
  local started=$SECONDS
  log "installing wger into $VENV (pins changed or first run)"
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --prefer-binary \
    "${PINS[@]}" >&2
  "$VENV/bin/python" -m pip check >&2
  printf '%s\n' "$want" >"$VENV/fitsync-pins.txt"
  log "installed in $((SECONDS - started)) s"
}

# write_settings DIR DB PORT: the Django settings module `wger_bench_settings` in DIR.
write_settings() {
  local dir=$1 db=$2 port=$3 secret
  secret=$(head -c 32 /dev/urandom | sha256sum | cut -c1-50)
  mkdir -p "$dir/media"
  cat >"$dir/wger_bench_settings.py" <<EOF
# Written by scripts/wger.sh: wger 2.1 as a production-like peer for the API benchmark.
from wger.settings_global import *  # noqa: F401,F403

DEBUG = False
ALLOWED_HOSTS = ['127.0.0.1', 'localhost']
SECRET_KEY = '$secret'
TIME_ZONE = 'UTC'
SITE_URL = 'http://127.0.0.1:$port'
MEDIA_ROOT = '$dir/media'
MEDIA_URL = '/media/'

DATABASES = {
    'default': {
        'ENGINE': 'django.db.backends.postgresql',
        'NAME': '$db',
        'USER': '$PG_USER',
        'PASSWORD': '',
        'HOST': '$PG_HOST',
        'PORT': '$PG_PORT',
        # One persistent connection per worker, as a deployment keeps them.
        'CONN_MAX_AGE': 600,
    }
}

# wger's default cache (settings_global): Django's local memory, one per worker process.
CACHES = {
    'default': {
        'BACKEND': 'django.core.cache.backends.locmem.LocMemCache',
        'LOCATION': 'wger-cache',
        'TIMEOUT': 30 * 24 * 60 * 60,
    }
}

# No mail leaves the machine; no guest users, sign-ups or reCAPTCHA.
EMAIL_BACKEND = 'django.core.mail.backends.dummy.EmailBackend'
WGER_SETTINGS['ALLOW_GUEST_USERS'] = False
WGER_SETTINGS['ALLOW_REGISTRATION'] = False
WGER_SETTINGS['USE_RECAPTCHA'] = False
RECAPTCHA_PUBLIC_KEY = ''
RECAPTCHA_PRIVATE_KEY = ''
NOCAPTCHA = True
EMAIL_PAGE_DOMAIN = SITE_URL

# wger logs at DEBUG to the console by default; a deployment keeps warnings only.
LOGGING['loggers']['wger']['level'] = 'WARNING'
EOF
}

# django DIR ARGS...: run Python in the virtualenv with DIR's settings module.
django_py() {
  local dir=$1; shift
  DJANGO_SETTINGS_MODULE=wger_bench_settings PYTHONPATH=$dir "$VENV/bin/python" "$@"
}

# The template database: wger's migrations and the fixtures its wheel ships, made once
# per set of pins. A comment on the database marks it complete.
ensure_template() {
  local tpl=$1 dir=$2 ready
  ready=$(psql_q -c "select shobj_description(oid, 'pg_database')
                     from pg_database where datname = '$tpl'")
  if [[ $ready == ready ]]; then
    log "template database $tpl is ready"
    return
  fi
  local started=$SECONDS
  log "building template database $tpl (migrations and wger's shipped fixtures)"
  psql_q -c "drop database if exists $tpl" -c "create database $tpl"
  write_settings "$dir" "$tpl" 0
  django_py "$dir" -m django migrate --noinput -v 0 >&2
  # The fixture list of wger's `bootstrap` task (wger/tasks.py), all inside the wheel,
  # without exercise-base-data.json and exercises.json (see the header).
  django_py "$dir" - >&2 <<'EOF'
import django
django.setup()
from django.core.management import call_command
for name in ('gym', 'languages', 'groups', 'users', 'licenses', 'days_of_week',
             'setting_repetition_units', 'setting_weight_units', 'language_config',
             'gym_config', 'equipment', 'muscles', 'categories',
             'gym-config', 'gym-adminconfig'):
    call_command('loaddata', name + '.json', verbosity=0)
EOF
  psql_q -c "comment on database $tpl is 'ready'"
  log "template built in $((SECONDS - started)) s"
}

# seed DIR LOGS: the benchmark user, its token, two exercises, a workout and LOGS logged
# sets. Prints KEY=VALUE lines.
seed() {
  local dir=$1 logs=$2
  WGER_BENCH_LOGS=$logs django_py "$dir" - <<'EOF'
import datetime
import json
import os
import secrets

import django
django.setup()

from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from wger.core.models import Language, License
from wger.exercises.models import Exercise, ExerciseBase, ExerciseCategory
from wger.manager.models import Workout, WorkoutLog

user = User.objects.create_user('bench', 'bench@example.com', secrets.token_urlsafe(24))
token = Token.objects.create(user=user)

english = Language.objects.get(short_name='en')
license = License.objects.order_by('id').first()
exercises = []
for name, category in (('Bench press (benchmark)', 'Chest'), ('Back squat (benchmark)', 'Legs')):
    base = ExerciseBase.objects.create(
        category=ExerciseCategory.objects.get(name=category), license=license)
    Exercise.objects.create(exercise_base=base, name=name, language=english,
                            license=license, description='Created by scripts/wger.sh.')
    exercises.append(base)

workout = Workout.objects.create(user=user, name='Benchmark block')

logs = int(os.environ['WGER_BENCH_LOGS'])
today = datetime.date.today()
WorkoutLog.objects.bulk_create([
    WorkoutLog(user=user, workout=workout, exercise_base=exercises[i % 2],
               reps=5 + i % 6, weight=40 + (i % 30) * 2.5, rir=str(i % 4),
               date=today - datetime.timedelta(days=i // 2))
    for i in range(logs)
])

body = {'exercise_base': exercises[0].id, 'workout': workout.id, 'reps': 8,
        'weight': '80.00', 'weight_unit': 1, 'repetition_unit': 1, 'rir': '2',
        'date': today.isoformat()}
print(f'WGER_TOKEN={token.key}')
print(f'WGER_WRITE_BODY={json.dumps(body, separators=(",", ":"))}')
EOF
}

stop_port() {
  local port=$1 pidfile pid
  pidfile=$FITSYNC_STATE/wger/$port/gunicorn.pid
  pid=$(cat "$pidfile" 2>/dev/null || true)
  if ! pid_alive "$pid"; then
    rm -f "$pidfile"
    return
  fi
  log "stopping gunicorn $pid on port $port"
  kill -TERM "$pid"
  local deadline=$((SECONDS + 30))
  while pid_alive "$pid"; do
    if ((SECONDS >= deadline)); then
      log "gunicorn $pid still up after 30 s: SIGKILL"
      # The workers first: once the master is gone they are no longer its children.
      pkill -KILL -P "$pid" 2>/dev/null || true
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  rm -f "$pidfile"
}

start() {
  local db=$1 port=$2 workers=$3 logs=$4
  [[ $db =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || die "--db must be a lower-case SQL name, got '$db'"
  [[ $port =~ ^[0-9]+$ ]] || die "--port must be a number, got '$port'"
  [[ $workers =~ ^[1-9][0-9]*$ ]] || die "--workers must be a positive number, got '$workers'"
  [[ $logs =~ ^[0-9]+$ ]] || die "--logs must be a number, got '$logs'"
  [[ $db == wger_tpl_* ]] && die "--db must not start with wger_tpl_ (the template's prefix)"
  psql_q -c 'select 1' >/dev/null 2>&1 ||
    die "PostgreSQL is not answering on $PG_HOST:$PG_PORT: run 'bash scripts/stack.sh start'"
  local started=$SECONDS dir=$FITSYNC_STATE/wger/$port
  mkdir -p "$dir" "$FITSYNC_CACHE/tools"

  # One install or template build at a time, whichever port asks.
  exec 9>"$FITSYNC_CACHE/tools/wger.lock"
  flock 9
  install
  local tpl
  tpl=wger_tpl_$(pins_hash)
  ensure_template "$tpl" "$dir/template"
  exec 9>&-

  stop_port "$port"
  port_open "$port" && die "port $port is taken by another process"

  log "creating database $db from $tpl"
  psql_q -c "drop database if exists $db with (force)" -c "create database $db template $tpl"
  write_settings "$dir" "$db" "$port"
  local seeded
  seeded=$(seed "$dir" "$logs")

  log "starting gunicorn with $workers workers on 127.0.0.1:$port"
  : >"$dir/gunicorn.log"
  DJANGO_SETTINGS_MODULE=wger_bench_settings PYTHONPATH=$dir \
    setsid "$VENV/bin/gunicorn" wger.wsgi:application \
    --bind "127.0.0.1:$port" --workers "$workers" \
    --pid "$dir/gunicorn.pid" --log-level warning \
    </dev/null >>"$dir/gunicorn.log" 2>&1 &
  local launched=$! code=''
  local deadline=$((SECONDS + 60))
  # Ready when the API root answers 200 and the master has written its pid file.
  until [[ $code == 200 && -s $dir/gunicorn.pid ]]; do
    pid_alive "$launched" || { tail -n 30 "$dir/gunicorn.log" >&2; die "gunicorn exited"; }
    if ((SECONDS >= deadline)); then
      tail -n 30 "$dir/gunicorn.log" >&2
      die "gunicorn not answering after 60 s"
    fi
    sleep 0.3
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/api/v2/" || true)
  done
  local pid
  pid=$(cat "$dir/gunicorn.pid")
  log "wger answers on http://127.0.0.1:$port (gunicorn $pid), ready in $((SECONDS - started)) s"

  printf 'WGER_URL=http://127.0.0.1:%s\n' "$port"
  printf '%s\n' "$seeded"
  printf 'WGER_READ_PATH=/api/v2/workoutlog/?ordering=-date,-id&limit=%s\n' "$PAGE_SIZE"
  printf 'WGER_WRITE_PATH=/api/v2/workoutlog/\n'
  printf 'WGER_PAGE_SIZE=%s\nWGER_LOGS=%s\n' "$PAGE_SIZE" "$logs"
  printf 'WGER_PID=%s\nWGER_WORKERS=%s\n' "$pid" "$workers"
  printf 'WGER_DB=%s\nWGER_PORT=%s\nWGER_LOG=%s\n' "$db" "$port" "$dir/gunicorn.log"
}

cmd=${1:-}
[[ -n $cmd ]] || usage
shift
db='' port='' workers=$((2 * $(nproc) + 1)) logs=200
while (($#)); do
  case $1 in
    --db) db=${2:?--db needs a name}; shift 2 ;;
    --port) port=${2:?--port needs a number}; shift 2 ;;
    --workers) workers=${2:?--workers needs a number}; shift 2 ;;
    --logs) logs=${2:?--logs needs a number}; shift 2 ;;
    *) usage ;;
  esac
done

case $cmd in
  install) install ;;
  start)
    [[ -n $db && -n $port ]] || usage
    start "$db" "$port" "$workers" "$logs"
    ;;
  stop)
    [[ -n $port ]] || usage
    stop_port "$port"
    ;;
  status)
    [[ -n $port ]] || usage
    pid=$(cat "$FITSYNC_STATE/wger/$port/gunicorn.pid" 2>/dev/null || true)
    if pid_alive "$pid"; then
      echo "wger up (gunicorn $pid) on 127.0.0.1:$port"
    else
      echo "wger down on port $port"
    fi
    ;;
  *) usage ;;
esac
