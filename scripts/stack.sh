#!/usr/bin/env bash
# FitSync local stack: real PostgreSQL 15, Redis, Apache Kafka 4 (KRaft), OpenSearch 2.19
# and an SMTP server (aiosmtpd, into a Maildir) on loopback ports, with no Docker and no internet (see docs/local-stack.md).
#
#   scripts/stack.sh install        install what is missing (apt packages, broker jars)
#   scripts/stack.sh start          install, then start every server and wait until healthy
#   scripts/stack.sh stop           stop every server (clean shutdown, data kept)
#   scripts/stack.sh status         one line per server
#   scripts/stack.sh env            the FITSYNC__ variables that point the app at this stack
#   scripts/stack.sh browser        install the browser the web tests drive (Debian's chromium)
#   scripts/stack.sh kafka-exec DIR PORT CONTROLLER_PORT
#                                   run a private broker in the foreground (tests use it)
#
# Everything is idempotent. Downloaded servers live in the cache ($FITSYNC_CACHE, outside
# the clone, so CI reuses them); data and logs live in the state folder ($FITSYNC_STATE).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FITSYNC_CACHE=${FITSYNC_CACHE:-$HOME/.cache/fitsync}
FITSYNC_STATE=${FITSYNC_STATE:-$ROOT/.fitsync}
PG_PORT=${FITSYNC_PG_PORT:-55432}
REDIS_PORT=${FITSYNC_REDIS_PORT:-56379}
KAFKA_PORT=${FITSYNC_KAFKA_PORT:-59092}
KAFKA_CONTROLLER_PORT=${FITSYNC_KAFKA_CONTROLLER_PORT:-59093}
OS_PORT=${FITSYNC_OPENSEARCH_PORT:-59200}
OS_TRANSPORT_PORT=${FITSYNC_OPENSEARCH_TRANSPORT_PORT:-59300}
SMTP_PORT=${FITSYNC_SMTP_PORT:-52525}
PG_BIN=/usr/lib/postgresql/15/bin
DATABASES=(userdb trainingdb scheduledb progressdb notificationdb)
KAFKA_LIB=$FITSYNC_CACHE/servers/kafka/lib
OS_LIB=$FITSYNC_CACHE/servers/opensearch/lib
OS_CLASSES=$FITSYNC_CACHE/servers/opensearch/classes
# Schemathesis (contract fuzzing from the OpenAPI document), in a virtualenv of its own.
SCHEMATHESIS_VERSION=4.32.5
SCHEMATHESIS_VENV=$FITSYNC_CACHE/tools/schemathesis
# The iCalendar parser the calendar-feed tests read feeds with, and the Arrow reader the
# export tests read Parquet and CSV with, in the same virtualenv.
ICALENDAR_VERSION=7.3.2
PYARROW_VERSION=22.0.0

log() { printf '[stack] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for DESCRIPTION SECONDS COMMAND...: poll until COMMAND succeeds.
wait_for() {
  local what=$1 secs=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then die "$what not ready after ${secs}s"; fi
    sleep 0.5
  done
}

pid_alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# SIGTERM (a JVM's clean shutdown), then SIGKILL after 60 s.
stop_pidfile() {
  local pid=$1
  pid_alive "$pid" || return 0
  kill "$(cat "$pid")" 2>/dev/null || true
  local deadline=$((SECONDS + 60))
  while pid_alive "$pid" && ((SECONDS < deadline)); do sleep 0.5; done
  if pid_alive "$pid"; then kill -9 "$(cat "$pid")" 2>/dev/null || true; fi
  rm -f "$pid"
}

# ---------------------------------------------------------------------------- install

apt_ready=0
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  ((${#missing[@]} == 0)) && return 0
  local sudo=""
  [[ $(id -u) -ne 0 ]] && sudo=sudo
  if ((apt_ready == 0)); then
    log "apt-get update"
    $sudo apt-get update -qq >/dev/null
    apt_ready=1
  fi
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

maven_copy() { # POM_DIR OUT_DIR
  local pom_dir=$1 out=$2
  if [[ -f $out/.complete ]] && [[ $out/.complete -nt $pom_dir/pom.xml ]]; then return 0; fi
  log "resolving $(basename "$pom_dir") jars from Maven Central into $out"
  rm -rf "$out" && mkdir -p "$out"
  (cd "$pom_dir" && mvn -q -B dependency:copy-dependencies -DoutputDirectory="$out") >&2
  touch "$out/.complete"
}

install() {
  apt_install curl postgresql postgresql-contrib redis-server kcat openjdk-17-jre-headless maven python3-aiosmtpd shellcheck prometheus
  command -v java >/dev/null || die "java not found after install"
  maven_copy "$ROOT/scripts/stack/kafka" "$KAFKA_LIB"
  maven_copy "$ROOT/scripts/stack/opensearch" "$OS_LIB"
  local src=$ROOT/scripts/stack/opensearch/Launcher.java
  if [[ ! -f $OS_CLASSES/Launcher.class ]] || [[ $src -nt $OS_CLASSES/Launcher.class ]]; then
    log "compiling the OpenSearch launcher"
    apt_install openjdk-17-jdk-headless
    mkdir -p "$OS_CLASSES"
    javac -d "$OS_CLASSES" -cp "$OS_LIB/*" "$src"
  fi
  if ! "$SCHEMATHESIS_VENV/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    log "installing schemathesis $SCHEMATHESIS_VERSION from PyPI into $SCHEMATHESIS_VENV"
    rm -rf "$SCHEMATHESIS_VENV"
    python3 -m venv "$SCHEMATHESIS_VENV" 2>/dev/null || {
      apt_install python3-venv
      rm -rf "$SCHEMATHESIS_VENV"
      python3 -m venv "$SCHEMATHESIS_VENV"
    }
    "$SCHEMATHESIS_VENV/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION" >&2
  fi
  if ! "$SCHEMATHESIS_VENV/bin/python" -c "import icalendar, sys; sys.exit(icalendar.__version__ != '$ICALENDAR_VERSION')" 2>/dev/null; then
    log "installing icalendar $ICALENDAR_VERSION from PyPI into $SCHEMATHESIS_VENV"
    "$SCHEMATHESIS_VENV/bin/pip" install -q "icalendar==$ICALENDAR_VERSION" >&2
  fi
  if ! "$SCHEMATHESIS_VENV/bin/python" -c "import pyarrow, sys; sys.exit(pyarrow.__version__ != '$PYARROW_VERSION')" 2>/dev/null; then
    log "installing pyarrow $PYARROW_VERSION from PyPI into $SCHEMATHESIS_VENV"
    "$SCHEMATHESIS_VENV/bin/pip" install -q "pyarrow==$PYARROW_VERSION" >&2
  fi
}

# ---------------------------------------------------------------------------- postgres

# PostgreSQL refuses to run as root: as root, the cluster runs as the postgres user, in
# the state folder if that user can reach it, else in a folder of its own under /var/tmp.
pg_dir() {
  local dir=$FITSYNC_STATE/postgres
  if [[ $(id -u) -eq 0 ]]; then
    mkdir -p "$FITSYNC_STATE"
    if ! runuser -u postgres -- test -x "$FITSYNC_STATE"; then
      dir=/var/tmp/fitsync-postgres-$(printf '%s' "$FITSYNC_STATE" | md5sum | cut -c1-12)
    fi
  fi
  printf '%s' "$dir"
}

pg_as_owner() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_start() {
  local dir
  dir=$(pg_dir)
  if [[ ! -f $dir/PG_VERSION ]]; then
    log "initdb $dir"
    mkdir -p "$dir"
    if [[ $(id -u) -eq 0 ]]; then chown postgres:postgres "$dir"; fi
    pg_as_owner "$PG_BIN/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >>"$dir/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$dir'
max_connections = 300
shared_buffers = 256MB
log_min_messages = warning
EOF
  fi
  if ! "$PG_BIN/pg_isready" -h 127.0.0.1 -p "$PG_PORT" -q; then
    log "starting postgres on 127.0.0.1:$PG_PORT"
    pg_as_owner "$PG_BIN/pg_ctl" -D "$dir" -o "-c synchronous_commit=off" -l "$dir/postgres.log" -w -t 60 start >/dev/null
  fi
  wait_for postgres 60 "$PG_BIN/pg_isready" -h 127.0.0.1 -p "$PG_PORT" -q
  for db in "${DATABASES[@]}"; do
    if ! psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "select 1 from pg_database where datname='$db'" | grep -q 1; then
      psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "create database $db" >/dev/null
    fi
  done
}

pg_stop() {
  local dir
  dir=$(pg_dir)
  [[ -f $dir/postmaster.pid ]] || return 0
  pg_as_owner "$PG_BIN/pg_ctl" -D "$dir" -m fast -w stop >/dev/null || true
}

# ---------------------------------------------------------------------------- redis

redis_start() {
  mkdir -p "$FITSYNC_STATE/redis" "$FITSYNC_STATE/logs"
  if redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; then return 0; fi
  log "starting redis on 127.0.0.1:$REDIS_PORT"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$FITSYNC_STATE/redis" \
    --daemonize yes --pidfile "$FITSYNC_STATE/redis/redis.pid" \
    --logfile "$FITSYNC_STATE/logs/redis.log" --appendonly yes >/dev/null
  wait_for redis 30 bash -c "redis-cli -p $REDIS_PORT ping | grep -q PONG"
}

redis_stop() {
  redis-cli -p "$REDIS_PORT" shutdown >/dev/null 2>&1 || true
}

# ---------------------------------------------------------------------------- kafka

# Writes server.properties for a combined broker+controller node and formats its log dir.
kafka_prepare() { # DIR PORT CONTROLLER_PORT
  local dir=$1 port=$2 cport=$3
  mkdir -p "$dir/data" "$dir/logs"
  cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
num.partitions=4
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.retention.hours=168
EOF
  if [[ ! -f $dir/data/meta.properties ]]; then
    local id
    id=$(java -cp "$KAFKA_LIB/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
    java -cp "$KAFKA_LIB/*" kafka.tools.StorageTool format --standalone -t "$id" \
      -c "$dir/server.properties" >/dev/null 2>&1
  fi
}

kafka_java() { # DIR: sets KAFKA_CMD, the broker's command line
  local dir=$1
  KAFKA_CMD=(java -Xms256m -Xmx768m -XX:+UseG1GC -cp "$KAFKA_LIB/*"
    "-Dlog4j2.configurationFile=file:$ROOT/scripts/stack/kafka/log4j2.properties"
    "-Dkafka.logs.dir=$dir/logs" kafka.Kafka "$dir/server.properties")
}

kafka_exec() { # DIR PORT CONTROLLER_PORT: foreground, for tests that stop and restart a broker
  kafka_prepare "$@"
  kafka_java "$1"
  exec "${KAFKA_CMD[@]}"
}

kafka_start() {
  local dir=$FITSYNC_STATE/kafka
  if port_open "$KAFKA_PORT"; then return 0; fi
  log "starting kafka on 127.0.0.1:$KAFKA_PORT"
  kafka_prepare "$dir" "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"
  kafka_java "$dir"
  setsid nohup "${KAFKA_CMD[@]}" >"$dir/logs/stdout.log" 2>&1 &
  echo $! >"$dir/kafka.pid"
  wait_for kafka 90 bash -c "kcat -b 127.0.0.1:$KAFKA_PORT -L -m 5 | grep -q 'broker 1'"
}

kafka_stop() { stop_pidfile "$FITSYNC_STATE/kafka/kafka.pid"; }

# ---------------------------------------------------------------------------- opensearch

os_healthy() {
  curl -fsS "http://127.0.0.1:$OS_PORT/_cluster/health" 2>/dev/null | grep -Eq '"status":"(green|yellow)"'
}

os_start() {
  local dir=$FITSYNC_STATE/opensearch
  if os_healthy; then return 0; fi
  log "starting opensearch on 127.0.0.1:$OS_PORT"
  mkdir -p "$dir"
  setsid nohup java -Xms512m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true \
    -Dopensearch.networkaddress.cache.ttl=60 \
    -cp "$OS_LIB/*:$OS_CLASSES" Launcher "$dir" "$OS_PORT" "$OS_TRANSPORT_PORT" \
    >"$FITSYNC_STATE/logs/opensearch.log" 2>&1 &
  echo $! >"$dir/opensearch.pid"
  wait_for opensearch 120 os_healthy
}

os_stop() { stop_pidfile "$FITSYNC_STATE/opensearch/opensearch.pid"; }

# ---------------------------------------------------------------------------- smtp

# A real SMTP server (aiosmtpd) that delivers every message into a Maildir, where tests
# and developers read what FitSync sent: $FITSYNC_STATE/mail/new/.
smtp_start() {
  local dir=$FITSYNC_STATE/mail
  if port_open "$SMTP_PORT"; then return 0; fi
  log "starting smtp on 127.0.0.1:$SMTP_PORT (maildir $dir)"
  mkdir -p "$dir/tmp" "$dir/new" "$dir/cur"
  setsid nohup /usr/bin/python3 -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" \
    -c aiosmtpd.handlers.Mailbox "$dir" >"$FITSYNC_STATE/logs/smtp.log" 2>&1 &
  echo $! >"$FITSYNC_STATE/smtp.pid"
  wait_for smtp 30 port_open "$SMTP_PORT"
}

smtp_stop() { stop_pidfile "$FITSYNC_STATE/smtp.pid"; }

# ---------------------------------------------------------------------------- commands

status() {
  local s
  s=down; "$PG_BIN/pg_isready" -h 127.0.0.1 -p "$PG_PORT" -q 2>/dev/null && s=up
  printf '%-11s %-5s postgres://127.0.0.1:%s\n' postgres "$s" "$PG_PORT"
  s=down; redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && s=up
  printf '%-11s %-5s redis://127.0.0.1:%s\n' redis "$s" "$REDIS_PORT"
  s=down; port_open "$KAFKA_PORT" && s=up
  printf '%-11s %-5s 127.0.0.1:%s\n' kafka "$s" "$KAFKA_PORT"
  s=down; os_healthy && s=up
  printf '%-11s %-5s http://127.0.0.1:%s\n' opensearch "$s" "$OS_PORT"
  s=down; port_open "$SMTP_PORT" && s=up
  printf '%-11s %-5s smtp://127.0.0.1:%s (maildir %s)\n' smtp "$s" "$SMTP_PORT" "$FITSYNC_STATE/mail"
}

print_env() {
  cat <<EOF
export FITSYNC__DATABASE__URL=postgres://postgres@127.0.0.1:$PG_PORT
export FITSYNC__REDIS__URL=redis://127.0.0.1:$REDIS_PORT
export FITSYNC__KAFKA__BROKERS=127.0.0.1:$KAFKA_PORT
export FITSYNC__OPENSEARCH__URL=http://127.0.0.1:$OS_PORT
export FITSYNC__SMTP__PORT=$SMTP_PORT
export FITSYNC_MAILDIR=$FITSYNC_STATE/mail
export FITSYNC_KAFKA_LIB=$KAFKA_LIB
export FITSYNC_SCHEMATHESIS=$SCHEMATHESIS_VENV/bin/st
export FITSYNC_PYTHON=$SCHEMATHESIS_VENV/bin/python
EOF
}

case ${1:-} in
  install) install ;;
  start)
    install
    mkdir -p "$FITSYNC_STATE/logs"
    pg_start
    redis_start
    kafka_start
    os_start
    smtp_start
    status
    ;;
  stop)
    smtp_stop
    os_stop
    kafka_stop
    redis_stop
    pg_stop
    ;;
  status) status ;;
  env) print_env ;;
  browser) apt_install chromium ;;
  kafka-exec) shift; kafka_exec "$@" ;;
  *) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
