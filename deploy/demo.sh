#!/usr/bin/env bash
# Serves the demo: the app on 127.0.0.1:$PORT; with REDIS_URL set, a Celery worker and beat too.
set -euo pipefail
PY=${PY:-.venv/bin/python}
PORT=${PORT:-8000}
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM
if [ -n "${REDIS_URL:-}" ]; then
  mkdir -p var
  "$PY" -m celery -A backend.config worker --loglevel=INFO --concurrency=2 >var/worker.log 2>&1 &
  pids+=($!)
  "$PY" -m celery -A backend.config beat --loglevel=INFO --schedule var/celerybeat-schedule >var/beat.log 2>&1 &
  pids+=($!)
  echo "Celery worker and beat started (logs in var/worker.log, var/beat.log)."
else
  echo "No REDIS_URL: Celery tasks run eagerly inside the web process."
fi
cat <<MSG

  Presence demo city is ready.
    App           http://127.0.0.1:${PORT}/
    Health        http://127.0.0.1:${PORT}/healthz
    API docs      http://127.0.0.1:${PORT}/api/docs/
    Admin         http://127.0.0.1:${PORT}/admin/

  Demo logins (password for all: presence-demo)
  Staff logins also ask for a second-factor code: add the secret
  PRESENCEDEMOSECRETPRESENCEDEMOAA to an authenticator app, or run
  .venv/bin/python manage.py demo_code
    officer       officer01 ... officer30
    sergeant      sergeant1, sergeant2, sergeant3
    supervisor    supervisor
    analyst       analyst
    admin         admin

  History (seed_demo --history-days, default 28): a blocked experiment running on the
  published hot spots since then, with every day's shift plans, missions, patrols, AVL,
  visits and activities.

MSG
"$PY" manage.py runserver "127.0.0.1:${PORT}"
