#!/usr/bin/env bash
# bench/decode.sh: decoding speed and output size of pgferry against the
# other output plugins (issue 2).  Run through scripts/bench decode.
#
# One server, one slot per plugin created before the workload, so every slot
# decodes the same WAL.  Each plugin (and mode) decodes it once untimed, then
# BENCH_DECODE_REPS times in interleaved rounds, with
# pg_logical_slot_peek_*_changes (peek does not consume, so every run decodes
# the same changes up to the same LSN); the median time is reported with the
# total bytes of output, sum(octet_length(data)).
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

reps=${BENCH_DECODE_REPS:-5}
port=${BENCH_PORT_BASE:-5580}
db=bench

# label | slot (one per plugin) | plugin | SQL function | options
configs=(
	"pgferry binary|s_pgferry|pgferry|pg_logical_slot_peek_binary_changes|'proto_version', '1', 'binary', 'true'"
	"pgferry text|s_pgferry|pgferry|pg_logical_slot_peek_binary_changes|'proto_version', '1', 'binary', 'false'"
	"pgoutput binary|s_pgoutput|pgoutput|pg_logical_slot_peek_binary_changes|'proto_version', '2', 'publication_names', 'bench_pub', 'binary', 'true'"
	"pgoutput text|s_pgoutput|pgoutput|pg_logical_slot_peek_binary_changes|'proto_version', '1', 'publication_names', 'bench_pub'"
	"test_decoding|s_test_decoding|test_decoding|pg_logical_slot_peek_changes|"
	"wal2json (format-version 2)|s_wal2json|wal2json|pg_logical_slot_peek_changes|'format-version', '2'"
	"decoderbufs|s_decoderbufs|decoderbufs|pg_logical_slot_peek_binary_changes|"
)

bench_begin decode
bench_log "starting the server"
bench_server_start source "$port"
bench_createdb "$port" "$db"
bench_create_rows_table "$port" "$db"
bench_sql "$port" "$db" "CREATE PUBLICATION bench_pub FOR TABLE bench_rows"

# Slots first: a plugin whose slot cannot be created is reported, not fatal.
declare -A slot_error
for config in "${configs[@]}"; do
	IFS='|' read -r _ slot plugin _ _ <<<"$config"
	[ -n "${slot_error[$slot]+set}" ] && continue
	slot_error[$slot]=""
	if ! err=$(bench_sql "$port" "$db" \
		"SELECT 1 FROM pg_create_logical_replication_slot('$slot', '$plugin')" 2>&1 >/dev/null); then
		slot_error[$slot]=$(bench_cell "$err")
		bench_log "slot $slot ($plugin) not created: ${slot_error[$slot]}"
	fi
done

bench_log "running the workload (200 x 1,000 inserts, update 1/4, delete 1/10)"
bench_rows_workload "$port" "$db"
end_lsn=$(bench_sql "$port" "$db" "SELECT pg_current_wal_lsn()")

bench_md_begin "Decoding: pg_logical_slot_peek_*_changes over the same WAL"
bench_md "200 transactions of 1,000 inserts (bigint PK, text, numeric, timestamptz, jsonb), one update of" \
	"1/4 and one delete of 1/10 of the rows: 270,000 changes. Median of $reps runs; bytes are" \
	"sum(octet_length(data)) over every row the function returns. Options: pgferry proto_version 1," \
	"binary true/false; pgoutput proto_version 2 with binary true, proto_version 1 for text;" \
	"wal2json format-version 2 (one row per change); test_decoding and decoderbufs defaults." "" \
	"| plugin | median time (s) | output (bytes) | output (MB) | rows |" \
	"| --- | ---: | ---: | ---: | ---: |"

# bench_decode_query CONFIG: the query that decodes the workload with CONFIG.
bench_decode_query()
{
	local slot func opts
	IFS='|' read -r _ slot _ func opts <<<"$1"
	echo "SELECT count(*) || ' ' || sum(octet_length(data))
		FROM $func('$slot', '$end_lsn', NULL${opts:+, $opts});"
}

# A first, untimed run of each plugin proves it works and warms the caches;
# a plugin that fails is reported and left out of the timed rounds.
declare -A failure_of rows_of bytes_of
timed=()
for config in "${configs[@]}"; do
	IFS='|' read -r label slot _ <<<"$config"
	if [ -n "${slot_error[$slot]}" ]; then
		failure_of[$label]="not available: ${slot_error[$slot]}"
		continue
	fi
	# stderr apart: decoderbufs reports every startup as an INFO message.
	if ! out=$(bench_sql "$port" "$db" "$(bench_decode_query "$config")" 2>"$BENCH_ROOT/$slot.err"); then
		failure_of[$label]="failed: $(bench_cell "$(cat "$BENCH_ROOT/$slot.err")")"
		bench_log "$label ${failure_of[$label]}"
		continue
	fi
	read -r rows bytes <<<"$out"
	rows_of[$label]=$rows bytes_of[$label]=$bytes
	timed+=("$config")
done

# The timed rounds: every plugin once per round, in one session, so that a
# drift of the machine's speed spreads over all plugins alike.
bench_log "decoding: $reps rounds of ${#timed[@]} plugins"
script="\\timing on"
for _ in $(seq "$reps"); do
	for config in "${timed[@]}"; do
		script+=$'\n'"\\echo @ ${config%%|*}"$'\n'"$(bench_decode_query "$config")"
	done
done
declare -A time_of
while IFS='|' read -r label median; do
	time_of[$label]=$median
done < <(bench_sql_file "$port" "$db" <<<"$script" 2>/dev/null |
	awk '/^@ / { label = substr($0, 3) } /^Time:/ { t[label] = t[label] " " $2 / 1000 }
		END { for (l in t) print l "|" t[l] }' |
	while IFS='|' read -r label times; do
		# shellcheck disable=SC2086 # one word per time
		echo "$label|$(bench_median $times)"
	done)

for config in "${configs[@]}"; do
	label=${config%%|*}
	[ -n "${failure_of[$label]:-}" ] || [ -n "${time_of[$label]:-}" ] ||
		failure_of[$label]="failed in the timed rounds"
	if [ -n "${failure_of[$label]:-}" ]; then
		bench_md_row "$label" "${failure_of[$label]}" "" "" ""
	else
		bench_md_row "$label" "$(bench_secs "${time_of[$label]}")" "${bytes_of[$label]}" \
			"$(bench_mb "${bytes_of[$label]}")" "${rows_of[$label]}"
	fi
done

ratio_time=$(bench_ratio "${time_of[pgferry binary]:-}" "${time_of[pgoutput binary]:-}")
ratio_bytes=$(bench_ratio "${bytes_of[pgferry binary]:-}" "${bytes_of[pgoutput binary]:-}")
ratio_dbufs=$(bench_ratio "${time_of[decoderbufs]:-}" "${time_of[pgferry binary]:-}")
bench_md "" \
	"| ratio | value | goal |" \
	"| --- | ---: | --- |" \
	"| time pgferry binary / pgoutput binary | $ratio_time | <= 1.00 |" \
	"| bytes pgferry binary / pgoutput binary | $ratio_bytes | <= 1.00 |" \
	"| time decoderbufs / pgferry binary | $ratio_dbufs | >= 2.00 |" ""
bench_md_end
