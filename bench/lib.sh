# bench/lib.sh: what every benchmark part shares.  Sourced, never run.
#
# Promises:
#   - throwaway PostgreSQL 15 servers under one directory in /tmp, owned by the
#     postgres user, reachable only through a unix socket in that directory,
#     all configured alike (the settings below), stopped and removed when the
#     part exits, whatever the exit;
#   - one DSN form (a libpq URI) that psql, pgbench, pg_dump, pgcopydb, pgferry
#     and CREATE SUBSCRIPTION all accept;
#   - the shared workload (the bench_rows table, its 200 x 1,000 inserts, the
#     update of 1/4 and the delete of 1/10 of the rows) and a content digest
#     to prove a copy equal to its source;
#   - wall-clock and peak-RSS measurement, and the markdown each part writes
#     to bench/out/PART.md (scripts/bench assembles bench/out/results.md).
#
# Timings are measured and reported, never asserted.

set -euo pipefail

BENCH_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_OUT=${BENCH_OUT:-$BENCH_REPO/bench/out}
PGBIN=${PGBIN:-$(pg_config --bindir)}
# pg_dump, pg_restore and pgferry as pgcopydb and the parts find them.
export PATH=$PGBIN:$PATH
# The pgferry binary the parts run: the installed one by default; PGFERRY=PATH
# measures a build that is not installed (applier/pgferry of a work tree).
PGFERRY=${PGFERRY:-pgferry}
BENCH_ROOT=
BENCH_PART=
BENCH_SERVERS=()

# Start a part: NAME is what it is called in logs and in bench/out/NAME.md.
bench_begin()
{
	BENCH_PART=$1
	if [ "$(id -u)" != 0 ]; then
		echo "bench $BENCH_PART: run as root (servers run as the postgres user)" >&2
		exit 1
	fi
	mkdir -p "$BENCH_OUT"
	BENCH_ROOT=$(mktemp -d "/tmp/pgferry-bench-$BENCH_PART.XXXXXX")
	chown postgres: "$BENCH_ROOT"
	chmod 755 "$BENCH_ROOT"
	trap bench_end EXIT
	trap 'exit 130' INT TERM
}

# EXIT trap: stop every server this part started; on failure keep the logs
# in bench/out/logs/PART; remove the work directory unless BENCH_KEEP=1.
bench_end()
{
	local status=$? name
	for name in "${BENCH_SERVERS[@]}"; do
		runuser -u postgres -- "$PGBIN/pg_ctl" -D "$BENCH_ROOT/$name" -m immediate \
			stop >/dev/null 2>&1 || true
	done
	if [ $status -ne 0 ] && [ -d "$BENCH_ROOT" ]; then
		mkdir -p "$BENCH_OUT/logs/$BENCH_PART"
		cp "$BENCH_ROOT"/*.log "$BENCH_OUT/logs/$BENCH_PART/" 2>/dev/null || true
		echo "bench $BENCH_PART: failed (exit $status); logs in $BENCH_OUT/logs/$BENCH_PART" >&2
	fi
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "bench $BENCH_PART: kept $BENCH_ROOT" >&2
	else
		rm -rf "$BENCH_ROOT"
	fi
	exit $status
}

bench_log()
{
	echo "bench $BENCH_PART: $*" >&2
}

# Does this server know output_plugin_libraries (15.19 and later)?
bench_has_plugin_allowlist()
{
	# grep reads everything: with pipefail, an early exit would fail the pipe.
	"$PGBIN/postgres" --describe-config 2>/dev/null | grep '^output_plugin_libraries' >/dev/null
}

# bench_server_start NAME PORT: initdb and start a server.  Every server of
# every part gets the same settings, sized for two of them at once on a
# 2-core, 24 GiB machine.  Autovacuum is off so that no background work
# lands inside a timed window of one peer and not another.  BENCH_PRELOAD
# names a library to preload (a peer's, e.g. pglogical), if it is installed.
bench_server_start()
{
	local name=$1 port=$2 dir=$BENCH_ROOT/$1
	runuser -u postgres -- "$PGBIN/initdb" -D "$dir" -U postgres --auth=trust \
		--encoding=UTF8 --locale=C >"$BENCH_ROOT/$name-initdb.log" 2>&1
	cat >>"$dir/postgresql.conf" <<-EOF

		# pgferry bench
		listen_addresses = ''
		unix_socket_directories = '$BENCH_ROOT'
		port = $port
		max_connections = 50
		shared_buffers = 2GB
		effective_cache_size = 8GB
		work_mem = 64MB
		maintenance_work_mem = 512MB
		logical_decoding_work_mem = 256MB
		max_wal_size = 16GB
		min_wal_size = 1GB
		checkpoint_timeout = 30min
		wal_level = logical
		max_wal_senders = 20
		max_replication_slots = 32
		max_worker_processes = 16
		max_logical_replication_workers = 4
		max_sync_workers_per_subscription = 2
		autovacuum = off
		jit = off
	EOF
	if bench_has_plugin_allowlist; then
		echo "output_plugin_libraries = 'pgoutput, test_decoding, pgferry, wal2json, decoderbufs, pglogical_output'" \
			>>"$dir/postgresql.conf"
	fi
	if [ -n "${BENCH_PRELOAD:-}" ] && [ -f "$("$PGBIN/pg_config" --pkglibdir)/$BENCH_PRELOAD.so" ]; then
		echo "shared_preload_libraries = '$BENCH_PRELOAD'" >>"$dir/postgresql.conf"
	fi
	runuser -u postgres -- "$PGBIN/pg_ctl" -D "$dir" -l "$BENCH_ROOT/$name.log" -w -t 120 \
		start >/dev/null
	BENCH_SERVERS+=("$name")
}

# bench_dsn PORT DB: a libpq URI for the server on PORT.
bench_dsn()
{
	echo "postgresql://postgres@/$2?host=$BENCH_ROOT&port=$1"
}

# bench_sql PORT DB SQL: run SQL, print unaligned tuples only.
bench_sql()
{
	"$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -d "$(bench_dsn "$1" "$2")" -c "$3"
}

# bench_sql_file PORT DB: run the SQL script read from standard input.
bench_sql_file()
{
	"$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -d "$(bench_dsn "$1" "$2")" -f -
}

bench_createdb()
{
	bench_sql "$1" postgres "CREATE DATABASE \"$2\""
}

# --- the shared workload ------------------------------------------------------

BENCH_ROWS_DDL="
CREATE TABLE bench_rows (
	id bigint PRIMARY KEY,
	label text NOT NULL,
	amount numeric(14, 2) NOT NULL,
	created timestamptz NOT NULL,
	doc jsonb NOT NULL
);"

bench_create_rows_table()
{
	bench_sql "$1" "$2" "$BENCH_ROWS_DDL"
}

# bench_rows_workload PORT DB [AFTER_PHASE]: 200 transactions of 1,000
# inserts each, then one transaction updating 1/4 of the rows and one
# deleting 1/10 of them (200,000 inserts, 50,000 updates, 20,000 deletes).
# Rows 2..10 mod 10 stay.  AFTER_PHASE, a command, runs after each of the
# three.
bench_rows_workload()
{
	bench_sql_file "$1" "$2" <<-'EOF'
		DO $$
		BEGIN
			FOR t IN 0..199 LOOP
				INSERT INTO bench_rows (id, label, amount, created, doc)
				SELECT g,
					'customer ' || md5(g::text),
					round((g * 7919 % 1000000) / 100.0, 2),
					timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second',
					jsonb_build_object('id', g, 'kind', 'order', 'total', g % 1000,
						'tags', jsonb_build_array('new', 'web', g % 7))
				FROM generate_series(t * 1000 + 1, t * 1000 + 1000) AS g;
				COMMIT;
			END LOOP;
		END
		$$;
	EOF
	${3:-}
	bench_sql "$1" "$2" "UPDATE bench_rows SET amount = amount + 1, label = label || ' (updated)'
		WHERE id % 4 = 0"
	${3:-}
	bench_sql "$1" "$2" "DELETE FROM bench_rows WHERE id % 10 = 1"
	${3:-}
}

# bench_digest PORT DB TABLE: row count and an order-independent hash of every
# row's text form, so two tables compare equal exactly when their rows do.
bench_digest()
{
	bench_sql "$1" "$2" "SELECT count(*) || ' ' || coalesce(md5(string_agg(h, '' ORDER BY h)), '-')
		FROM (SELECT md5(t::text) AS h FROM $3 AS t) AS s"
}

# bench_digests PORT DB TABLE...: each table's name and digest, a line each.
bench_digests()
{
	local port=$1 db=$2 table
	shift 2
	for table in "$@"; do
		echo "$table $(bench_digest "$port" "$db" "$table")"
	done
}

# --- measuring ----------------------------------------------------------------

bench_now()
{
	date +%s.%N
}

# bench_since START: seconds elapsed since START (from bench_now).
bench_since()
{
	awk -v a="$1" -v b="$(bench_now)" 'BEGIN { printf "%.3f", b - a }'
}

# bench_median X...: the median of the numbers given.
bench_median()
{
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# bench_ratio A B: A / B with two decimals, or "n/a" when either is missing.
bench_ratio()
{
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2f\n", a / b }'
}

bench_secs()
{
	awk -v s="$1" 'BEGIN { printf "%.2f", s }'
}

bench_mb()
{
	awk -v b="$1" 'BEGIN { printf "%.1f", b / 1000000 }'
}

# shellcheck disable=SC2034 # the BENCH_* results are read by the parts
# bench_measure LOG CMD...: run CMD with stdout and stderr to LOG; set
# BENCH_WALL (seconds), BENCH_RSS_MB (peak resident set size of CMD, from GNU
# time) and BENCH_STATUS (CMD's exit status).  A limit of BENCH_TIMEOUT
# seconds (default 1800) keeps a stuck command from hanging the run.
bench_measure()
{
	local log=$1 start
	shift
	start=$(bench_now)
	BENCH_STATUS=0
	timeout "${BENCH_TIMEOUT:-1800}" /usr/bin/time -v -o "$log.time" "$@" >"$log" 2>&1 ||
		BENCH_STATUS=$?
	BENCH_WALL=$(bench_since "$start")
	BENCH_RSS_MB=$(awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' \
		"$log.time" 2>/dev/null || true)
}

# bench_keep_log FILE: copy a peer's log next to the results, for a failure.
bench_keep_log()
{
	mkdir -p "$BENCH_OUT/logs/$BENCH_PART"
	cp "$1" "$BENCH_OUT/logs/$BENCH_PART/"
	echo "bench/out/logs/$BENCH_PART/$(basename "$1")"
}

# bench_pgferry_has COMMAND: whether the installed pgferry implements COMMAND
# (its --help names the --source option every command takes).
bench_pgferry_has()
{
	local help
	help=$("$PGFERRY" "$1" --help 2>&1) && grep -q -e '--source' <<<"$help"
}

# --- the markdown each part writes --------------------------------------------

# bench_md_begin TITLE: start this part's section of the results.
bench_md_begin()
{
	BENCH_MD=$BENCH_OUT/$BENCH_PART.md.partial
	printf '## %s\n\n' "$1" >"$BENCH_MD"
}

# bench_md LINE...: append lines to the section.
bench_md()
{
	printf '%s\n' "$@" >>"$BENCH_MD"
}

# bench_cell TEXT: TEXT's first ERROR line (else its first line), made safe
# for a table cell.
bench_cell()
{
	{ grep -m 1 'ERROR' <<<"$1" || head -n 1 <<<"$1"; } | sed 's/|/\\|/g'
}

# bench_md_row CELL...: append one table row.
bench_md_row()
{
	local line="|" cell
	for cell in "$@"; do
		line+=" $cell |"
	done
	printf '%s\n' "$line" >>"$BENCH_MD"
}

# bench_md_end: the section is complete; publish it as bench/out/PART.md.
bench_md_end()
{
	mv "$BENCH_MD" "$BENCH_OUT/$BENCH_PART.md"
}
