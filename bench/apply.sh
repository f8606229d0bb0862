#!/usr/bin/env bash
# bench/apply.sh: pgferry follow against native logical replication applying
# the same workload (issue 3), and pgferry's peak memory applying one large
# transaction.  Run through scripts/bench apply.
#
# Both consumers' slots exist before the workload; both start after it, so
# each applies the whole backlog, one after the other (never side by side on
# two cores).  pgferry is timed from start to exit of `pgferry follow
# --endpos LSN`; native replication from ALTER SUBSCRIPTION ... ENABLE until
# the target has applied everything up to LSN.  LSN is the source's WAL
# insert position after the workload (its updates commit asynchronously).
# Each target is then compared row for row with the source.
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

src_port=$((${BENCH_PORT_BASE:-5580} + 1))
tgt_port=$((${BENCH_PORT_BASE:-5580} + 2))
big_mb=${BENCH_BIG_TXN_MB:-1024}
big_row_kb=8

bench_begin apply
bench_log "starting the servers"
bench_server_start source "$src_port"
bench_server_start target "$tgt_port"
src=$(bench_dsn "$src_port" bench)

bench_createdb "$src_port" bench
bench_create_rows_table "$src_port" bench
bench_sql "$src_port" bench "CREATE PUBLICATION bench_pub FOR TABLE bench_rows"
for db in ferry native; do
	bench_createdb "$tgt_port" "$db"
	bench_create_rows_table "$tgt_port" "$db"
done

# bench_create_ferry_slot DB SLOT: create a pgferry slot; on failure set
# ferry_unavailable to why, so that the rest of the part still runs.
bench_create_ferry_slot()
{
	local err
	if ! err=$(bench_sql "$src_port" "$1" \
		"SELECT 1 FROM pg_create_logical_replication_slot('$2', 'pgferry')" 2>&1 >/dev/null); then
		ferry_unavailable=$(bench_cell "$err")
		bench_log "pgferry slot $2 not created: $ferry_unavailable"
	fi
}

ferry_unavailable=
if bench_pgferry_has follow; then
	bench_create_ferry_slot bench s_ferry
	bench_create_ferry_slot bench s_decode
else
	ferry_unavailable="the installed pgferry has no follow command"
	bench_log "pgferry follow: not available: $ferry_unavailable"
fi
bench_sql "$src_port" bench \
	"SELECT 1 FROM pg_create_logical_replication_slot('s_native', 'pgoutput')" >/dev/null

bench_log "running the workload (200 x 1,000 inserts, update 1/4, delete 1/10, 20,000 updates)"
start_lsn=$(bench_sql "$src_port" bench "SELECT pg_current_wal_insert_lsn()")
workload_start=$(bench_now)
bench_rows_workload "$src_port" bench
# 20,000 single-row update transactions, each on a row that exists (not 1 mod 10).
cat >"$BENCH_ROOT/updates.pgbench" <<-'EOF'
	\set r random(0, 179999)
	\set id (:r / 9) * 10 + :r % 9 + 2
	UPDATE bench_rows SET amount = amount + 1 WHERE id = :id;
EOF
PGOPTIONS='-c synchronous_commit=off' "$PGBIN/pgbench" -n -c 2 -j 2 -t 10000 --random-seed=1 \
	-f "$BENCH_ROOT/updates.pgbench" "$src" >"$BENCH_ROOT/pgbench.log" 2>&1
workload_secs=$(bench_since "$workload_start")
end_lsn=$(bench_sql "$src_port" bench "SELECT pg_current_wal_insert_lsn()")
wal_bytes=$(bench_sql "$src_port" bench "SELECT pg_wal_lsn_diff('$end_lsn', '$start_lsn')")
source_digest=$(bench_digest "$src_port" bench bench_rows)

# bench_compare DB: whether target database DB holds what the source does.
bench_compare()
{
	if [ "$(bench_digest "$tgt_port" "$1" bench_rows)" = "$source_digest" ]; then
		echo yes
	else
		echo "**NO**"
	fi
}

# The pgferry row of the results: figures, or why there are none.
ferry_time='' ferry_row=("not available: $ferry_unavailable" "" "")
if [ -z "$ferry_unavailable" ]; then
	bench_log "pgferry follow --endpos $end_lsn"
	bench_measure "$BENCH_ROOT/ferry.log" pgferry follow --source "$src" \
		--target "$(bench_dsn "$tgt_port" ferry)" --slot s_ferry --endpos "$end_lsn"
	if [ "$BENCH_STATUS" = 0 ]; then
		ferry_time=$BENCH_WALL
		ferry_row=("$(bench_secs "$BENCH_WALL")" "$BENCH_RSS_MB" "$(bench_compare ferry)")
	else
		ferry_row=("failed (exit $BENCH_STATUS), see $(bench_keep_log "$BENCH_ROOT/ferry.log")" "" "")
		bench_log "pgferry follow failed (exit $BENCH_STATUS)"
	fi
fi

# Decoding alone: the same plugin and options read into /dev/null.  Every
# consumer of a slot waits for its decoding (one walsender, one core): this is
# the time no applier can beat on this machine.
decode_time='' decode_row=("not available: $ferry_unavailable" "" "")
if [ -z "$ferry_unavailable" ]; then
	bench_log "decoding alone: pg_recvlogical --endpos $end_lsn into /dev/null"
	bench_measure "$BENCH_ROOT/decode.log" "$PGBIN/pg_recvlogical" -d "$src" --slot s_decode \
		--start --endpos "$end_lsn" --file /dev/null --no-loop -o proto_version=1 -o binary=on \
		-o skip_empty_xacts=on -o stream=on
	if [ "$BENCH_STATUS" = 0 ]; then
		decode_time=$BENCH_WALL
		decode_row=("$(bench_secs "$BENCH_WALL")" "n/a" "n/a")
	else
		decode_row=("failed (exit $BENCH_STATUS), see $(bench_keep_log "$BENCH_ROOT/decode.log")" "" "")
	fi
fi

bench_log "native logical replication"
bench_sql "$tgt_port" native "CREATE SUBSCRIPTION native_sub CONNECTION '$src'
	PUBLICATION bench_pub
	WITH (copy_data = false, create_slot = false, slot_name = 's_native', enabled = false)"
native_start=$(bench_now)
bench_sql "$tgt_port" native "ALTER SUBSCRIPTION native_sub ENABLE"
# Applied up to LSN: the origin's remote_lsn (advanced at each applied commit)
# or a keepalive past LSN handled by the apply worker, which handles messages
# in order, so after every change before it.
PGOPTIONS="-c statement_timeout=${BENCH_TIMEOUT:-1800}s" bench_sql "$tgt_port" native "
	DO \$\$
	BEGIN
		WHILE NOT EXISTS (
			SELECT 1 FROM pg_stat_subscription AS s
			LEFT JOIN pg_replication_origin_status AS o ON o.external_id = 'pg_' || s.subid
			WHERE s.subname = 'native_sub'
			  AND (s.latest_end_lsn >= '$end_lsn' OR o.remote_lsn >= '$end_lsn')) LOOP
			PERFORM pg_sleep(0.02);
		END LOOP;
	END
	\$\$"
native_time=$(bench_since "$native_start")
native_equal=$(bench_compare native)
# Its walsender would otherwise decode the large transaction below too.
PGOPTIONS='-c client_min_messages=warning' bench_sql "$tgt_port" native "DROP SUBSCRIPTION native_sub"

bench_md_begin "Apply: pgferry follow against native logical replication"
bench_md "Workload on the source: 200 transactions of 1,000 inserts, one update of 1/4 and one delete" \
	"of 1/10 of the rows, then 20,000 single-row update transactions (pgbench, 2 clients):" \
	"$(bench_mb "$wal_bytes") MB of WAL, written in $(bench_secs "$workload_secs") s. Both consumers start" \
	"after it. pgferry: wall time of \`pgferry follow --endpos\`; native: from ENABLE until the" \
	"target has applied everything up to the same LSN (pg_stat_subscription, replication origin)." "" \
	"| applier | time (s) | peak RSS (MB) | target equal to source |" \
	"| --- | ---: | ---: | --- |"
bench_md_row "pgferry follow" "${ferry_row[@]}"
bench_md_row "native logical replication" "$(bench_secs "$native_time")" "n/a" "$native_equal"
bench_md_row "decoding alone (pg_recvlogical of a pgferry slot into /dev/null)" "${decode_row[@]}"
bench_md "" "Native time / pgferry time: **$(bench_ratio "$native_time" "$ferry_time")** (goal >= 3.00)." \
	"Native time / decoding alone: $(bench_ratio "$native_time" "$decode_time"), the most any consumer of" \
	"a slot can reach here: no applier finishes before the walsender has decoded the WAL." ""

# bench_big_transaction: one transaction of big_mb MB on the source, applied
# by pgferry follow; appends its row to the results.  pgferry's memory must
# stay bounded by its batches, not grow with the transaction.
bench_big_transaction()
{
	local rows=$((big_mb * 1024 / big_row_kb)) avail_mb label lsn equal
	local ddl="CREATE TABLE bench_lob (id bigint PRIMARY KEY, payload text NOT NULL);
		ALTER TABLE bench_lob ALTER COLUMN payload SET STORAGE EXTERNAL;"

	label="pgferry follow, one $big_mb MB transaction ($rows rows of $big_row_kb kB)"
	avail_mb=$(df -Pm "$BENCH_ROOT" | awk 'NR == 2 { print $4 }')
	if [ "$avail_mb" -lt $((big_mb * 8)) ]; then
		bench_md_row "$label" "not run: $avail_mb MB free under /tmp, $((big_mb * 8)) MB needed" "" ""
		return
	fi
	bench_createdb "$src_port" lob
	bench_createdb "$tgt_port" lob
	bench_sql "$src_port" lob "$ddl"
	bench_sql "$tgt_port" lob "$ddl"
	[ -n "$ferry_unavailable" ] || bench_create_ferry_slot lob s_ferry_lob
	if [ -n "$ferry_unavailable" ]; then
		bench_md_row "$label" "not available: $ferry_unavailable" "" ""
		return
	fi

	bench_log "one transaction of $big_mb MB on the source"
	# Stored uncompressed (STORAGE EXTERNAL): the transaction really is that big.
	bench_sql "$src_port" lob "INSERT INTO bench_lob
		SELECT g, repeat(md5(g::text), $big_row_kb * 32) FROM generate_series(1, $rows) AS g"
	lsn=$(bench_sql "$src_port" lob "SELECT pg_current_wal_insert_lsn()")
	bench_log "pgferry follow --endpos $lsn (one $big_mb MB transaction)"
	bench_measure "$BENCH_ROOT/ferry-lob.log" pgferry follow --source "$(bench_dsn "$src_port" lob)" \
		--target "$(bench_dsn "$tgt_port" lob)" --slot s_ferry_lob --endpos "$lsn"
	if [ "$BENCH_STATUS" != 0 ]; then
		bench_md_row "$label" \
			"failed (exit $BENCH_STATUS), see $(bench_keep_log "$BENCH_ROOT/ferry-lob.log")" "" ""
		return
	fi
	equal="**NO**"
	[ "$(bench_digest "$src_port" lob bench_lob)" != "$(bench_digest "$tgt_port" lob bench_lob)" ] ||
		equal=yes
	bench_md_row "$label" "$(bench_secs "$BENCH_WALL")" "$BENCH_RSS_MB" "$equal"
}

bench_md "| one transaction | time (s) | peak RSS (MB) | target equal to source |" \
	"| --- | ---: | ---: | --- |"
bench_big_transaction
bench_md "" "Goal: peak RSS under 256 MB for the large transaction." ""
bench_md_end
