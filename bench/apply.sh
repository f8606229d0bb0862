#!/usr/bin/env bash
# bench/apply.sh: pgferry follow against native logical replication,
# pglogical and decoding alone, each applying the same backlog, on three
# workloads; and pgferry's peak memory applying one large transaction.  Run
# through scripts/bench apply.
#
#   bulk    200 transactions of 1,000 inserts, one update of 1/4 and one
#           delete of 1/10 of the rows, 20,000 single-row updates
#   oltp    pgbench's TPC-B transactions (accounts, tellers, branches,
#           history) plus an insert into an events table: 20,000
#           transactions, 100,000 row changes
#   hot     20,000 single-row update transactions over 100 rows
#
# Every consumer's slot exists before the workload and every consumer starts
# after it, one at a time (never side by side on two cores); pgferry,
# decoding alone and the set-wise floor run BENCH_APPLY_RUNS times (default
# 5: runs of half a second vary by a third on a shared machine), pgferry and
# decoding alone from copies of their slots, and their median counts.  Each
# applies the whole backlog up to LSN, the source's WAL insert position after the
# workload.  A transaction committed after LSN lets each of them see the end
# at once.  pgferry is timed from start to exit of `pgferry follow --endpos`;
# native replication and pglogical from enabling the subscription until the
# target has applied everything up to LSN; decoding alone is pg_recvlogical
# of a pgferry slot into /dev/null with pgferry's options (frames grouped
# 64 kB to a message), the time no consumer of a slot can beat, and again
# one frame per message for comparison.
# CPU is measured per process: the walsender and the target's backends (the
# children a postmaster reaped, or the apply worker itself), and pgferry.
# Each target is then compared row for row with the source.
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

src_port=$((${BENCH_PORT_BASE:-5580} + 1))
tgt_port=$((${BENCH_PORT_BASE:-5580} + 2))
big_mb=${BENCH_BIG_TXN_MB:-1024}
big_row_kb=8
ticks=$(getconf CLK_TCK)

bench_begin apply
bench_log "starting the servers"
BENCH_PRELOAD=pglogical bench_server_start source "$src_port"
BENCH_PRELOAD=pglogical bench_server_start target "$tgt_port"
pglogical_unavailable=
if ! bench_sql "$src_port" postgres "SELECT 1 FROM pg_available_extensions WHERE name = 'pglogical'" |
	grep -q 1; then
	pglogical_unavailable="the pglogical extension is not installed"
fi

# bench_reaped_cpu SERVER: CPU seconds (user + system) of the processes the
# server's postmaster has reaped so far.
bench_reaped_cpu()
{
	local pid
	pid=$(head -n 1 "$BENCH_ROOT/$1/postmaster.pid")
	awk -v t="$ticks" '{ printf "%.2f", ($16 + $17) / t }' "/proc/$pid/stat"
}

# bench_process_cpu PID: CPU seconds (user + system) of a running process.
bench_process_cpu()
{
	awk -v t="$ticks" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$1/stat"
}

bench_minus()
{
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'
}

# --- the workloads -----------------------------------------------------------

# bench_apply_runs NAME: whether BENCH_APPLY_WORKLOADS includes workload NAME.
bench_apply_runs()
{
	[[ " ${BENCH_APPLY_WORKLOADS:-bulk oltp hot} " == *" $1 "* ]]
}

# workload_schema NAME PORT DB: the workload's tables and starting rows,
# and bench_end, whose one insert after the workload ends the backlog.
workload_schema()
{
	bench_sql "$2" "$3" "CREATE TABLE bench_end (at timestamptz)"
	case $1 in
	bulk)
		bench_create_rows_table "$2" "$3"
		;;
	oltp)
		"$PGBIN/pgbench" -i -q -s 1 "$(bench_dsn "$2" "$3")" >"$BENCH_ROOT/pgbench-init-$3.log" 2>&1
		bench_sql "$2" "$3" "CREATE TABLE events (id bigserial PRIMARY KEY, aid int, delta int,
			at timestamptz)"
		;;
	hot)
		bench_sql "$2" "$3" "CREATE TABLE hot (id int PRIMARY KEY, n bigint NOT NULL, pad text);
			INSERT INTO hot SELECT i, 0, repeat('x', 100) FROM generate_series(1, 100) i"
		;;
	esac
}

# workload_run NAME [DB [AFTER_PHASE]]: the workload on the source database
# DB (default NAME); for bulk, the command AFTER_PHASE runs after each of its
# phases (floor_row).
workload_run()
{
	local script=$BENCH_ROOT/$1.pgbench src db=${2:-$1}
	src=$(bench_dsn "$src_port" "$db")
	case $1 in
	bulk)
		bench_rows_workload "$src_port" "$db" "${3:-}"
		# 20,000 single-row update transactions, each on a row that exists (not 1 mod 10).
		cat >"$script" <<-'EOF'
			\set r random(0, 179999)
			\set id (:r / 9) * 10 + :r % 9 + 2
			UPDATE bench_rows SET amount = amount + 1 WHERE id = :id;
		EOF
		;;
	oltp)
		cat >"$script" <<-'EOF'
			\set aid random(1, 100000)
			\set bid 1
			\set tid random(1, 10)
			\set delta random(-5000, 5000)
			BEGIN;
			UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;
			SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
			UPDATE pgbench_tellers SET tbalance = tbalance + :delta WHERE tid = :tid;
			UPDATE pgbench_branches SET bbalance = bbalance + :delta WHERE bid = :bid;
			INSERT INTO pgbench_history (tid, bid, aid, delta, mtime)
				VALUES (:tid, :bid, :aid, :delta, CURRENT_TIMESTAMP);
			INSERT INTO events (aid, delta, at) VALUES (:aid, :delta, now());
			END;
		EOF
		;;
	hot)
		cat >"$script" <<-'EOF'
			\set id random(1, 100)
			UPDATE hot SET n = n + 1 WHERE id = :id;
		EOF
		;;
	esac
	PGOPTIONS='-c synchronous_commit=off' "$PGBIN/pgbench" -n -c 2 -j 2 -t 10000 --random-seed=1 \
		-f "$script" "$src" >"$BENCH_ROOT/pgbench-$db.log" 2>&1
	[ "$1" != bulk ] || ${3:-}
}

# workload_tables NAME: the workload's tables, for the comparisons.
workload_tables()
{
	case $1 in
	bulk) echo bench_rows ;;
	oltp) echo pgbench_accounts pgbench_tellers pgbench_branches pgbench_history events ;;
	hot) echo hot ;;
	esac
}

# --- the consumers ---------------------------------------------------------------

# compare NAME DB: whether target database DB holds what the source does.
compare()
{
	local table
	for table in $(workload_tables "$1"); do
		if [ "$(bench_digest "$tgt_port" "$2" "$table")" != \
			"$(bench_digest "$src_port" "$1" "$table")" ]; then
			echo "**NO** ($table)"
			return
		fi
	done
	echo yes
}

# The row of a consumer that failed or could not run.
row_failed()
{
	bench_md_row "$1" "$2" "" "" "" "" "" ""
}

# The runs of pgferry and of decoding alone, the two terms of the goal's
# ratio: each run reads a copy of a slot nobody consumed (made with
# pg_copy_logical_replication_slot at the same position), pgferry into a
# target database copied from the empty one; the row shows the median run.
runs=${BENCH_APPLY_RUNS:-5}

# run_copy PRISTINE RUN: a copy of slot PRISTINE on the source for run RUN,
# named PRISTINE_rRUN.
run_copy()
{
	bench_sql "$src_port" "$NAME" \
		"SELECT 1 FROM pg_copy_logical_replication_slot('$1', '$1_r$2')" >/dev/null
}

# median_run WALL...: the run (1-based) whose wall time is the median.
median_run()
{
	local median i=0 wall
	median=$(bench_median "$@")
	for wall in "$@"; do
		i=$((i + 1))
		[ "$wall" != "$median" ] || { echo "$i"; return; }
	done
	# an even count: the run just above the median
	printf '%s\n' "$@" | awk -v m="$median" '$1 >= m { print NR; exit }'
}

# ferry NAME LABEL ARGS...: pgferry follow of slot NAME_ferry (or, with
# --ordered, NAME_ordered; with --plugin pgoutput, NAME_pgoutput) into the
# target database of the same name.  The plain follow runs $runs times.
ferry()
{
	local name=$1 label=$2 db n=1 i
	shift 2
	db=${name}_ferry
	[ "${1:-}" != --ordered ] || db=${name}_ordered
	[ "${1:-}" != --plugin ] || db=${name}_pgoutput
	[ "$label" != "pgferry follow" ] || n=$runs
	local walls=() rows=() failed='' equal=yes
	bench_log "$name: $label"
	for i in $(seq 1 "$n"); do
		local slot=$db run_db=$db walsender target
		if [ "$n" -gt 1 ]; then
			slot=${db}_r$i run_db=${db}_r$i
			run_copy "$db" "$i"
			bench_sql "$tgt_port" postgres "CREATE DATABASE \"$run_db\" TEMPLATE \"$db\""
		fi
		walsender=$(bench_reaped_cpu source)
		target=$(bench_reaped_cpu target)
		bench_measure "$BENCH_ROOT/$run_db.log" "$PGFERRY" follow --source "$(bench_dsn "$src_port" "$name")" \
			--target "$(bench_dsn "$tgt_port" "$run_db")" --slot "$slot" --endpos "$end_lsn" \
			--exclude-tables 'pglogical.*' "$@"
		if [ "$BENCH_STATUS" != 0 ]; then
			failed="failed (exit $BENCH_STATUS), see $(bench_keep_log "$BENCH_ROOT/$run_db.log")"
			break
		fi
		sleep 0.5 # the postmasters reap their children
		local summary
		summary=$(grep -o 'row changes\?: [0-9]* rows\? written in [0-9]* statements\?' \
			"$BENCH_ROOT/$run_db.log" || true)
		walls+=("$BENCH_WALL")
		rows+=("$(awk '{ print $7 }' <<<"$summary") $(awk '{ print $3 }' <<<"$summary") $(
			bench_minus "$(bench_reaped_cpu source)" "$walsender") $(
			bench_minus "$(bench_reaped_cpu target)" "$target") $(
			awk '/User time/ { u = $NF } /System time/ { s = $NF } END { printf "%.2f", u + s }' \
				"$BENCH_ROOT/$run_db.log.time")")
		[ "$(compare "$name" "$run_db")" = yes ] || equal="**NO** (run $i)"
		[ "$n" -eq 1 ] || bench_sql "$src_port" "$name" "SELECT pg_drop_replication_slot('$slot')" >/dev/null
	done
	if [ -n "$failed" ]; then
		row_failed "$label" "$failed"
		return
	fi
	local m statements written walsender_cpu target_cpu ferry_cpu
	m=$(median_run "${walls[@]}")
	read -r statements written walsender_cpu target_cpu ferry_cpu <<<"${rows[$((m - 1))]}"
	[ "$label" != "pgferry follow" ] || ferry_time=${walls[$((m - 1))]}
	[ "$n" -eq 1 ] || label="$label (median of $n: $(bench_runs_range "${walls[@]}"))"
	bench_md_row "$label" "$(bench_secs "${walls[$((m - 1))]}")" "${statements:-?}" "${written:-?}" \
		"$walsender_cpu" "$target_cpu" "$ferry_cpu" "$equal"
}

# bench_runs_range WALL...: "MIN-MAX s" of the runs' wall times.
bench_runs_range()
{
	printf '%s\n' "$@" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 }
		END { printf "%.2f-%.2f s", lo, hi }'
}

# decode_alone NAME GROUP_BYTES: pg_recvlogical with pgferry's options, its
# frames grouped as pgferry asks (65536, the reference: decode_time) or one
# per message (0, what a consumer without groups gets).
decode_alone()
{
	local walls=() cpus=() i walsender m label
	bench_log "$1: decoding alone (group_bytes $2)"
	for i in $(seq 1 "$runs"); do
		run_copy "$1_decode" "$i"
		walsender=$(bench_reaped_cpu source)
		bench_measure "$BENCH_ROOT/$1-decode.log" "$PGBIN/pg_recvlogical" -d "$(bench_dsn "$src_port" "$1")" \
			--slot "$1_decode_r$i" --start --endpos "$end_lsn" --file /dev/null --no-loop \
			-o proto_version=1 -o binary=on -o skip_empty_xacts=on -o stream=on -o group_bytes="$2"
		if [ "$BENCH_STATUS" != 0 ]; then
			row_failed "decoding alone" "failed (exit $BENCH_STATUS), see $(bench_keep_log "$BENCH_ROOT/$1-decode.log")"
			return
		fi
		sleep 0.5
		walls+=("$BENCH_WALL")
		cpus+=("$(bench_minus "$(bench_reaped_cpu source)" "$walsender")")
		bench_sql "$src_port" "$1" "SELECT pg_drop_replication_slot('$1_decode_r$i')" >/dev/null
	done
	m=$(median_run "${walls[@]}")
	if [ "$2" = 0 ]; then
		label="decoding alone, one frame per message (group_bytes 0)"
	else
		decode_time=${walls[$((m - 1))]}
		label="decoding alone (pg_recvlogical of a pgferry slot into /dev/null, pgferry's options)"
	fi
	bench_md_row "$label; median of $runs: $(bench_runs_range "${walls[@]}")" \
		"$(bench_secs "${walls[$((m - 1))]}")" "n/a" "n/a" "${cpus[$((m - 1))]}" "n/a" "n/a" "n/a"
}

# wait_applied DB ORIGIN_PATTERN: waits until the target's replication
# origins matching the pattern have applied everything up to end_lsn (an
# origin's remote_lsn moves at each commit applied).
wait_applied()
{
	PGOPTIONS="-c statement_timeout=${BENCH_TIMEOUT:-1800}s" bench_sql "$tgt_port" "$1" "
		DO \$\$
		BEGIN
			WHILE NOT EXISTS (SELECT 1 FROM pg_replication_origin_status
				WHERE external_id LIKE '$2' AND remote_lsn >= '$end_lsn') LOOP
				PERFORM pg_sleep(0.02);
			END LOOP;
		END
		\$\$"
}

# subscriber_row LABEL DB START WALSENDER WORKER: the row of a subscriber
# whose apply worker (pid WORKER) applied the backlog since START.
subscriber_row()
{
	local label=$1 db=$2 start=$3 walsender=$4 worker_cpu=$5
	local time
	time=$(bench_since "$start")
	[ "$label" != "native logical replication" ] || native_time=$time
	sleep 0.5
	bench_md_row "$label" "$(bench_secs "$time")" "n/a" "n/a" \
		"$(bench_minus "$(bench_reaped_cpu source)" "$walsender")" "$worker_cpu" "n/a" \
		"$(compare "$NAME" "$db")"
}

native()
{
	local db=${NAME}_native start walsender pid cpu0 cpu
	bench_log "$NAME: native logical replication"
	bench_sql "$tgt_port" "$db" "CREATE SUBSCRIPTION native_sub CONNECTION '$(bench_dsn "$src_port" "$NAME")'
		PUBLICATION ${NAME}_pub
		WITH (copy_data = false, create_slot = false, slot_name = '${NAME}_native', enabled = false)"
	walsender=$(bench_reaped_cpu source)
	start=$(bench_now)
	bench_sql "$tgt_port" "$db" "ALTER SUBSCRIPTION native_sub ENABLE"
	until pid=$(bench_sql "$tgt_port" "$db" "SELECT pid FROM pg_stat_subscription
		WHERE subname = 'native_sub' AND pid IS NOT NULL") && [ -n "$pid" ]; do
		sleep 0.01
	done
	cpu0=$(bench_process_cpu "$pid")
	wait_applied "$db" 'pg_%'
	cpu=$(bench_minus "$(bench_process_cpu "$pid")" "$cpu0")
	# its walsender, reaped, counts; the slot stays for nobody
	bench_sql "$tgt_port" "$db" "ALTER SUBSCRIPTION native_sub DISABLE"
	bench_sql "$tgt_port" "$db" "ALTER SUBSCRIPTION native_sub SET (slot_name = NONE)"
	subscriber_row "native logical replication" "$db" "$start" "$walsender" "$cpu"
	bench_sql "$tgt_port" "$db" "DROP SUBSCRIPTION native_sub"
}

pglogical()
{
	local db=${NAME}_pglogical start walsender pid cpu0 cpu tries=0
	if [ -n "$pglogical_unavailable" ]; then
		row_failed "pglogical" "not available: $pglogical_unavailable"
		return
	fi
	bench_log "$NAME: pglogical"
	walsender=$(bench_reaped_cpu source)
	start=$(bench_now)
	bench_sql "$tgt_port" "$db" "SELECT pglogical.alter_subscription_enable('sub', true)" >/dev/null
	# its backend_type is "pglogical apply DATABASE_OID:SUBSCRIPTION_ID"
	until pid=$(bench_sql "$tgt_port" "$db" "SELECT pid FROM pg_stat_activity
		WHERE datname = '$db' AND backend_type LIKE 'pglogical apply %'") && [ -n "$pid" ]; do
		if [ $((tries += 1)) -gt 3000 ]; then
			row_failed "pglogical" "its apply worker did not start in 30 s"
			return
		fi
		sleep 0.01
	done
	cpu0=$(bench_process_cpu "$pid")
	wait_applied "$db" 'pgl_%'
	cpu=$(bench_minus "$(bench_process_cpu "$pid")" "$cpu0")
	bench_sql "$tgt_port" "$db" "SELECT pglogical.alter_subscription_disable('sub', true)" >/dev/null
	subscriber_row "pglogical" "$db" "$start" "$walsender" "$cpu"
}

# pglogical_prepare NAME: a disabled pglogical subscription whose slot exists
# before the workload (pglogical creates it when the subscription starts).
pglogical_prepare()
{
	local db=${1}_pglogical slot
	[ -z "$pglogical_unavailable" ] || return 0
	bench_sql "$src_port" "$1" "CREATE EXTENSION IF NOT EXISTS pglogical;
		SELECT pglogical.create_node(node_name := 'provider_$1', dsn := '$(bench_dsn "$src_port" "$1")');
		SELECT pglogical.replication_set_add_table('default', c.oid)
		FROM pg_class c JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
		WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r';
		SELECT pglogical.replication_set_add_table('default_insert_only', c.oid)
		FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
		AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)" >/dev/null
	bench_sql "$tgt_port" "$db" "CREATE EXTENSION IF NOT EXISTS pglogical;
		SELECT pglogical.create_node(node_name := 'subscriber_$1', dsn := '$(bench_dsn "$tgt_port" "$db")');
		SELECT pglogical.create_subscription(subscription_name := 'sub',
			provider_dsn := '$(bench_dsn "$src_port" "$1")',
			replication_sets := ARRAY['default', 'default_insert_only'],
			synchronize_structure := false, synchronize_data := false)" >/dev/null
	until slot=$(bench_sql "$src_port" "$1" "SELECT slot_name FROM pg_replication_slots
		WHERE database = '$1' AND plugin = 'pglogical_output'") && [ -n "$slot" ]; do
		sleep 0.05
	done
	bench_sql "$tgt_port" "$db" "SELECT pglogical.alter_subscription_disable('sub', true)" >/dev/null
}

# The set-wise floor of the bulk workload: the target itself writing the
# same final changes as an applier of it, one set-wise statement per phase
# and kind: COPY of the inserted rows, then for each later phase (the
# update, the delete, the 20,000 single-row updates) COPY of its changed
# rows or deleted keys into a temporary table and UPDATE ... FROM or
# DELETE ... USING it.  The changes are taken from a replay of the workload
# on the source, the table compared after each phase with the one before.
floor_phase=0
floor_script=''
floor_rows=0
floor_phase_changes()
{
	floor_phase=$((floor_phase + 1))
	local db=bulk_phases written=$BENCH_ROOT/floor-$floor_phase-written.copy \
		deleted=$BENCH_ROOT/floor-$floor_phase-deleted.copy
	local new_rows="SELECT n.* FROM bench_rows n LEFT JOIN before_phase o USING (id) WHERE o.id IS NULL OR n::text <> o::text"
	local gone_keys="SELECT o.id FROM before_phase o LEFT JOIN bench_rows n USING (id) WHERE n.id IS NULL"
	bench_sql "$src_port" "$db" "\\copy ($new_rows) TO '$written'"
	bench_sql "$src_port" "$db" "\\copy ($gone_keys) TO '$deleted'"
	bench_sql "$src_port" "$db" "TRUNCATE before_phase; INSERT INTO before_phase SELECT * FROM bench_rows"
	floor_rows=$((floor_rows + $(wc -l <"$written") + $(wc -l <"$deleted")))
	if [ "$floor_phase" = 1 ]; then
		echo "\\copy bench_rows FROM '$written'" >>"$floor_script"
		return
	fi
	[ ! -s "$written" ] || cat >>"$floor_script" <<-EOF
		TRUNCATE changed;
		\\copy changed FROM '$written'
		UPDATE bench_rows t SET label = c.label, amount = c.amount, created = c.created, doc = c.doc
			FROM changed c WHERE t.id = c.id;
	EOF
	[ ! -s "$deleted" ] || cat >>"$floor_script" <<-EOF
		TRUNCATE gone;
		\\copy gone FROM '$deleted'
		DELETE FROM bench_rows t USING gone g WHERE t.id = g.id;
	EOF
}

floor_row()
{
	local walls=() i m
	floor_script=$BENCH_ROOT/bulk-floor.sql floor_phase=0 floor_rows=0
	echo "CREATE TEMPORARY TABLE changed (LIKE bench_rows);
		CREATE TEMPORARY TABLE gone (id bigint);" >"$floor_script"
	bench_createdb "$src_port" bulk_phases
	workload_schema bulk "$src_port" bulk_phases
	bench_sql "$src_port" bulk_phases "CREATE TABLE before_phase (LIKE bench_rows)"
	bench_log "bulk: the changes of each phase, for the set-wise floor"
	workload_run bulk bulk_phases floor_phase_changes
	for i in $(seq 1 "$runs"); do
		bench_createdb "$tgt_port" "bulk_floor_r$i"
		workload_schema bulk "$tgt_port" "bulk_floor_r$i"
		bench_log "bulk: the set-wise floor"
		bench_measure "$BENCH_ROOT/bulk-floor.log" "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 \
			-d "$(bench_dsn "$tgt_port" "bulk_floor_r$i")" -f "$floor_script"
		walls+=("$BENCH_WALL")
	done
	m=$(median_run "${walls[@]}")
	floor_time=${walls[$((m - 1))]}
	bench_md_row "set-wise floor (the same changes, phase by phase, written by the target with COPY, UPDATE ... FROM and DELETE ... USING; median of $runs: $(
		bench_runs_range "${walls[@]}"))" "$(bench_secs "$floor_time")" \
		"$(grep -c ';$' "$floor_script")" "$floor_rows" "n/a" "n/a" "n/a" \
		"$(compare bulk "bulk_floor_r$m")"
}

# run_workload NAME TITLE: every consumer applies NAME's backlog.
run_workload()
{
	local consumer db
	NAME=$1
	ferry_time='' decode_time='' native_time='' floor_time=''
	bench_createdb "$src_port" "$NAME"
	workload_schema "$NAME" "$src_port" "$NAME"
	bench_sql "$src_port" "$NAME" "CREATE PUBLICATION ${NAME}_pub FOR TABLE $(workload_tables "$NAME" |
		sed 's/ /, /g'), bench_end"
	for consumer in ferry ordered pgoutput native pglogical; do
		db=${NAME}_$consumer
		bench_createdb "$tgt_port" "$db"
		workload_schema "$NAME" "$tgt_port" "$db"
	done
	# pglogical, preloaded, looks for its schema when any database creates a subscription
	[ -n "$pglogical_unavailable" ] ||
		bench_sql "$tgt_port" "${NAME}_native" "CREATE EXTENSION pglogical"
	for consumer in ferry ordered decode; do
		bench_sql "$src_port" "$NAME" \
			"SELECT 1 FROM pg_create_logical_replication_slot('${NAME}_$consumer', 'pgferry')" >/dev/null
	done
	for consumer in native pgoutput; do
		bench_sql "$src_port" "$NAME" \
			"SELECT 1 FROM pg_create_logical_replication_slot('${NAME}_$consumer', 'pgoutput')" >/dev/null
	done
	pglogical_prepare "$NAME"

	bench_log "$NAME: the workload"
	local start_lsn wal_bytes workload_start
	start_lsn=$(bench_sql "$src_port" "$NAME" "SELECT pg_current_wal_insert_lsn()")
	workload_start=$(bench_now)
	workload_run "$NAME"
	workload_secs=$(bench_since "$workload_start")
	end_lsn=$(bench_sql "$src_port" "$NAME" "SELECT pg_current_wal_insert_lsn()")
	wal_bytes=$(bench_sql "$src_port" "$NAME" "SELECT pg_wal_lsn_diff('$end_lsn', '$start_lsn')")
	# a commit after end_lsn, which every consumer applies: each sees the end
	# as soon as it gets there (native replication and pglogical record it as
	# their origin's position)
	bench_sql "$src_port" "$NAME" "INSERT INTO bench_end VALUES (now())"

	bench_md "### $2" "" \
		"$(bench_mb "$wal_bytes") MB of WAL, written in $(bench_secs "$workload_secs") s." "" \
		"| consumer | time (s) | statements | rows written | walsender CPU (s) | target CPU (s) | pgferry CPU (s) | target equal |" \
		"| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
	decode_alone "$NAME" 65536
	decode_alone "$NAME" 0
	ferry "$NAME" "pgferry follow"
	ferry "$NAME" "pgferry follow --ordered" --ordered
	# the same applier over the built-in plugin (managed sources): the gap
	# to the first row is what the pgferry plugin is worth
	ferry "$NAME" "pgferry follow --plugin pgoutput" --plugin pgoutput --publication "${NAME}_pub"
	native
	pglogical
	[ "$NAME" != bulk ] || floor_row
	bench_md "" "pgferry / decoding alone: **$(bench_ratio "$ferry_time" "$decode_time")** (goal <= 1.25)$(
		[ -z "$floor_time" ] || echo "; pgferry / the slower of decoding alone and the floor:" \
			"**$(bench_ratio "$ferry_time" "$(awk -v a="$decode_time" -v b="$floor_time" \
				'BEGIN { print (a > b ? a : b) }')")**");" \
		"native / pgferry: $(bench_ratio "$native_time" "$ferry_time")." ""
}

bench_md_begin "Apply: pgferry follow against native logical replication, pglogical and decoding alone"
bench_md "Each consumer applies the whole backlog of the workload, one after the other; times run" \
	"until the target has applied everything up to the workload's last LSN. CPU is per process:" \
	"the walsender decoding for the consumer, the target's backends (for native replication and" \
	"pglogical: the apply worker), and pgferry itself." ""
# BENCH_APPLY_WORKLOADS: the workloads to run (all three by default)
! bench_apply_runs bulk || run_workload bulk "bulk: 200 x 1,000 inserts, an update of 1/4 and a delete of 1/10 of the rows, 20,000 single-row updates"
! bench_apply_runs oltp || run_workload oltp "oltp: pgbench TPC-B plus one insert into events, 20,000 transactions, 100,000 row changes"
! bench_apply_runs hot || run_workload hot "hot rows: 20,000 single-row update transactions over 100 rows"

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
	bench_sql "$src_port" lob "SELECT 1 FROM pg_create_logical_replication_slot('s_ferry_lob', 'pgferry')" \
		>/dev/null

	bench_log "one transaction of $big_mb MB on the source"
	# Stored uncompressed (STORAGE EXTERNAL): the transaction really is that big.
	bench_sql "$src_port" lob "INSERT INTO bench_lob
		SELECT g, repeat(md5(g::text), $big_row_kb * 32) FROM generate_series(1, $rows) AS g"
	lsn=$(bench_sql "$src_port" lob "SELECT pg_current_wal_insert_lsn()")
	bench_sql "$src_port" lob "SELECT pg_logical_emit_message(true, 'bench', 'end')" >/dev/null
	bench_log "pgferry follow --endpos $lsn (one $big_mb MB transaction)"
	bench_measure "$BENCH_ROOT/ferry-lob.log" "$PGFERRY" follow --source "$(bench_dsn "$src_port" lob)" \
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

if [ "$big_mb" != 0 ]; then
	bench_md "### One large transaction" "" \
		"| one transaction | time (s) | peak RSS (MB) | target equal to source |" \
		"| --- | ---: | ---: | --- |"
	bench_big_transaction
	bench_md "" "Goal: peak RSS under 256 MB for the large transaction." ""
fi
bench_md_end
