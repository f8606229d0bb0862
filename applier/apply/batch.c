/*-------------------------------------------------------------------------
 *
 * batch.c
 *	  Many source transactions become one target transaction.
 *
 * A generation is what one target transaction holds: the net effect of
 * its keyed tables' changes (net.c), the groups written in source order
 * (ordered.c), and its figures.  The generation being built is `current`;
 * once its commit is queued it becomes `committing`, whose row data stays
 * until the target has acknowledged it (the statements' results, read
 * later, may need it to name a row).
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "apply/batch.h"
#include "apply/net.h"
#include "apply/ordered.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"

/*
 * A batch this old, or holding this many row changes, commits as soon as
 * the target has no commit in flight: an idle target gains nothing from a
 * longer wait, and the lag of a source writing without pause stays about
 * this plus the target's commit, not the time limit.  Below both, commits
 * would come too often to let a hot row's updates compose.  The count
 * matters where changes come faster than the age: at the start of a
 * backlog, 50 ms of decoding is thousands of transactions the target would
 * wait for (measured on 20,000 pgbench transactions: 0.67 s against 0.72 s).
 */
#define BATCH_EAGER_MS 50
#define BATCH_EAGER_CHANGES 1000

/*
 * While the target has no commit in flight, the net effect is written as
 * soon as this much row data is held: the target works on a large batch
 * (a large source transaction) while the rest of it is still decoded.
 */
#define BATCH_SPILL_BYTES (1024 * 1024)

typedef struct Generation
{
	NetState *net;
	Ordered *ordered;
	BatchStats stats;
	int64_t held_bytes;	  /* row data held since the last wait */
	int64_t unsent_bytes; /* row data added since the net effect was
						   * last written */
	int64_t started_ms;
	bool started;
	bool ddl;	  /* holds a message pgferry acts on (DDL, sequences) */
	bool awaited; /* holds a marker its writer waits for (verify, cutover) */
	ApplyCounters counters_at_start; /* the applier's, to count rows */
} Generation;

struct Batch
{
	BatchLimits limits;
	Applier *applier;
	BatchMode mode;
	BatchCommitted committed;
	void *committed_arg;

	Generation current;
	Generation committing; /* valid while in_flight */
	bool in_flight;
};

static void
generation_start(Batch *batch, Generation *gen)
{
	memset(gen, 0, sizeof(Generation));
	gen->net = net_create(batch->applier);
	gen->ordered = ordered_create(batch->applier);
	gen->counters_at_start = *apply_counters(batch->applier);
}

static void
generation_free(Generation *gen)
{
	net_destroy(gen->net);
	ordered_destroy(gen->ordered);
	gen->net = NULL;
	gen->ordered = NULL;
}

Batch *
batch_create(const BatchLimits *limits, Applier *applier, BatchMode mode,
			 BatchCommitted committed, void *arg)
{
	Batch *batch = xcalloc(1, sizeof(Batch));

	batch->limits = *limits;
	batch->applier = applier;
	batch->mode = mode;
	batch->committed = committed;
	batch->committed_arg = arg;
	apply_set_net_effect(applier, mode == BATCH_NET);
	generation_start(batch, &batch->current);
	return batch;
}

void
batch_destroy(Batch *batch)
{
	if (batch == NULL)
		return;
	generation_free(&batch->current);
	if (batch->in_flight)
		generation_free(&batch->committing);
	free(batch);
}

void
batch_set_mode(Batch *batch, BatchMode mode)
{
	batch->mode = mode;
	apply_set_net_effect(batch->applier, mode == BATCH_NET);
}

BatchMode
batch_mode(const Batch *batch)
{
	return batch->mode;
}

/*
 * Once the target has answered the commit of the generation in flight
 * (whatever waited for it), says so if it committed, and frees it.  A
 * commit that failed is never reported: its position must not reach the
 * source, nor its figures the summary.
 */
static void
batch_reap(Batch *batch)
{
	if (!batch->in_flight || apply_commit_pending(batch->applier))
		return;
	batch->in_flight = false;
	if (!apply_commit_failed(batch->applier))
		batch->committed(batch->committed_arg, &batch->committing.stats);
	generation_free(&batch->committing);
}

static void
batch_started(Generation *gen)
{
	if (!gen->started)
	{
		gen->started = true;
		gen->started_ms = clock_ms();
	}
}

/*
 * Writes what the current generation holds, waits for the target, and
 * frees the row data: the target transaction stays open.
 */
static bool
batch_drain(Batch *batch)
{
	Generation *gen = &batch->current;
	bool ok = net_flush(gen->net) && ordered_close(gen->ordered) &&
			  apply_sync(batch->applier);

	batch_reap(batch);
	if (!ok)
		return false;
	net_destroy(gen->net);
	gen->net = net_create(batch->applier);
	ordered_free(gen->ordered);
	gen->held_bytes = 0;
	gen->unsent_bytes = 0;
	return true;
}

/* A change written in source order, after what its table holds. */
static bool
batch_in_order(Batch *batch, const Change *change, int64_t *bytes)
{
	Generation *gen = &batch->current;

	return net_flush_table(gen->net, change->rel->oid) &&
		   ordered_add_row(gen->ordered, change, bytes) &&
		   ordered_close(gen->ordered);
}

static bool
batch_add_row(Batch *batch, const Change *change)
{
	Generation *gen = &batch->current;
	int64_t bytes = 0;
	bool ok;

	batch_started(gen);
	if (batch->mode == BATCH_ORDERED)
		ok = ordered_add_row(gen->ordered, change, &bytes);
	else if (!net_keyed(change->rel))
		ok = net_flush_table(gen->net, change->rel->oid) &&
			 ordered_add_row(gen->ordered, change, &bytes);
	else
	{
		NetAdd added = net_add(gen->net, change, &bytes);

		if (added == NET_FLUSH_FIRST)
		{
			ok = net_flush_table(gen->net, change->rel->oid);
			added = ok ? net_add(gen->net, change, &bytes) : NET_ADDED;
		}
		else
			ok = true;
		if (ok && added == NET_IN_ORDER)
			ok = batch_in_order(batch, change, &bytes);
	}
	batch_reap(batch);
	if (!ok)
		return false;
	gen->held_bytes += bytes;
	gen->unsent_bytes += bytes;
	gen->stats.changes++;
	if (bytes > 0)
		gen->stats.bytes += bytes;

	/* the target takes what is held; memory stays bounded */
	if (gen->held_bytes >= batch->limits.bytes)
		return batch_drain(batch);
	if (!batch->in_flight && gen->unsent_bytes >= BATCH_SPILL_BYTES)
	{
		gen->unsent_bytes = 0;
		return net_flush(gen->net);
	}
	return true;
}

/* A barrier: what the batch holds goes first, then change. */
static bool
batch_add_barrier(Batch *batch, const Change *change)
{
	Generation *gen = &batch->current;
	bool ok;

	batch_started(gen);
	gen->ddl |= change->kind == CHANGE_MESSAGE;
	ok = net_flush(gen->net) &&
		 (change->kind == CHANGE_TRUNCATE
			  ? ordered_add_truncate(gen->ordered, change)
			  : ordered_add_message(gen->ordered, change));
	batch_reap(batch);
	return ok;
}

bool
batch_add(Batch *batch, const Change *change)
{
	switch (change->kind)
	{
		case CHANGE_INSERT:
		case CHANGE_UPDATE:
		case CHANGE_DELETE:
			return batch_add_row(batch, change);
		case CHANGE_TRUNCATE:
			return batch_add_barrier(batch, change);
		case CHANGE_MESSAGE:
			if (!apply_message_handled(change->prefix))
			{
				batch->current.awaited |=
					apply_message_awaited(change->prefix);
				apply_message_ignored(batch->applier, change->prefix);
				return true;
			}
			return batch_add_barrier(batch, change);
		default:
			log_error("internal error: change of kind %d is not a row "
					  "change",
					  change->kind);
			return false;
	}
}

void
batch_end_transaction(Batch *batch, Lsn commit_lsn, Lsn end_lsn,
					  int64_t commit_time)
{
	Generation *gen = &batch->current;

	batch_started(gen);
	gen->stats.txns++;
	gen->stats.commit_lsn = commit_lsn;
	gen->stats.end_lsn = end_lsn;
	gen->stats.commit_time = commit_time;
}

bool
batch_has_transactions(const Batch *batch)
{
	return batch->current.stats.txns > 0;
}

bool
batch_idle(const Batch *batch)
{
	return batch->current.stats.txns == 0 && !batch->in_flight;
}

bool
batch_should_commit(const Batch *batch)
{
	const Generation *gen = &batch->current;
	int64_t age = clock_ms() - gen->started_ms;

	/*
	 * A schema change ends its target transaction with its source one:
	 * some take effect only once committed (an enum's new value); so does
	 * a marker, which a cutover waits for inside its read-only window.
	 */
	return gen->stats.txns > 0 &&
		   (gen->ddl || gen->awaited ||
			gen->stats.changes >= (uint64_t) batch->limits.rows ||
			gen->stats.bytes >= (uint64_t) batch->limits.bytes ||
			age >= batch->limits.time_ms ||
			(!batch->in_flight &&
			 (age >= BATCH_EAGER_MS ||
			  gen->stats.changes >= BATCH_EAGER_CHANGES)));
}

bool
batch_push(Batch *batch)
{
	bool ok = apply_push(batch->applier);

	batch_reap(batch);
	return ok;
}

bool
batch_commit(Batch *batch, const ProgressKey *key)
{
	Generation *gen = &batch->current;
	const ApplyCounters *counters = apply_counters(batch->applier);
	bool ok;

	if (gen->stats.txns == 0)
		return true;
	ok = ordered_close(gen->ordered) && net_flush(gen->net);
	gen->stats.rows = counters->rows - gen->counters_at_start.rows;
	gen->stats.statements =
		counters->statements - gen->counters_at_start.statements;
	/* the commit before this one is read first: one in flight at a time */
	ok = ok && apply_finish_commit(batch->applier);
	batch_reap(batch);
	if (!ok || !apply_commit(batch->applier, key, gen->stats.commit_lsn,
							 gen->stats.end_lsn))
		return false;
	gen->stats.elapsed_ms = clock_ms() - gen->started_ms;
	batch->committing = *gen;
	batch->in_flight = true;
	generation_start(batch, gen);
	return true;
}

bool
batch_finish(Batch *batch)
{
	bool ok = apply_finish_commit(batch->applier);

	batch_reap(batch);
	return ok;
}
