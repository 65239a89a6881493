#!/usr/bin/env bash
# Exact row counts of every table in a Presence database, one "table<TAB>rows" line each,
# sorted by name: compare a restored copy with its source (`diff <(rowcounts.sh A) <(... B)`).
#
#   deploy/rowcounts.sh [URL]        (default: DATABASE_URL)
set -euo pipefail

url="${1:-${DATABASE_URL:-}}"
if [ -z "$url" ]; then
  echo "rowcounts.sh: give a database URL or set DATABASE_URL" >&2
  exit 2
fi

# One query: each table's count(*) through query_to_xml, so no SQL is built in the shell.
psql --dbname="$url" -XtA -F $'\t' -v ON_ERROR_STOP=1 <<'SQL'
SELECT format('%I.%I', schemaname, tablename) AS name,
       (xpath('/row/n/text()',
              query_to_xml(format('SELECT count(*) AS n FROM ONLY %I.%I', schemaname, tablename),
                           false, true, '')))[1]::text::bigint AS rows
FROM pg_tables
WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
ORDER BY 1;
SQL
