#!/usr/bin/env bash
# bench/copy.sh: the initial copy of a whole database (schema, data, indexes
# and constraints) by pgferry migrate against pgcopydb clone, pg_dump |
# pg_restore and native logical replication's initial sync (issue 4).  Run
# through scripts/bench copy.
#
# One source, one target server; each tool copies the same source into a new
# empty database on the target, one tool at a time; every copy is then
# compared with the source (each table's rows, every index and constraint)
# and dropped before the next tool runs.
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

src_port=$((${BENCH_PORT_BASE:-5580} + 3))
tgt_port=$((${BENCH_PORT_BASE:-5580} + 4))
tables=(pgbench_accounts pgbench_branches pgbench_tellers pgbench_history bench_events bench_docs)

bench_begin copy
bench_log "starting the servers"
bench_server_start source "$src_port"
bench_server_start target "$tgt_port"
bench_createdb "$src_port" bench
src=$(bench_dsn "$src_port" bench)

bench_log "building the dataset (pgbench -i -s 20, 500,000 events, 300 large documents)"
"$PGBIN/pgbench" -i -q -s 20 "$src" >"$BENCH_ROOT/pgbench-init.log" 2>&1
bench_sql_file "$src_port" bench <<-'EOF'
	CREATE TABLE bench_events (
		id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		aid integer NOT NULL,
		kind text NOT NULL,
		happened_at timestamptz NOT NULL,
		amount numeric(12, 2),
		detail jsonb
	);
	INSERT INTO bench_events (aid, kind, happened_at, amount, detail)
	SELECT 1 + (g::bigint * 7919) % 2000000,
		(ARRAY['view', 'click', 'buy', 'refund'])[1 + g % 4],
		timestamptz '2024-01-01 00:00:00+00' + g * interval '7 seconds',
		round((g % 100000) / 100.0, 2),
		jsonb_build_object('session', md5(g::text), 'page', g % 500)
	FROM generate_series(1, 500000) AS g;
	CREATE INDEX bench_events_aid ON bench_events (aid);
	CREATE INDEX bench_events_happened_at ON bench_events (happened_at);
	ALTER TABLE bench_events ADD CONSTRAINT bench_events_aid_fkey
		FOREIGN KEY (aid) REFERENCES pgbench_accounts (aid);

	-- ~1 MB of jsonb, ~0.6 MB of bytea and ~1 MB of text per row, from md5 of
	-- random numbers: hex text and random bytes that TOAST compression cannot
	-- shrink much.
	CREATE TABLE bench_docs (
		id integer PRIMARY KEY,
		doc jsonb NOT NULL,
		blob bytea NOT NULL,
		body text NOT NULL
	);
	INSERT INTO bench_docs
	SELECT i,
		(SELECT jsonb_build_object('id', i, 'parts', jsonb_agg(md5(random()::text)))
		 FROM generate_series(1, 27000)),
		(SELECT string_agg(decode(md5(random()::text), 'hex'), ''::bytea)
		 FROM generate_series(1, 37500)),
		(SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 32768))
	FROM generate_series(1, 300) AS i;
	VACUUM ANALYZE;
	CHECKPOINT;
EOF

# bench_fingerprint PORT DB: each table's digest, and one of every index and
# constraint definition of the public schema, one per line.
bench_fingerprint()
{
	bench_digests "$1" "$2" "${tables[@]}"
	echo "schema $(bench_sql "$1" "$2" "SELECT md5(string_agg(d, E'\n' ORDER BY d)) FROM (
		SELECT indexdef AS d FROM pg_indexes WHERE schemaname = 'public'
		UNION ALL
		SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
		FROM pg_constraint WHERE connamespace = 'public'::regnamespace) AS s")"
}

bench_log "fingerprinting the source"
source_fingerprint=$(bench_fingerprint "$src_port" bench)
db_size=$(bench_sql "$src_port" bench "SELECT pg_database_size('bench')")
docs_size=$(bench_sql "$src_port" bench "SELECT pg_total_relation_size('bench_docs')")
docs_raw=$(bench_sql "$src_port" bench \
	"SELECT sum(octet_length(doc::text) + octet_length(blob) + octet_length(body)) FROM bench_docs")

# bench_compare DB: "yes" when the target database DB holds what the source
# does, else the tables (or "schema") that differ.
bench_compare()
{
	local diff
	diff=$(diff <(echo "$source_fingerprint") <(bench_fingerprint "$tgt_port" "$1") |
		awk '/^>/ { printf "%s%s", sep, $2; sep = ", " }' || true)
	if [ -z "$diff" ]; then
		echo yes
	else
		echo "**NO**: $diff"
	fi
}

# Drop what a tool left behind (slots, the target database) so that the
# next tool starts from the same state.
bench_reset()
{
	bench_sql "$src_port" bench "SELECT count(pg_drop_replication_slot(slot_name))
		FROM pg_replication_slots WHERE NOT active" >/dev/null
	bench_sql "$tgt_port" postgres "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)"
	rm -rf "$BENCH_ROOT/work"
}

declare -A time_of row_of

# bench_copy_with NAME DB COMMAND...: time COMMAND, which copies the source
# into the new, empty target database DB; check the copy; record its row.
bench_copy_with()
{
	local name=$1 db=$2
	shift 2
	bench_log "$name"
	bench_createdb "$tgt_port" "$db"
	mkdir -p "$BENCH_ROOT/work"
	bench_measure "$BENCH_ROOT/$db.log" "$@"
	if [ "$BENCH_STATUS" = 0 ]; then
		time_of[$name]=$BENCH_WALL
		row_of[$name]="$(bench_secs "$BENCH_WALL")|$(bench_compare "$db")"
	else
		row_of[$name]="failed (exit $BENCH_STATUS), see $(bench_keep_log "$BENCH_ROOT/$db.log")|"
		bench_log "$name failed (exit $BENCH_STATUS)"
	fi
}

# The peers that are shell pipelines run as exported functions under
# bench_measure.  Arguments: the source and the target DSNs.
dump_restore()
{
	pg_dump -Fd -j2 -f "$BENCH_ROOT/work/dump" "$1" &&
		pg_restore -j2 -d "$2" "$BENCH_ROOT/work/dump"
}

# Native initial sync: the schema with pg_dump -s, then a subscription that
# copies every table of the publication bench_all; done when every table is
# in state 'r' (ready).
native_initial_sync()
{
	set -eo pipefail
	pg_dump -s "$1" | psql -X -q -v ON_ERROR_STOP=1 -d "$2"
	psql -X -q -v ON_ERROR_STOP=1 -d "$2" -c "CREATE SUBSCRIPTION bench_sub
		CONNECTION '$1' PUBLICATION bench_all WITH (copy_data = true)"
	psql -X -q -v ON_ERROR_STOP=1 -d "$2" -c "DO \$\$
		BEGIN
			WHILE (SELECT count(*) = 0 OR bool_or(srsubstate <> 'r') FROM pg_subscription_rel) LOOP
				PERFORM pg_sleep(0.05);
			END LOOP;
		END
		\$\$"
}
export -f dump_restore native_initial_sync
export BENCH_ROOT

bench_copy_with "pgcopydb clone" t_pgcopydb \
	pgcopydb clone --source "$src" --target "$(bench_dsn "$tgt_port" t_pgcopydb)" \
	--table-jobs 2 --index-jobs 2 --dir "$BENCH_ROOT/work/pgcopydb"
bench_reset t_pgcopydb

bench_copy_with "pg_dump -Fd -j2, pg_restore -j2" t_dump \
	bash -c 'dump_restore "$@"' dump_restore "$src" "$(bench_dsn "$tgt_port" t_dump)"
bench_reset t_dump

bench_sql "$src_port" bench "CREATE PUBLICATION bench_all FOR ALL TABLES"
bench_copy_with "native logical replication (pg_dump -s, copy_data)" t_native \
	bash -c 'native_initial_sync "$@"' native_initial_sync "$src" "$(bench_dsn "$tgt_port" t_native)"
PGOPTIONS='-c client_min_messages=warning' bench_sql "$tgt_port" t_native "DROP SUBSCRIPTION IF EXISTS bench_sub"
bench_sql "$src_port" bench "DROP PUBLICATION bench_all"
bench_reset t_native

# pgferry last: whatever it leaves on the source (its extension, say) must
# not become work for the peers.
ferry="pgferry migrate --jobs 2"
if bench_pgferry_has migrate; then
	lsn=$(bench_sql "$src_port" bench "SELECT pg_current_wal_insert_lsn()")
	bench_copy_with "$ferry" t_pgferry "$PGFERRY" migrate --source "$src" \
		--target "$(bench_dsn "$tgt_port" t_pgferry)" --jobs 2 --endpos "$lsn"
	bench_reset t_pgferry
else
	row_of[$ferry]="pgferry migrate: not available|"
	bench_log "pgferry migrate: not available"
fi

bench_md_begin "Copy: a whole database, schema to indexes and constraints"
bench_md "Source: pgbench -i -s 20, bench_events (500,000 rows, identity key, two secondary indexes, a" \
	"foreign key to pgbench_accounts), bench_docs (300 rows of ~1 MB jsonb, ~0.6 MB bytea, ~1 MB text:" \
	"$(bench_mb "$docs_raw") MB of values, $(bench_mb "$docs_size") MB stored);" \
	"$(bench_mb "$db_size") MB in all. Each tool copies into an empty database; each copy is" \
	"checked table by table (rows) and index by index, constraint by constraint. Each tool runs" \
	"with its defaults: pgcopydb 0.10 ends with VACUUM ANALYZE of the target (it has no option to" \
	"skip it), pg_dump -Fd compresses its files (gzip)." "" \
	"| tool | time (s) | time / pgcopydb | target equal to source |" \
	"| --- | ---: | ---: | --- |"
for name in "$ferry" "pgcopydb clone" "pg_dump -Fd -j2, pg_restore -j2" \
	"native logical replication (pg_dump -s, copy_data)"; do
	IFS='|' read -r cell_time cell_equal <<<"${row_of[$name]}"
	bench_md_row "$name" "$cell_time" \
		"$(bench_ratio "${time_of[$name]:-}" "${time_of[pgcopydb clone]:-}")" "$cell_equal"
done
bench_md "" "Goal: pgferry at most 0.80x pgcopydb's time." ""
bench_md_end
