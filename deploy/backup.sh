#!/usr/bin/env bash
# Back up the Presence database: one pg_dump in PostgreSQL's custom format (compressed; restore
# any table or all of it with pg_restore, in parallel), named by the time it started, then keep
# only the newest KEEP backups of that database in the folder.
#
#   deploy/backup.sh [--dir DIR] [--keep N] [--database-url URL]
#
# Defaults: DATABASE_URL from the environment (as the app reads it), PRESENCE_BACKUP_DIR or
# ./backups, PRESENCE_BACKUP_KEEP or 14. Prints the new file's path on the last line.
# A dump is written under a temporary name and renamed only once pg_dump succeeded and
# pg_restore can read its table of contents: a failed run never counts as a backup, and never
# makes the retention delete a good one.
set -euo pipefail

usage() {
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

dir="${PRESENCE_BACKUP_DIR:-backups}"
keep="${PRESENCE_BACKUP_KEEP:-14}"
url="${DATABASE_URL:-}"
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir="$2"; shift 2 ;;
    --keep) keep="$2"; shift 2 ;;
    --database-url) url="$2"; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "backup.sh: unknown argument: $1" >&2; usage 2 ;;
  esac
done

if [ -z "$url" ]; then
  echo "backup.sh: no database: set DATABASE_URL or pass --database-url" >&2
  exit 2
fi
case "$url" in
  postgres://*|postgresql://*) ;;
  *) echo "backup.sh: DATABASE_URL is not PostgreSQL (${url%%:*}://...): nothing to pg_dump" >&2; exit 2 ;;
esac
if ! [[ "$keep" =~ ^[1-9][0-9]*$ ]]; then
  echo "backup.sh: --keep must be a whole number of backups, at least 1 (got '$keep')" >&2
  exit 2
fi

# The database's name: the URL's path, without a query string.
base="${url%%\?*}"
dbname="${base##*/}"
if ! [[ "$dbname" =~ ^[A-Za-z0-9_-]+$ ]]; then
  echo "backup.sh: cannot read a database name from the URL (got '$dbname')" >&2
  exit 2
fi

mkdir -p "$dir"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
final="$dir/presence-$dbname-$stamp.dump"
partial="$final.partial"
trap 'rm -f "$partial"' EXIT

started=$(date +%s)
pg_dump --format=custom --compress=6 --no-owner --file="$partial" --dbname="$url"
pg_restore --list "$partial" >/dev/null
mv "$partial" "$final"
elapsed=$(( $(date +%s) - started ))
size=$(du -h "$final" | cut -f1)
echo "backup.sh: $final ($size, ${elapsed}s)" >&2

# Retention: the newest $keep dumps of this database stay; older ones go. Names sort by time.
mapfile -t dumps < <(find "$dir" -maxdepth 1 -type f -name "presence-$dbname-*.dump" | sort)
excess=$(( ${#dumps[@]} - keep ))
for (( i = 0; i < excess; i++ )); do
  rm -f -- "${dumps[$i]}"
  echo "backup.sh: removed ${dumps[$i]} (keeping the newest $keep)" >&2
done

echo "$final"
