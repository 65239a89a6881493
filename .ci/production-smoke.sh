#!/usr/bin/env bash
# The production configuration, booted without containers and smoke-tested, then the backup
# drill. Called by .ci/run after `make test`; runs alone too (from the repository root):
#
#   bash .ci/production-smoke.sh
#
# 1. a fresh PostgreSQL database and a Redis database of its own; PRESENCE_ENV=production with
#    a random SECRET_KEY; `check --deploy`, migrate, collectstatic;
# 2. gunicorn (deploy/gunicorn.conf.py) on a free port of 127.0.0.1, a Celery worker and beat;
# 3. `smoke_production --prepare` (the smoke officer and a hot spot), then `smoke_production`
#    through HTTP. No TLS proxy here: the smoke sends X-Forwarded-Proto: https as nginx would
#    (the production settings trust one proxy, PRESENCE_TRUSTED_PROXIES=1);
# 4. the services stop; deploy/backup.sh, deploy/restore.sh into a new database (a second
#    restore over it must be refused), and every table's row count compared.
# Every process started here is stopped on exit, failure included.
#
# Environment: VENV (.venv), PGHOST/PGPORT (127.0.0.1:5432, user postgres), SMOKE_DB
# (presence_smoke; the restore goes to ${SMOKE_DB}_restored), SMOKE_REDIS_DB (2),
# SMOKE_KEEP_DB=1 keeps the databases afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${VENV:-.venv}"
PY="$VENV/bin/python"
PGHOST="${PGHOST:-127.0.0.1}"
PGPORT="${PGPORT:-5432}"
DB="${SMOKE_DB:-presence_smoke}"
RESTORED="${DB}_restored"
REDIS_DB="${SMOKE_REDIS_DB:-2}"
SERVER_URL="postgresql://postgres@$PGHOST:$PGPORT"

log() { printf '\n== %s\n' "$*"; }

WORK="$(mktemp -d /tmp/presence-production-smoke.XXXXXX)"
pids=()
started_at=$(date +%s)

stop_services() {
  local pid
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 40); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  pids=()
}

finish() {
  local status=$?
  stop_services
  if [ "$status" -ne 0 ]; then
    for f in "$WORK"/*.log; do
      [ -e "$f" ] || continue
      printf '\n--- last lines of %s\n' "$f"
      tail -n 40 "$f"
    done
    echo "production smoke FAILED (databases $DB and $RESTORED kept for a look)"
  elif [ "${SMOKE_KEEP_DB:-0}" != 1 ]; then
    dropdb -h "$PGHOST" -p "$PGPORT" -U postgres --if-exists --force "$DB"
    dropdb -h "$PGHOST" -p "$PGPORT" -U postgres --if-exists --force "$RESTORED"
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap finish EXIT
trap 'exit 130' INT TERM

log "fresh database $DB, Redis db $REDIS_DB"
dropdb -h "$PGHOST" -p "$PGPORT" -U postgres --if-exists --force "$DB"
dropdb -h "$PGHOST" -p "$PGPORT" -U postgres --if-exists --force "$RESTORED"
createdb -h "$PGHOST" -p "$PGPORT" -U postgres "$DB"
redis-cli -h 127.0.0.1 -p 6379 -n "$REDIS_DB" flushdb >/dev/null

PORT="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export PRESENCE_ENV=production
SECRET_KEY="$(openssl rand -hex 32)"
export SECRET_KEY
export ALLOWED_HOSTS="127.0.0.1"
export DATABASE_URL="$SERVER_URL/$DB"
export REDIS_URL="redis://127.0.0.1:6379/$REDIS_DB"
export PRESENCE_TRUSTED_PROXIES=1
export GUNICORN_BIND="127.0.0.1:$PORT"
export GUNICORN_WORKERS=2
export GUNICORN_THREADS=4
export FORWARDED_ALLOW_IPS=127.0.0.1
export PRESENCE_SMOKE_USERNAME=smoke-officer
PRESENCE_SMOKE_PASSWORD="smoke-$(openssl rand -hex 12)"
export PRESENCE_SMOKE_PASSWORD
export DJANGO_SETTINGS_MODULE=backend.config.settings

log "production settings: check --deploy, migrate, collectstatic"
"$PY" manage.py check --deploy --fail-level WARNING
"$PY" manage.py migrate --noinput -v 0
"$PY" manage.py collectstatic --noinput -v 0
"$PY" manage.py smoke_production --prepare

log "gunicorn on 127.0.0.1:$PORT, Celery worker and beat (logs in $WORK)"
"$VENV/bin/gunicorn" backend.config.wsgi:application -c deploy/gunicorn.conf.py \
  >"$WORK/gunicorn.log" 2>&1 &
pids+=($!)
"$PY" -m celery -A backend.config worker --loglevel=INFO --concurrency=2 \
  --hostname="smoke-$$@%h" >"$WORK/worker.log" 2>&1 &
pids+=($!)
"$PY" -m celery -A backend.config beat --loglevel=INFO --schedule="$WORK/celerybeat-schedule" \
  >"$WORK/beat.log" 2>&1 &
pids+=($!)

# Up when /healthz answers 200: gunicorn serves, the database and broker answer, and the
# worker echoes the canary.
for i in $(seq 1 120); do
  if curl -fs -o /dev/null -H "X-Forwarded-Proto: https" "http://127.0.0.1:$PORT/healthz"; then
    echo "stack healthy after ${i}s"
    break
  fi
  for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || { echo "a service exited during start-up"; exit 1; }
  done
  [ "$i" -lt 120 ] || { echo "the stack was not healthy within 120 s"; exit 1; }
  sleep 1
done

log "smoke_production against http://127.0.0.1:$PORT"
"$PY" manage.py smoke_production --base-url "http://127.0.0.1:$PORT" --forwarded-proto https

log "backup drill: services stopped, backup, restore into $RESTORED, row counts compared"
stop_services
dump="$(deploy/backup.sh --dir "$WORK/backups" --keep 3 | tail -n 1)"
deploy/restore.sh "$dump" "$RESTORED" --server-url "$SERVER_URL/postgres"
if deploy/restore.sh "$dump" "$RESTORED" --server-url "$SERVER_URL/postgres" 2>"$WORK/refusal.txt"; then
  echo "restore.sh overwrote an existing database without --replace"
  exit 1
fi
grep -q "already exists" "$WORK/refusal.txt"
echo "a second restore into $RESTORED was refused: $(cat "$WORK/refusal.txt")"

deploy/rowcounts.sh "$SERVER_URL/$DB" >"$WORK/counts-source.tsv"
deploy/rowcounts.sh "$SERVER_URL/$RESTORED" >"$WORK/counts-restored.tsv"
if ! diff -u "$WORK/counts-source.tsv" "$WORK/counts-restored.tsv"; then
  echo "row counts differ between $DB and its restored copy"
  exit 1
fi
tables=$(wc -l <"$WORK/counts-source.tsv")
rows=$(awk -F '\t' '{ n += $2 } END { print n + 0 }' "$WORK/counts-source.tsv")
pinged=$(awk -F '\t' '$1 ~ /^public\.patrols_ping/ { n += $2 } END { print n + 0 }' "$WORK/counts-source.tsv")
if [ "$pinged" -eq 0 ]; then
  echo "the restored database holds no pings: the smoke's patrol is missing"
  exit 1
fi
echo "row counts match: $tables tables, $rows rows ($pinged pings)"

log "production smoke and backup drill passed in $(( $(date +%s) - started_at ))s"
