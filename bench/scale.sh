#!/usr/bin/env bash
# bench/scale.sh: how pgferry's copy, index build and apply grow with the
# size of the database, and what that projects for 1 TB.  Run through
# `make bench-scale` (not part of make bench nor make test: the largest size
# takes a while).
#
# At each size (BENCH_SCALE_SIZES, in GB, default "0.15 1.5 10") one source
# database is generated: half pgbench tables (pgbench -i), half a wide table
# of 4 kB TOASTed values (stored uncompressed, as most real documents are
# once compressed) with three secondary indexes.  `pgferry migrate --jobs J
# --endpos LSN` copies it into a new database of the target, for J of 1 and 2
# (BENCH_SCALE_JOBS); the migration's own state on the target gives when the
# copy started, when its last table finished and when its last index or
# constraint was built (indexes are built as their tables finish, so most of
# that work overlaps the copy: the planning figure is copy + indexes).  Then pgbench writes BENCH_SCALE_TXNS transactions
# (4 row changes each) on the source and the migration, started again with a
# later --endpos, applies them: apply changes per second at that size.
# pgferry's resident memory is sampled every 0.2 s and its peak reported per
# phase.  Each migrated database is compared with the source table by table.
#
# Fits: for each of copy and copy + indexes, a least-squares line over the
# sizes (seconds = a + b * GB) and its value at 1,000 GB.
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

src_port=$((${BENCH_PORT_BASE:-5580} + 3))
tgt_port=$((${BENCH_PORT_BASE:-5580} + 4))
read -r -a sizes <<<"${BENCH_SCALE_SIZES:-0.15 1.5 10}"
read -r -a jobs_list <<<"${BENCH_SCALE_JOBS:-1 2}"
txns=${BENCH_SCALE_TXNS:-20000}
tables=(pgbench_accounts pgbench_branches pgbench_tellers pgbench_history bench_wide)

bench_begin scale
bench_log "starting the servers"
bench_server_start source "$src_port"
bench_server_start target "$tgt_port"

# scale_generate DB GB: the source database of about GB gigabytes.
scale_generate()
{
	local db=$1 gb=$2 scale wide_rows
	# pgbench: about 15.6 MB per scale unit, indexes included; the wide
	# table: about 4.5 kB per row with its TOAST and index entries.
	scale=$(awk -v g="$gb" 'BEGIN { s = int(g * 1e9 / 2 / 15.6e6 + 0.5); print (s < 1 ? 1 : s) }')
	wide_rows=$(awk -v g="$gb" 'BEGIN { printf "%d", g * 1e9 / 2 / 4500 }')
	bench_createdb "$src_port" "$db"
	"$PGBIN/pgbench" -i -q -s "$scale" "$(bench_dsn "$src_port" "$db")" \
		>"$BENCH_ROOT/pgbench-init-$db.log" 2>&1
	bench_sql_file "$src_port" "$db" <<-EOF
		CREATE TABLE bench_wide (
			id bigint PRIMARY KEY,
			account integer NOT NULL,
			created timestamptz NOT NULL,
			title text NOT NULL,
			payload text NOT NULL
		);
		ALTER TABLE bench_wide ALTER COLUMN payload SET STORAGE EXTERNAL;
		INSERT INTO bench_wide
		SELECT g, 1 + g % 100000,
			timestamptz '2024-01-01 00:00:00+00' + g * interval '3 seconds',
			'document ' || md5(g::text),
			repeat(md5(g::text), 128)
		FROM generate_series(1, $wide_rows) AS g;
		CREATE INDEX bench_wide_account ON bench_wide (account);
		CREATE INDEX bench_wide_created ON bench_wide (created);
		CREATE INDEX bench_wide_title ON bench_wide (title);
		VACUUM ANALYZE;
		CHECKPOINT;
	EOF
}

# scale_fingerprint PORT DB: each table's digest, one per line.
scale_fingerprint()
{
	bench_digests "$1" "$2" "${tables[@]}"
}

# scale_sample_rss PID OUT: the process's resident memory (kB) with the time,
# every 0.2 s while it runs.
scale_sample_rss()
{
	while [ -r "/proc/$1/status" ]; do
		awk -v t="$(bench_now)" '/^VmRSS:/ { print t, $2 }' "/proc/$1/status" 2>/dev/null || true
		sleep 0.2
	done >"$2"
}

# scale_peak_mb SAMPLES FROM TO: the highest sample between the two epoch
# times, in MB.
scale_peak_mb()
{
	awk -v a="$2" -v b="$3" '$1 >= a && $1 <= b && $2 > m { m = $2 }
		END { printf "%.1f", m / 1024 }' "$1"
}

# scale_run LOG SAMPLES COMMAND...: run COMMAND with its memory sampled; set
# BENCH_WALL and BENCH_STATUS.
scale_run()
{
	local log=$1 samples=$2 start pid
	shift 2
	start=$(bench_now)
	"$@" >"$log" 2>&1 &
	pid=$!
	scale_sample_rss "$pid" "$samples" &
	BENCH_STATUS=0
	wait "$pid" || BENCH_STATUS=$?
	wait
	BENCH_WALL=$(bench_since "$start")
}

declare -a rows=()
declare -A copy_s index_s

for gb in "${sizes[@]}"; do
	src_db="src_${gb//./_}"
	bench_log "generating about $gb GB"
	scale_generate "$src_db" "$gb"
	src=$(bench_dsn "$src_port" "$src_db")
	size=$(bench_sql "$src_port" "$src_db" "SELECT pg_database_size(current_database())")
	for jobs in "${jobs_list[@]}"; do
		source_fingerprint=$(scale_fingerprint "$src_port" "$src_db")
		db="t_${gb//./_}_j$jobs"
		slot="bench_scale_$jobs"
		tgt=$(bench_dsn "$tgt_port" "$db")
		bench_createdb "$tgt_port" "$db"
		bench_log "$gb GB, --jobs $jobs: migrate"
		lsn=$(bench_sql "$src_port" "$src_db" "SELECT pg_current_wal_insert_lsn()")
		migrate=("$PGFERRY" migrate --source "$src" --target "$tgt" --slot "$slot" --jobs "$jobs"
			--dir "$BENCH_ROOT/work-$db")
		scale_run "$BENCH_ROOT/$db-copy.log" "$BENCH_ROOT/$db-copy.rss" \
			"${migrate[@]}" --endpos "$lsn"
		if [ "$BENCH_STATUS" != 0 ]; then
			rows+=("$(bench_mb "$size")|$jobs|failed (exit $BENCH_STATUS), see $(bench_keep_log "$BENCH_ROOT/$db-copy.log")||||||||")
			continue
		fi
		total=$BENCH_WALL
		# The migration's state: epoch seconds of the copy's start, of its
		# last table's end, and of the last index or constraint built.
		IFS='|' read -r started copied indexed < <(bench_sql "$tgt_port" "$db" "
			SELECT extract(epoch FROM m.copy_started_at),
				(SELECT extract(epoch FROM max(finished_at)) FROM pgferry.copy_ranges),
				(SELECT extract(epoch FROM max(done_at)) FROM pgferry.post_data)
			FROM pgferry.migration AS m WHERE m.slot = '$slot'")
		[ -n "$indexed" ] && awk -v a="$copied" -v b="$indexed" 'BEGIN { exit !(b > a) }' ||
			indexed=$copied
		copy=$(awk -v a="$started" -v b="$copied" 'BEGIN { printf "%.2f", b - a }')
		index=$(awk -v a="$started" -v b="$indexed" 'BEGIN { printf "%.2f", b - a }')
		copy_mb_s=$(awk -v s="$size" -v t="$copy" 'BEGIN { printf "%.1f", s / 1e6 / t }')
		rss=$(scale_peak_mb "$BENCH_ROOT/$db-copy.rss" "$started" "$indexed")
		equal=yes
		[ "$(scale_fingerprint "$tgt_port" "$db")" = "$source_fingerprint" ] || equal="**NO**"

		bench_log "$gb GB, --jobs $jobs: $txns pgbench transactions, then apply them"
		"$PGBIN/pgbench" -n -c 2 -j 2 -t $((txns / 2)) "$src" >"$BENCH_ROOT/pgbench-$db.log" 2>&1
		lsn=$(bench_sql "$src_port" "$src_db" "SELECT pg_current_wal_insert_lsn()")
		scale_run "$BENCH_ROOT/$db-apply.log" "$BENCH_ROOT/$db-apply.rss" \
			"${migrate[@]}" --endpos "$lsn"
		if [ "$BENCH_STATUS" = 0 ]; then
			apply_rate=$(awk -v n=$((txns * 4)) -v t="$BENCH_WALL" 'BEGIN { printf "%.0f", n / t }')
			apply_rss=$(scale_peak_mb "$BENCH_ROOT/$db-apply.rss" 0 9e12)
			[ "$(scale_fingerprint "$tgt_port" "$db")" = "$(scale_fingerprint "$src_port" "$src_db")" ] ||
				equal="**NO** after apply"
		else
			apply_rate="failed (exit $BENCH_STATUS), see $(bench_keep_log "$BENCH_ROOT/$db-apply.log")"
			apply_rss=
		fi
		copy_s["$jobs $gb"]=$copy
		index_s["$jobs $gb"]=$index
		rows+=("$(bench_mb "$size")|$jobs|$copy|$copy_mb_s|$index|$(bench_secs "$total")|$apply_rate|$rss / $apply_rss|$equal")
		bench_sql "$src_port" "$src_db" "SELECT pg_drop_replication_slot('$slot')" >/dev/null
		bench_sql "$tgt_port" postgres "DROP DATABASE \"$db\" WITH (FORCE)"
		rm -rf "$BENCH_ROOT/work-$db"
	done
	bench_sql "$src_port" postgres "DROP DATABASE \"$src_db\" WITH (FORCE)"
done

# scale_fit JOBS METRIC: "a + b*GB" by least squares over the sizes, and the
# value at 1,000 GB, from the array named METRIC.
scale_fit()
{
	local -n metric=$2
	local gb
	for gb in "${sizes[@]}"; do
		[ -z "${metric["$1 $gb"]:-}" ] || echo "$gb ${metric["$1 $gb"]}"
	done | awk '{ n++; sx += $1; sy += $2; sxx += $1 * $1; sxy += $1 * $2 }
		END {
			if (n < 2) { print "n/a|n/a"; exit }
			b = (n * sxy - sx * sy) / (n * sxx - sx * sx); a = (sy - b * sx) / n
			printf "%.2f + %.2f s/GB|%.1f h\n", a, b, (a + b * 1000) / 3600 }'
}

bench_md_begin "Scale: copy, index build and apply against database size"
bench_md "Each source: half pgbench tables, half a wide table of 4 kB uncompressed TOASTed values with" \
	"three secondary indexes. Copy = from the copy's start to its last table's end; copy + indexes =" \
	"to the last index or constraint built (built as their tables finish, mostly during the copy);" \
	"total = the whole \`pgferry migrate\` (schema, copy, indexes, the stream's start); apply = $txns pgbench TPC-B transactions ($((txns * 4)) row" \
	"changes) written after the copy, applied by the migration started again (its start included)." \
	"Peak RSS of pgferry per phase (copy and indexes / apply). Each copy compared with its source table by table." "" \
	"| database (MB) | --jobs | copy (s) | copy (MB/s) | copy + indexes (s) | total (s) | apply (changes/s) | peak RSS (MB) | equal |" \
	"| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"
for row in "${rows[@]}"; do
	IFS='|' read -r -a cells <<<"$row"
	bench_md_row "${cells[@]}"
done
bench_md "" "| --jobs | copy time fit | copy of 1 TB | copy + indexes fit | copy + indexes of 1 TB |" \
	"| ---: | --- | ---: | --- | ---: |"
for jobs in "${jobs_list[@]}"; do
	IFS='|' read -r copy_fit copy_tb < <(scale_fit "$jobs" copy_s)
	IFS='|' read -r index_fit index_tb < <(scale_fit "$jobs" index_s)
	bench_md_row "$jobs" "$copy_fit" "$copy_tb" "$index_fit" "$index_tb"
done
bench_md ""
bench_md_end
