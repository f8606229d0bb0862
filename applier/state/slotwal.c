/*-------------------------------------------------------------------------
 *
 * slotwal.c
 *	  The WAL a replication slot holds on the source.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "state/slotwal.h"
#include "stream/stream.h"

bool
slot_wal_read(PgConn *source, const char *slot, SlotWal *wal)
{
	const char *params[1] = {slot};
	PgResult *res;

	/* safe_wal_size is NULL without a limit, and for a lost slot */
	res = pg_query_or_report(
		source,
		"SELECT coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(),\n"
		"                                s.restart_lsn), 0),\n"
		"  coalesce(s.wal_status, 'lost'), coalesce(s.safe_wal_size, -1),\n"
		"  CASE WHEN current_setting('max_slot_wal_keep_size') = '-1'\n"
		"    THEN -1 ELSE pg_size_bytes(current_setting(\n"
		"      'max_slot_wal_keep_size')) END\n"
		"FROM pg_replication_slots s WHERE s.slot_name = $1",
		1, params, "read the WAL that slot \"%s\" holds", slot);
	if (res == NULL)
		return false;
	memset(wal, 0, sizeof(SlotWal));
	wal->found = pg_result_rows(res) == 1;
	if (wal->found)
	{
		wal->retained = atof(pg_result_value(res, 0, 0));
		snprintf(wal->status, sizeof(wal->status), "%s",
				 pg_result_value(res, 0, 1));
		wal->safe = atof(pg_result_value(res, 0, 2));
		wal->keep_size = atof(pg_result_value(res, 0, 3));
		metrics_set_gauge(METRIC_RETAINED_WAL, wal->retained);
		metrics_set_state(METRIC_SLOT_WAL_STATUS, wal->status);
	}
	pg_result_free(res);
	return true;
}

char *
slot_wal_describe(const SlotWal *wal, char *line, size_t size)
{
	char held[16], safe[16];

	if (!wal->found)
		snprintf(line, size, "no slot on the source");
	else if (strcmp(wal->status, "lost") == 0)
		snprintf(line, size,
				 "slot invalidated: the source removed WAL it still "
				 "needed (max_slot_wal_keep_size)");
	else if (wal->safe < 0)
		snprintf(line, size, "%s of WAL held (%s; no max_slot_wal_keep_size)",
				 format_bytes(wal->retained, held, sizeof(held)), wal->status);
	else
		snprintf(line, size,
				 "%s of WAL held (%s; %s more before max_slot_wal_keep_size "
				 "invalidates the slot)",
				 format_bytes(wal->retained, held, sizeof(held)), wal->status,
				 format_bytes(wal->safe, safe, sizeof(safe)));
	return line;
}

void
slot_wal_watch_init(SlotWalWatch *watch, PgConn *source, const char *slot,
					double threshold)
{
	memset(watch, 0, sizeof(SlotWalWatch));
	watch->source = source;
	watch->slot = slot;
	watch->threshold = threshold;
	watch->next_warning = threshold;
	watch->checked_at = clock_seconds();
}

void
slot_wal_watch(SlotWalWatch *watch, bool now)
{
	SlotWal wal;
	char line[160];
	char limit[16];

	if (watch->source == NULL || (!now && clock_seconds() - watch->checked_at <
											  SLOT_WAL_WATCH_INTERVAL))
		return;
	watch->checked_at = clock_seconds();
	/* a failed read is reported; the copy goes on */
	if (!slot_wal_read(watch->source, watch->slot, &wal) || !wal.found)
		return;
	slot_wal_describe(&wal, line, sizeof(line));
	if (strcmp(wal.status, "lost") == 0)
	{
		log_warning("slot \"%s\": %s", watch->slot, line);
		log_hint(STREAM_SLOT_LOST_FIX, watch->slot);
		watch->source = NULL;
		return;
	}
	/* the checkpointer removes past safe_wal_size: below a quarter, warn */
	if (!watch->warned_unreserved && wal.safe >= 0 &&
		(strcmp(wal.status, "unreserved") == 0 ||
		 wal.safe < wal.keep_size / 4))
	{
		log_warning("slot \"%s\": %s", watch->slot, line);
		log_hint("raise max_slot_wal_keep_size on the source before it "
				 "invalidates the slot: ALTER SYSTEM SET "
				 "max_slot_wal_keep_size = '%.0fMB'; SELECT pg_reload_conf();",
				 wal.keep_size * 2 / (1024 * 1024));
		watch->warned_unreserved = true;
	}
	if (watch->threshold > 0 && wal.retained >= watch->next_warning)
	{
		log_warning("slot \"%s\": %s, past --max-retained-wal %s", watch->slot,
					line,
					format_bytes(watch->threshold, limit, sizeof(limit)));
		log_hint("make sure the source's pg_wal has room for the rest of "
				 "the copy; the slot releases it once the applier follows");
		while (watch->next_warning <= wal.retained)
			watch->next_warning *= 2;
	}
}
