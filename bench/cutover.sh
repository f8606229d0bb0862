#!/usr/bin/env bash
# bench/cutover.sh: the read-only window of a switch under writes (issue 9):
# pgferry cutover against native logical replication's switch done by hand,
# each under pgbench -c 2 -R 1000 (rate-limited, so that an applier can keep
# up on a small machine), on a pgbench database of scale 5 and one of scale
# 50: the window must not grow with the database.  Run through scripts/bench
# cutover.
#
# For each scale, on one source and one target server:
#   pgferry  pgferry migrate into an empty database; once it follows, the
#            writes start; after BENCH_CUTOVER_WARM seconds, pgferry cutover
#            (its report gives the window and its steps); the copy is
#            compared with the source; pgferry finish.
#   native   the source made writable again; pg_dump -s, a publication of
#            every table and a subscription copying them; once they are in
#            sync, the same writes; then, from one session on the target
#            (dblink to the source, connected beforehand): the source
#            database read-only, its sessions terminated, its WAL position
#            read, a wait until the subscription has received past it
#            (pg_stat_subscription.latest_end_lsn), and setval of every
#            sequence: the window is that DO block's time.
# Each switch ends pgbench's sessions, as it would an application's.
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

src_port=$((${BENCH_PORT_BASE:-5580} + 1))
tgt_port=$((${BENCH_PORT_BASE:-5580} + 2))
read -r -a scales <<<"${BENCH_CUTOVER_SCALES:-5 50}"
rate=${BENCH_CUTOVER_RATE:-1000}
warm=${BENCH_CUTOVER_WARM:-20}
tables=(pgbench_accounts pgbench_branches pgbench_tellers pgbench_history)
background=()

# EXIT trap: the writers and the applier stop before the servers they use;
# bench_end reads the exit status as $?, which (exit) hands on.
bench_cutover_end()
{
	local status=$? pid
	set +e
	for pid in "${background[@]}"; do
		kill "$pid" 2>/dev/null
	done
	(exit "$status")
	bench_end
}

bench_begin cutover
trap bench_cutover_end EXIT
bench_log "starting the servers"
bench_server_start source "$src_port"
bench_server_start target "$tgt_port"

# bench_wait_for PORT DB SQL SECONDS: poll SQL until it returns t.
bench_wait_for()
{
	local deadline=$((SECONDS + $4))
	until [ "$(bench_sql "$1" "$2" "$3" 2>/dev/null || true)" = t ]; do
		if [ $SECONDS -ge $deadline ]; then
			bench_log "gave up after $4 s waiting for: $3"
			return 1
		fi
		sleep 0.5
	done
}

# bench_writes DB LOG: pgbench's writes in the background (pid in
# writes_pid); they end with the switch, which terminates their sessions.
bench_writes()
{
	"$PGBIN/pgbench" -n -c 2 -j 2 -R "$rate" -T 3600 "$(bench_dsn "$src_port" "$1")" \
		>"$2" 2>&1 &
	writes_pid=$!
	background+=("$writes_pid")
}

# bench_tps DB: transactions per second the writes commit, over 5 s.
bench_tps()
{
	local before after
	before=$(bench_sql "$src_port" "$1" "SELECT count(*) FROM pgbench_history")
	sleep 5
	after=$(bench_sql "$src_port" "$1" "SELECT count(*) FROM pgbench_history")
	echo $(((after - before) / 5))
}

# bench_equal SDB TDB: "yes" when the target's pgbench tables hold the
# source's rows, else the tables that differ.
bench_equal()
{
	local table differ=""
	for table in "${tables[@]}"; do
		[ "$(bench_digest "$src_port" "$1" "$table")" = "$(bench_digest "$tgt_port" "$2" "$table")" ] ||
			differ+="${differ:+, }$table"
	done
	echo "${differ:+**NO**: }${differ:-yes}"
}

declare -A row_of step_of

# bench_pgferry SCALE: pgferry migrate, writes, pgferry cutover, pgferry finish.
bench_pgferry()
{
	local scale=$1 db=s$1 tdb=ferry_s$1 migrate_pid tps window log
	log=$BENCH_ROOT/$tdb
	bench_createdb "$tgt_port" "$tdb"
	bench_log "scale $scale: pgferry migrate"
	"$PGFERRY" migrate --source "$(bench_dsn "$src_port" "$db")" --target "$(bench_dsn "$tgt_port" "$tdb")" \
		--jobs 2 --log-progress >"$log-migrate.log" 2>&1 &
	migrate_pid=$!
	background+=("$migrate_pid")
	if ! bench_wait_for "$tgt_port" "$tdb" \
		"SELECT bool_and(phase = 'stream') FROM pgferry.migration" "${BENCH_TIMEOUT:-1800}"; then
		row_of[pgferry $scale]="failed: migrate did not reach its stream, see $(bench_keep_log "$log-migrate.log")||"
		return
	fi
	bench_writes "$db" "$log-pgbench.log"
	sleep "$warm"
	tps=$(bench_tps "$db")
	bench_log "scale $scale: pgferry cutover under $tps tps"
	bench_measure "$log-cutover.log" "$PGFERRY" cutover --source "$(bench_dsn "$src_port" "$db")" \
		--target "$(bench_dsn "$tgt_port" "$tdb")"
	wait "$writes_pid" || true
	window=$(sed -n 's/^  read-only window *\([0-9.]*\) s$/\1/p' "$log-cutover.log")
	if [ "$BENCH_STATUS" != 0 ] || [ -z "$window" ]; then
		row_of[pgferry $scale]="$tps|failed (exit $BENCH_STATUS), see $(bench_keep_log "$log-cutover.log")|"
	else
		row_of[pgferry $scale]="$tps|$window|$(bench_equal "$db" "$tdb")"
		# the window's steps: "name seconds" lines
		step_of[$scale]=$(awk '/^  read-only window/ { on = 1; next } /^  after the window/ { on = 0 }
			on { sub(/^    /, ""); split($0, part, "  +"); sub(/ s$/, "", part[2]); print part[1] "|" part[2] }' \
			"$log-cutover.log")
		cp "$log-cutover.log" "$BENCH_OUT/cutover-pgferry-s$scale.log"
	fi
	kill -TERM "$migrate_pid" 2>/dev/null || true
	wait "$migrate_pid" || true
	"$PGFERRY" finish --source "$(bench_dsn "$src_port" "$db")" --target "$(bench_dsn "$tgt_port" "$tdb")" \
		>"$log-finish.log" 2>&1 || bench_log "scale $scale: pgferry finish failed, see $log-finish.log"
}

# bench_native SCALE: a subscription, writes, the switch by hand.
bench_native()
{
	local scale=$1 db=s$1 tdb=native_s$1 tps window log
	log=$BENCH_ROOT/$tdb
	bench_sql "$src_port" postgres "ALTER DATABASE \"$db\" RESET default_transaction_read_only"
	bench_createdb "$tgt_port" "$tdb"
	bench_log "scale $scale: native logical replication, initial sync"
	"$PGBIN/pg_dump" -s "$(bench_dsn "$src_port" "$db")" | bench_sql_file "$tgt_port" "$tdb" >/dev/null
	bench_sql "$src_port" "$db" "CREATE PUBLICATION bench_pub FOR ALL TABLES"
	bench_sql "$tgt_port" "$tdb" "CREATE EXTENSION dblink"
	bench_sql "$tgt_port" "$tdb" "CREATE SUBSCRIPTION bench_sub
		CONNECTION '$(bench_dsn "$src_port" "$db")' PUBLICATION bench_pub WITH (copy_data = true)"
	if ! bench_wait_for "$tgt_port" "$tdb" \
		"SELECT count(*) > 0 AND bool_and(srsubstate = 'r') FROM pg_subscription_rel" \
		"${BENCH_TIMEOUT:-1800}"; then
		row_of[native $scale]="failed: the subscription did not sync||"
		return
	fi
	bench_writes "$db" "$log-pgbench.log"
	sleep "$warm"
	tps=$(bench_tps "$db")
	bench_log "scale $scale: native switch by hand under $tps tps"
	# one session on the target, its dblink to the source opened beforehand
	"$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -d "$(bench_dsn "$tgt_port" "$tdb")" \
		>"$log-switch.log" 2>&1 <<-EOF || true
		SELECT dblink_connect('src', '$(bench_dsn "$src_port" "$db")');
		DO \$\$
		DECLARE
			started timestamptz := clock_timestamp();
			last pg_lsn;
		BEGIN
			PERFORM dblink_exec('src', 'ALTER DATABASE "$db" SET default_transaction_read_only = on');
			PERFORM * FROM dblink('src', \$q\$SELECT count(pg_terminate_backend(pid))
				FROM pg_stat_activity WHERE datname = current_database()
				AND pid <> pg_backend_pid() AND backend_type = 'client backend'\$q\$) AS t(n bigint);
			WHILE (SELECT n FROM dblink('src', \$q\$SELECT count(*) FROM pg_stat_activity
				WHERE datname = current_database() AND pid <> pg_backend_pid()
				AND backend_type = 'client backend'\$q\$) AS t(n bigint)) > 0 LOOP
				PERFORM pg_sleep(0.002);
			END LOOP;
			SELECT l INTO last FROM dblink('src', 'SELECT pg_current_wal_lsn()') AS t(l pg_lsn);
			WHILE NOT coalesce((SELECT latest_end_lsn >= last FROM pg_stat_subscription
				WHERE subname = 'bench_sub' AND relid IS NULL), false) LOOP
				PERFORM pg_sleep(0.002);
			END LOOP;
			PERFORM setval(format('%I.%I', s.schemaname, s.sequencename), s.last_value)
			FROM dblink('src', 'SELECT schemaname, sequencename, last_value FROM pg_sequences
				WHERE last_value IS NOT NULL') AS s(schemaname name, sequencename name, last_value bigint);
			RAISE NOTICE 'window %', round(extract(epoch FROM clock_timestamp() - started), 3);
		END
		\$\$;
	EOF
	wait "$writes_pid" || true
	window=$(sed -n 's/.*NOTICE:  window \([0-9.]*\)$/\1/p' "$log-switch.log")
	if [ -z "$window" ]; then
		row_of[native $scale]="$tps|failed, see $(bench_keep_log "$log-switch.log")|"
	else
		row_of[native $scale]="$tps|$window|$(bench_equal "$db" "$tdb")"
	fi
	PGOPTIONS='-c client_min_messages=warning' bench_sql "$tgt_port" "$tdb" "DROP SUBSCRIPTION bench_sub"
	# the source database is read-only now, but for a session that says otherwise
	PGOPTIONS='-c default_transaction_read_only=off' bench_sql "$src_port" "$db" "DROP PUBLICATION bench_pub"
}

declare -A size_of
for scale in "${scales[@]}"; do
	bench_createdb "$src_port" "s$scale"
	bench_log "scale $scale: pgbench -i"
	"$PGBIN/pgbench" -i -q -s "$scale" "$(bench_dsn "$src_port" "s$scale")" \
		>"$BENCH_ROOT/pgbench-init-s$scale.log" 2>&1
	size_of[$scale]=$(bench_mb "$(bench_sql "$src_port" "s$scale" "SELECT pg_database_size('s$scale')")")
	if bench_pgferry_has cutover; then
		bench_pgferry "$scale"
	else
		row_of[pgferry $scale]="|pgferry cutover: not available|"
	fi
	bench_native "$scale"
done

bench_md_begin "Cutover: the read-only window under writes"
bench_md "Each switch runs under pgbench's TPC-B-like writes (-c 2 -j 2 -R $rate), started once the" \
	"target follows and running for $warm s before it; the window is from the source read-only to" \
	"the target ready for writes, pgferry's as its hand-over report gives it, native logical" \
	"replication's switch by hand as a DO block on the target times it. Every switch ends" \
	"pgbench's sessions. The copy is compared with the source after each switch." "" \
	"| database | switch | writes (tps) | read-only window (s) | target equal to source |" \
	"| --- | --- | ---: | ---: | --- |"
for scale in "${scales[@]}"; do
	for tool in pgferry native; do
		IFS='|' read -r cell_tps cell_window cell_equal <<<"${row_of[$tool $scale]:-||}"
		bench_md_row "pgbench scale $scale (${size_of[$scale]} MB)" \
			"$([ $tool = pgferry ] && echo "pgferry cutover" || echo "native logical replication, by hand")" \
			"$cell_tps" "$cell_window" "$cell_equal"
	done
done
bench_md "" "pgferry's window, step by step (s):" "" \
	"| step |$(printf ' scale %s |' "${scales[@]}")" \
	"| --- |$(printf ' ---: |%.0s' "${scales[@]}")"
while IFS= read -r step; do
	[ -n "$step" ] || continue
	line="| $step |"
	for scale in "${scales[@]}"; do
		line+=" $(awk -F'|' -v s="$step" '$1 == s { print $2 }' <<<"${step_of[$scale]:-}") |"
	done
	bench_md "$line"
done < <(for scale in "${scales[@]}"; do cut -d'|' -f1 <<<"${step_of[$scale]:-}"; done | awk '!seen[$0]++')
bench_md "" "Goals: pgferry's window at most 0.5 s at scale 5 and within 20% of it at scale 50; native" \
	"logical replication by hand measured 0.54 s where the goal was set." ""
bench_md_end
