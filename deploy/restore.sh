#!/usr/bin/env bash
# Restore a Presence backup (deploy/backup.sh) into a NEW database, never over the live one.
#
#   deploy/restore.sh DUMP NEW_DATABASE [--server-url URL] [--replace] [--jobs N]
#
# The server is DATABASE_URL's (from the environment) unless --server-url names one; only
# its host, port, user and password are used, the database name is NEW_DATABASE. An existing
# NEW_DATABASE is refused unless --replace is given (then it is dropped first). A restore that
# fails drops the database it created: nothing half-restored is left behind. Then point
# DATABASE_URL at NEW_DATABASE and restart the services (deploy/README.md, "Restore").
set -euo pipefail

usage() {
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

dump=""
target=""
url="${DATABASE_URL:-}"
replace=0
jobs=2
while [ $# -gt 0 ]; do
  case "$1" in
    --server-url) url="$2"; shift 2 ;;
    --replace) replace=1; shift ;;
    --jobs) jobs="$2"; shift 2 ;;
    -h|--help) usage 0 ;;
    -*) echo "restore.sh: unknown option: $1" >&2; usage 2 ;;
    *)
      if [ -z "$dump" ]; then dump="$1"
      elif [ -z "$target" ]; then target="$1"
      else echo "restore.sh: too many arguments: $1" >&2; usage 2
      fi
      shift ;;
  esac
done

if [ -z "$dump" ] || [ -z "$target" ]; then
  echo "restore.sh: give the dump file and the name of the new database" >&2
  usage 2
fi
if [ ! -r "$dump" ]; then
  echo "restore.sh: cannot read $dump" >&2
  exit 2
fi
# Only plain names: the name is written into SQL below.
if ! [[ "$target" =~ ^[a-z_][a-z0-9_]{0,62}$ ]]; then
  echo "restore.sh: NEW_DATABASE must be lower-case letters, digits and _ (got '$target')" >&2
  exit 2
fi
if ! [[ "$jobs" =~ ^[1-9][0-9]*$ ]]; then
  echo "restore.sh: --jobs must be a whole number, at least 1 (got '$jobs')" >&2
  exit 2
fi
if [ -z "$url" ]; then
  echo "restore.sh: no server: set DATABASE_URL or pass --server-url" >&2
  exit 2
fi
case "$url" in
  postgres://*|postgresql://*) ;;
  *) echo "restore.sh: the server URL is not PostgreSQL (${url%%:*}://...)" >&2; exit 2 ;;
esac

# The same server, another database: swap the URL's path, keep its query string.
base="${url%%\?*}"
query=""
if [ "$base" != "$url" ]; then query="?${url#*\?}"; fi
server="${base%/*}"
case "$server" in
  *://) server="$base" ;;  # a URL with no database path at all
esac
maintenance_url="$server/postgres$query"
target_url="$server/$target$query"
live="${base##*/}"
if [ "$target" = "$live" ] && [ "$replace" -ne 1 ]; then
  echo "restore.sh: $target is the database DATABASE_URL names; restore into a new one" >&2
  exit 2
fi

pg_restore --list "$dump" >/dev/null  # a damaged or foreign file stops here, before any change

exists=$(psql --dbname="$maintenance_url" -XtAc "SELECT 1 FROM pg_database WHERE datname = '$target'")
if [ "$exists" = "1" ]; then
  if [ "$replace" -ne 1 ]; then
    echo "restore.sh: database $target already exists; choose a new name, or pass --replace to drop it" >&2
    exit 3
  fi
  echo "restore.sh: --replace: dropping the existing database $target" >&2
  psql --dbname="$maintenance_url" -Xq -v ON_ERROR_STOP=1 -c "DROP DATABASE \"$target\" WITH (FORCE)"
fi

created=0
cleanup() {
  status=$?
  if [ "$status" -ne 0 ] && [ "$created" -eq 1 ]; then
    echo "restore.sh: restore failed; dropping the incomplete database $target" >&2
    psql --dbname="$maintenance_url" -Xq -c "DROP DATABASE IF EXISTS \"$target\" WITH (FORCE)" || true
  fi
  exit "$status"
}
trap cleanup EXIT

psql --dbname="$maintenance_url" -Xq -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$target\""
created=1
started=$(date +%s)
pg_restore --exit-on-error --no-owner --no-privileges --jobs="$jobs" --dbname="$target_url" "$dump"
psql --dbname="$target_url" -Xq -v ON_ERROR_STOP=1 -c "ANALYZE"
echo "restore.sh: restored $dump into $target in $(( $(date +%s) - started ))s" >&2
echo "$target"
