/*-------------------------------------------------------------------------
 *
 * follow.c
 *	  The follow job: keep the target equal to the source, from a slot.
 *
 * One session is: connect both servers (the task lock's session, the
 * stream's and the target's, all at once), hold the slot's task lock (one
 * process per slot and target), check the slot while the target's state is
 * read, read pgferry.progress, start the stream, then for each frame: decode it; spool it if it belongs to a
 * streamed transaction still in progress; skip it if its transaction is
 * already applied; otherwise hand it to the batch.  The target commits at
 * a source commit when the batch is full or the stream is idle, and only
 * then is the source told the position as flushed.
 *
 * A session that fails on a connection (either side) is torn down, the
 * open target transaction with it; the next session resumes from
 * pgferry.progress, and the walsender sends again whatever was not
 * confirmed.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apply/apply.h"
#include "apply/follow.h"
#include "apply/scope.h"
#include "apply/sequences.h"
#include "apply/tablemetrics.h"
#include "catalog/publication.h"
#include "catalog/tablefilter.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/exit.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/metrics_http.h"
#include "common/thread.h"
#include "state/progress.h"
#include "state/slotwal.h"
#include "state/state.h"
#include "state/tablesync.h"
#include "stream/decode.h"
#include "stream/spool.h"
#include "stream/stream.h"

/*
 * A pause of the stream this long commits what the batch holds.  While the
 * source catches up, frames come in bursts a few milliseconds apart (the
 * walsender decodes while the target commits): committing at each gap
 * would cost a commit per source transaction.
 */
#define FOLLOW_IDLE_COMMIT_MS 20

/* The target's queued statements are pushed out every this many frames. */
#define FOLLOW_PUSH_FRAMES 32

/* Backoff between sessions: doubling from 1 s up to 30 s. */
#define FOLLOW_BACKOFF_MIN_MS 1000
#define FOLLOW_BACKOFF_MAX_MS 30000
/* Failing this long without a working session ends the job. */
#define FOLLOW_GIVE_UP_MS (10 * 60 * 1000)

typedef enum SessionEnd
{
	SESSION_DONE,	/* endpos reached or stop requested */
	SESSION_RETRY,	/* a connection failed: reconnect */
	SESSION_REPLAY, /* write the batch again in source order: reconnect */
	SESSION_FAILED	/* exit with status */
} SessionEnd;

/* pgferry.send_sequences() called in a thread of its own */
typedef struct SequencesCall
{
	const char *source; /* conninfo */
	atomic_bool done;
	bool supported; /* false: the source cannot send them */
} SequencesCall;

typedef struct Follow
{
	const FollowOptions *options;
	const char *publication; /* pgoutput's */
	bool binary;			 /* values asked for in binary form */
	char *include_tables;	 /* the patterns, comma-separated */
	char *exclude_tables;
	TableFilter *filter; /* the same, for the DDL of tables */
	Scope *scope;		 /* the same, for a wider publication's tables */
	int64_t sequences_due;
	bool sequences_off; /* the source cannot send them */
	bool reopening;		/* a session was open: a lost one is reopened */
	SequencesCall sequences;
	pthread_t sequences_thread;
	bool sequences_running; /* the thread is to be joined */

	/* one session */
	Stream *stream;
	PgConn *target;
	Applier *applier;
	Batch *batch;
	ProgressKey key;
	bool received; /* a frame came in this session */

	/* kept across sessions */
	PgConn *task_lock; /* holds the slot's task lock */
	Decoder *decoder;
	Spool *spool;
	Lsn applied_commit; /* recorded: skip transactions at or below */
	Lsn applied_end;
	TableSync *table_sync; /* tables copied after the slot's start */
	Lsn commit_lsn;		   /* of the transaction being received */
	Lsn last_commit;	   /* the highest commit LSN received */
	/*
	 * Transactions committed at or before it are written in source order:
	 * written as their net effect, they failed where source order may not.
	 */
	Lsn ordered_until;
	/*
	 * Transactions committed at or before it are applied one per target
	 * transaction, each waited for: a failure among them is then that of
	 * one source transaction, which its message names.
	 */
	Lsn alone_until;
	bool skip_seen; /* --skip-lsn's transaction was received this session */
	uint64_t applied_txns;
	uint64_t skipped_txns;
	uint64_t changes;		/* row changes applied */
	uint64_t fallbacks;		/* batches written again in source order */
	const char *lost;		/* the server whose connection failed */
	double wal_read_at;		/* clock_seconds() of slot_wal_read(), or 0 */
	ApplyCounters counters; /* of the sessions that ended */
	bool feedback_due;		/* a commit was confirmed since the last one */
	double lag_logged;		/* clock_seconds() of the last lag line, or 0 */

	/* where the stream stands */
	bool startup_seen;
	bool in_transaction; /* between BEGIN and COMMIT */
	bool skipping;		 /* its changes are already on the target */
	bool leaving_out;	 /* it is --skip-lsn's: its changes are dropped */
	uint64_t left_out;	 /* the changes dropped */
	uint32_t stream_xid; /* in a stream block of this xid, or 0 */
	Lsn wal_end;
	int status; /* exit status when SESSION_FAILED */
} Follow;

static volatile sig_atomic_t stop_requests = 0;

static void
follow_signal(int signo)
{
	(void) signo;
	stop_requests++;
}

static SessionEnd
follow_fail(Follow *follow, int status)
{
	follow->status = status;
	return SESSION_FAILED;
}

/* The connection to server ("source", "target") failed: reconnect. */
static SessionEnd
follow_retry(Follow *follow, const char *server)
{
	follow->lost = server;
	return SESSION_RETRY;
}

/*
 * A failure on the target: reconnect if it may pass; write the batch again
 * in source order if it failed out of it; else write it again one source
 * transaction at a time, so that the failure names its transaction; else
 * stop.
 */
static SessionEnd
follow_apply_failed(Follow *follow)
{
	ApplyFailure failure = apply_failure(follow->applier);
	char position[LSN_TEXT_LEN];
	LogFields fields = LOG_FIELDS_INIT;

	if (failure == APPLY_TRANSIENT)
		return follow_retry(follow, "target");
	if (failure == APPLY_ORDER && batch_mode(follow->batch) == BATCH_NET)
	{
		follow->ordered_until = follow->last_commit;
		follow->fallbacks++;
		metrics_set_gauge(METRIC_FALLBACKS, (double) follow->fallbacks);
		log_field(&fields, "lsn", "%s",
				  pg_lsn_format(follow->ordered_until, position));
		log_field_int(&fields, "fallbacks", (long long) follow->fallbacks);
		log_event(LOG_LEVEL_INFO, &fields,
				  "writing the source transactions up to %s again, in "
				  "source order: their net effect failed on a constraint "
				  "that source order may pass (a unique value moved from "
				  "one row to another)",
				  position);
		return SESSION_REPLAY;
	}
	if (follow->last_commit > follow->alone_until)
	{
		/* the batch may hold several: find the one that fails */
		follow->alone_until = follow->last_commit;
		log_info("writing the source transactions up to %s again, one at a "
				 "time, to find the one that fails",
				 pg_lsn_format(follow->alone_until, position));
		return SESSION_REPLAY;
	}
	log_hint("this is the source transaction committed at %s; pgferry "
			 "follow --skip-lsn %s leaves it out (its changes are then "
			 "missing on the target)",
			 pg_lsn_format(follow->commit_lsn, position), position);
	return follow_fail(follow, EXIT_APPLY);
}

/* How the batch writes: source order when asked, or when it must. */
static BatchMode
follow_batch_mode(const Follow *follow, Lsn commit_lsn)
{
	if (follow->options->ordered || apply_fires_triggers(follow->applier) ||
		commit_lsn <= follow->ordered_until)
		return BATCH_ORDERED;
	return BATCH_NET;
}

/* --- committing ------------------------------------------------------------ */

static SessionEnd follow_commit(Follow *follow, bool wait);

/*
 * The source transaction committed at commit_lsn is in the batch: commits
 * when the batch is full, or at once (waiting) while transactions are
 * applied one at a time.
 */
static SessionEnd
follow_transaction_end(Follow *follow, Lsn commit_lsn)
{
	if (commit_lsn <= follow->alone_until)
		return follow_commit(follow, true);
	if (batch_should_commit(follow->batch))
		return follow_commit(follow, false);
	return SESSION_DONE;
}

/*
 * The target has committed a batch: its position may now be reported to
 * the source as flushed.
 */
static void
follow_committed(void *arg, const BatchStats *stats)
{
	Follow *follow = arg;
	char position[LSN_TEXT_LEN];
	uint64_t lag_bytes = follow->wal_end > stats->end_lsn
							 ? (uint64_t) (follow->wal_end - stats->end_lsn)
							 : 0;
	double lag_seconds = (clock_pg_now() - stats->commit_time) / 1e6;

	follow->applied_commit = stats->commit_lsn;
	follow->applied_end = stats->end_lsn;
	follow->applied_txns += stats->txns;
	follow->changes += stats->changes;
	follow->counters.rows += stats->rows;
	follow->counters.statements += stats->statements;
	stream_set_flushed(follow->stream, stats->end_lsn);
	follow->feedback_due = true;
	metrics_add(metrics_series(METRIC_BATCHES, NULL, NULL), 1);
	metrics_observe(METRIC_BATCH_SECONDS, stats->elapsed_ms / 1000.0);
	metrics_set_gauge(METRIC_LAG_BYTES, (double) lag_bytes);
	metrics_set_gauge(METRIC_LAG_SECONDS, lag_seconds);
	metrics_heartbeat();
	if (log_is_verbose())
	{
		LogFields fields = LOG_FIELDS_INIT;

		log_field_int(&fields, "txns", (long long) stats->txns);
		log_field_int(&fields, "changes", (long long) stats->changes);
		log_field_int(&fields, "rows", (long long) stats->rows);
		log_field_int(&fields, "statements", (long long) stats->statements);
		log_field(&fields, "mode", "%s",
				  batch_mode(follow->batch) == BATCH_NET ? "net_effect"
														 : "source_order");
		log_field_int(&fields, "bytes", (long long) stats->bytes);
		log_field_number(&fields, "seconds", stats->elapsed_ms / 1000.0);
		log_field(&fields, "lsn", "%s",
				  pg_lsn_format(stats->end_lsn, position));
		log_field_int(&fields, "lag_bytes", (long long) lag_bytes);
		log_field_number(&fields, "lag_seconds", lag_seconds);
		log_event(
			LOG_LEVEL_VERBOSE, &fields, "applied %" PRIu64 " %s", stats->txns,
			plural((long long) stats->txns, "transaction", "transactions"));
	}
	else if (follow->options->log_lag &&
			 (follow->lag_logged == 0 ||
			  clock_seconds() - follow->lag_logged >= FOLLOW_LAG_LOG_S))
	{
		/* once streaming, this is the only sign of how far behind it is */
		LogFields fields = LOG_FIELDS_INIT;

		log_field(&fields, "lsn", "%s",
				  pg_lsn_format(stats->end_lsn, position));
		log_field_int(&fields, "lag_bytes", (long long) lag_bytes);
		log_field_number(&fields, "lag_seconds", lag_seconds);
		log_event(LOG_LEVEL_INFO, &fields,
				  "streaming: applied up to %s; lag %" PRIu64 " bytes, %.1f s",
				  fields.field[0].value, lag_bytes, lag_seconds);
		follow->lag_logged = clock_seconds();
	}
}

/* Reports what the target has committed, if anything new. */
static SessionEnd
follow_feedback(Follow *follow)
{
	if (!follow->feedback_due)
		return SESSION_DONE;
	follow->feedback_due = false;
	return stream_send_feedback(follow->stream)
			   ? SESSION_DONE
			   : follow_retry(follow, "source");
}

/*
 * Queues the commit of the batch's whole source transactions (the target
 * works on it while the stream is read); with wait, waits until the
 * target has committed it.  Then reports what is committed to the source.
 */
static SessionEnd
follow_commit(Follow *follow, bool wait)
{
	if (batch_has_transactions(follow->batch) &&
		!batch_commit(follow->batch, &follow->key))
		return follow_apply_failed(follow);
	if (wait && !batch_finish(follow->batch))
		return follow_apply_failed(follow);
	return follow_feedback(follow);
}

/*
 * Before the transaction committed at commit_lsn: commits the batch when
 * the way it writes must change (source order ends after a replay).
 */
static SessionEnd
follow_choose_mode(Follow *follow, Lsn commit_lsn)
{
	BatchMode mode = follow_batch_mode(follow, commit_lsn);
	SessionEnd end;

	if (mode == batch_mode(follow->batch))
		return SESSION_DONE;
	end = follow_commit(follow, false);
	if (end == SESSION_DONE)
		batch_set_mode(follow->batch, mode);
	return end;
}

/* Commits what is whole and reports the final position: the end. */
static SessionEnd
follow_finish(Follow *follow)
{
	SessionEnd end = follow_commit(follow, true);

	if (end != SESSION_DONE)
		return end;
	if (!stream_send_feedback(follow->stream))
		return follow_retry(follow, "source");
	return SESSION_DONE;
}

/* --- sequences ------------------------------------------------------------ */

/*
 * Every --sequences-interval, the source sends its sequences' values into
 * the stream (sequences.h).  The session lasts only for that: an open one
 * would be a session that cutover waits for.  It runs in a thread of its
 * own: the stream never waits for its connection (the first one, at the
 * start, would add to every run's time).  A connection that fails is tried
 * again at the next interval: the stream need not stop for it.
 */
static void *
follow_sequences_call(void *arg)
{
	SequencesCall *call = arg;
	PgConn *source = pg_connect(call->source, "source", PG_CONN_SQL, NULL);

	call->supported = source == NULL || sequences_request(source);
	pg_disconnect(source);
	atomic_store(&call->done, true);
	return NULL;
}

/* Waits for the call in flight, if any, and learns what it found. */
static void
follow_sequences_join(Follow *follow)
{
	if (!follow->sequences_running)
		return;
	pthread_join(follow->sequences_thread, NULL);
	follow->sequences_running = false;
	if (!follow->sequences.supported)
		follow->sequences_off = true;
}

static void
follow_sequences(Follow *follow)
{
	int interval = follow->options->sequences_interval_s;

	if (interval <= 0 || follow->sequences_off ||
		clock_ms() < follow->sequences_due)
		return;
	/* a call still connecting: this interval passes */
	if (follow->sequences_running && !atomic_load(&follow->sequences.done))
		return;
	follow_sequences_join(follow);
	if (follow->sequences_off)
		return;
	follow->sequences_due = clock_ms() + interval * INT64_C(1000);
	follow->sequences.source = follow->options->source;
	atomic_store(&follow->sequences.done, false);
	follow->sequences_running = thread_start(
		&follow->sequences_thread, follow_sequences_call, &follow->sequences);
	if (!follow->sequences_running)
	{
		follow_sequences_call(&follow->sequences);
		follow->sequences_off = !follow->sequences.supported;
	}
}

/* --- session setup and teardown ------------------------------------------ */

/*
 * Whether the task lock is still held: a restart of the target ends its
 * session too, and a new one must take the lock again.
 */
static bool
follow_task_lock_held(Follow *follow)
{
	if (follow->task_lock && pg_exec(follow->task_lock, "SELECT 1"))
		return true;
	pg_disconnect(follow->task_lock);
	follow->task_lock = NULL;
	return false;
}

/*
 * Takes the task lock in the session opened for it; only a session that
 * holds it is kept.
 */
static SessionEnd
follow_take_task_lock(Follow *follow, PgConn *conn)
{
	bool busy;

	if (conn == NULL)
		return follow_retry(follow, "target");
	if (state_take_task_lock(conn, follow->options->slot, &busy))
	{
		follow->task_lock = conn;
		return SESSION_DONE;
	}
	pg_disconnect(conn);
	return busy ? follow_fail(follow, EXIT_OTHER)
				: follow_retry(follow, "target");
}

static void
follow_close_session(Follow *follow)
{
	const ApplyCounters *c;

	if (follow->applier)
	{
		c = apply_counters(follow->applier);
		follow->counters.missing_deletes += c->missing_deletes;
		follow->counters.missing_updates += c->missing_updates;
		follow->counters.messages_ignored += c->messages_ignored;
	}
	batch_destroy(follow->batch);
	apply_destroy(follow->applier);
	pg_disconnect(follow->target);
	stream_close(follow->stream);
	follow->batch = NULL;
	follow->applier = NULL;
	follow->target = NULL;
	follow->stream = NULL;
	spool_discard_all(follow->spool);
	decode_reset(follow->decoder);
	follow->startup_seen = false;
	follow->in_transaction = false;
	follow->skipping = false;
	follow->leaving_out = false;
	follow->left_out = 0;
	follow->skip_seen = false;
	follow->stream_xid = 0;
}

static SessionEnd follow_check_startup(Follow *follow,
									   const SourceFacts *facts);

/* A failure on the target session: it may pass on a new one, or not. */
static SessionEnd
follow_target_failed(Follow *follow)
{
	return pg_error_is_transient(follow->target)
			   ? follow_retry(follow, "target")
			   : follow_fail(follow, EXIT_APPLY);
}

/*
 * What the target knows of the task, but the position (which needs the
 * source's identity): pgferry.progress made ready, the tables copied
 * after the slot's start.
 */
static SessionEnd
follow_read_target_state(Follow *follow)
{
	if (!progress_prepare(follow->target))
		return follow_target_failed(follow);
	tablesync_free(follow->table_sync);
	follow->table_sync = tablesync_load(follow->target, follow->options->slot);
	if (follow->table_sync == NULL)
		return follow_target_failed(follow);
	return SESSION_DONE;
}

/*
 * stream_open() and stream_start() in a thread of their own, beside the
 * target's setup: the walsender starts decoding while the target's state
 * is read.  The stream starts where the slot stands; the transactions the
 * target has beyond it (committed there, not yet confirmed to the source)
 * are skipped as they come (follow->applied_commit).
 */
typedef struct StreamOpening
{
	const StreamOptions *options;
	PgConn *conn; /* the stream's, or closed */
	Stream *stream;
	bool started;
	bool transient;
} StreamOpening;

static void *
follow_stream_open(void *arg)
{
	StreamOpening *opening = arg;

	opening->stream =
		stream_open(opening->options, opening->conn, &opening->transient);
	if (opening->stream)
	{
		opening->started = stream_start(opening->stream);
		opening->transient = stream_failure_is_transient(opening->stream);
	}
	return NULL;
}

/*
 * The session's failures that may pass are logged as warnings: the session
 * is reopened after them, and an ERROR line stays for what stops follow.
 */
static void
follow_mark_retried(PgConn *source, PgConn *target)
{
	if (source)
		pg_set_retried(source);
	if (target)
		pg_set_retried(target);
}

static SessionEnd
follow_open_session(Follow *follow)
{
	const FollowOptions *options = follow->options;
	StreamOptions stream_options = {
		options->source,		options->slot,		   options->plugin,
		follow->publication,	options->create_slot,  follow->binary,
		follow->include_tables, follow->exclude_tables};
	enum
	{
		STREAM_REQUEST,
		TARGET_REQUEST,
		LOCK_REQUEST, /* last: left out while the lock is held */
		NREQUESTS
	};
	PgConnRequest requests[NREQUESTS];
	PgConn *source;
	StreamOpening opening;
	pthread_t thread;
	bool threaded;
	char position[LSN_TEXT_LEN];
	SessionEnd end;

	follow->received = false;

	/*
	 * The connections at once: each costs a server process's start, which
	 * would otherwise add up before the first frame.  The lock is taken
	 * before anything is read or written in either.
	 */
	stream_connect_request(&stream_options, &requests[STREAM_REQUEST]);
	requests[TARGET_REQUEST] =
		(PgConnRequest){options->target, "target", PG_CONN_SQL, NULL, NULL};
	requests[LOCK_REQUEST] = (PgConnRequest){
		options->target, "target", PG_CONN_SQL, STATE_TASK_LOCK_OPTIONS, NULL};
	for (int i = 0; i < NREQUESTS; i++)
		requests[i].retried = follow->reopening;
	pg_connect_all(requests,
				   follow_task_lock_held(follow) ? LOCK_REQUEST : NREQUESTS);
	follow->target = requests[TARGET_REQUEST].conn;
	source = requests[STREAM_REQUEST].conn;
	if (follow->task_lock == NULL &&
		(end = follow_take_task_lock(follow, requests[LOCK_REQUEST].conn)) !=
			SESSION_DONE)
	{
		pg_disconnect(source);
		return end;
	}
	if (source == NULL || follow->target == NULL)
	{
		pg_disconnect(source);
		return follow_retry(follow, source == NULL ? "source" : "target");
	}
	/* the sequences' first call overlaps the rest of the setup */
	follow_sequences(follow);

	/* the source's checks and the target's state, side by side */
	opening = (StreamOpening){&stream_options, source, NULL, false, true};
	threaded = thread_start(&thread, follow_stream_open, &opening);
	if (!threaded)
		follow_stream_open(&opening);
	end = follow_read_target_state(follow);
	if (threaded)
		pthread_join(thread, NULL);
	follow->stream = opening.stream;
	if (follow->stream == NULL || !opening.started)
		return opening.transient ? follow_retry(follow, "source")
								 : follow_fail(follow, EXIT_OTHER);
	/* from here on, a lost session is reopened (see ever_connected) */
	follow_mark_retried(source, follow->target);
	pg_set_read_ahead(follow->target, source, FOLLOW_READ_AHEAD_BYTES);
	if (end != SESSION_DONE)
		return end;
	follow->key.slot = options->slot;
	follow->key.system_identifier = stream_system_identifier(follow->stream);
	follow->key.database = stream_database(follow->stream);
	if (!progress_read(follow->target, &follow->key, &follow->applied_commit,
					   &follow->applied_end))
		return follow_target_failed(follow);
	follow->applier = apply_create(follow->target, options->fire_triggers);
	if (follow->applier == NULL)
		return follow_target_failed(follow);
	apply_set_ddl(follow->applier,
				  &(DdlSettings){options->skip_ddl, follow->filter});
	follow->batch =
		batch_create(&options->limits, follow->applier,
					 follow_batch_mode(follow, follow->applied_commit + 1),
					 follow_committed, follow);

	stream_set_flushed(follow->stream, follow->applied_end);
	/* pgoutput sends no Startup: the connection tells the same */
	if (options->plugin == PLUGIN_PGOUTPUT &&
		(end = follow_check_startup(
			 follow, stream_source_facts(follow->stream))) != SESSION_DONE)
		return end;
	if (follow->applied_commit != LSN_INVALID)
		log_info("resuming slot \"%s\" after source transaction committed at "
				 "%s",
				 options->slot,
				 pg_lsn_format(follow->applied_commit, position));
	else
		log_info("streaming slot \"%s\" from its start", options->slot);
	metrics_trouble(NULL);
	return SESSION_DONE;
}

/* --- frames ------------------------------------------------------------ */

static SessionEnd
follow_check_startup(Follow *follow, const SourceFacts *facts)
{
	char system_identifier[32];

	snprintf(system_identifier, sizeof(system_identifier), "%" PRIu64,
			 facts->system_identifier);
	if (strcmp(system_identifier, follow->key.system_identifier) != 0)
	{
		log_error("the stream's source is system %s, not the system %s the "
				  "connection reached",
				  system_identifier, follow->key.system_identifier);
		return follow_fail(follow, EXIT_APPLY);
	}
	if (facts->binary != follow->binary)
	{
		log_error("the source sends %s values; pgferry asked for %s",
				  facts->binary ? "binary" : "text",
				  follow->binary ? "binary" : "text");
		log_hint("the source's pgferry plugin is too old for this applier: "
				 "install the same pgferry version on both sides");
		return follow_fail(follow, EXIT_APPLY);
	}
	if (facts->binary && !facts->integer_datetimes)
	{
		log_error("the source stores timestamps as floating point: their "
				  "binary form cannot be read by the target");
		log_hint("follow this slot with pgferry follow --no-binary (pgferry "
				 "migrate has no such option)");
		return follow_fail(follow, EXIT_APPLY);
	}
	log_verbose("source: PostgreSQL %u, encoding %s, database \"%s\", "
				"plugin %s, %s values",
				facts->server_version_num, facts->server_encoding,
				facts->database, facts->plugin_version,
				facts->binary ? "binary" : "text");
	follow->startup_seen = true;
	/* the target session may be lost meanwhile: that passes on a new one */
	return apply_set_encoding(follow->applier, facts->server_encoding)
			   ? SESSION_DONE
			   : follow_target_failed(follow);
}

/*
 * A spool file failed: a full disk passes once space returns (the spool
 * files go with the session, and the source sends their transactions
 * again); anything else stops the job.  A session that filled the disk
 * did not work, frames or not: the backoff grows, and the job gives up
 * once the disk has stayed full for FOLLOW_GIVE_UP_MS.
 */
static SessionEnd
follow_spool_failed(Follow *follow)
{
	if (!spool_is_full(follow->spool))
		return follow_fail(follow, EXIT_OTHER);
	follow->received = false;
	/* the stream starts again from the slot's position */
	return follow_retry(follow, "source");
}

/* Puts a change of a streamed transaction in its spool file. */
static bool
follow_spool(Follow *follow, const Change *change, const StreamMessage *msg)
{
	uint32_t xid = follow->stream_xid;
	uint32_t subxid = change->xid ? change->xid : xid;

	if (change->rel && !spool_write_relation(follow->spool, xid, change->rel))
		return false;
	for (int i = 0; i < change->nrels; i++)
		if (!spool_write_relation(follow->spool, xid, change->rels[i]))
			return false;
	return spool_write(follow->spool, xid, subxid, msg->data, msg->len);
}

/*
 * --skip-lsn names the commit of the transaction to leave out.  Commits
 * come in LSN order: one past it, when none was at it, means that no
 * transaction of the stream commits there; nothing past it is applied.
 */
static bool
follow_check_skip_lsn(Follow *follow, Lsn commit_lsn)
{
	Lsn skip = follow->options->skip_lsn;
	char position[LSN_TEXT_LEN];
	char next[LSN_TEXT_LEN];

	if (commit_lsn == skip)
		follow->skip_seen = true;
	if (skip == LSN_INVALID || commit_lsn <= skip || follow->skip_seen ||
		skip <= follow->applied_commit)
		return true;
	log_error("--skip-lsn %s is not the commit of a source transaction of "
			  "slot \"%s\": the next one commits at %s",
			  pg_lsn_format(skip, position), follow->options->slot,
			  pg_lsn_format(commit_lsn, next));
	log_hint("give the LSN that the failed transaction's message names; "
			 "nothing was applied past %s",
			 pg_lsn_format(follow->applied_commit, position));
	return false;
}

/* The transaction --skip-lsn names has been dropped: says what it held. */
static void
follow_left_out(Follow *follow, uint32_t xid, Lsn commit_lsn)
{
	char position[LSN_TEXT_LEN];

	log_info("left out source transaction %u committed at %s (--skip-lsn): "
			 "%" PRIu64 " %s not applied",
			 xid, pg_lsn_format(commit_lsn, position), follow->left_out,
			 plural((long long) follow->left_out, "change", "changes"));
	follow->leaving_out = false;
	follow->left_out = 0;
}

typedef struct Replay
{
	Follow *follow;
	Lsn lsn;
	bool decoded; /* false: the failure was decoding */
	bool applied; /* false: the failure was applying it */
} Replay;

/* One spooled frame of a streamed transaction, at its commit. */
static bool
follow_replay_frame(void *arg, const uint8_t *frame, size_t len)
{
	Replay *replay = arg;
	Change change;

	if (!decode_frame(replay->follow->decoder, frame, len, replay->lsn,
					  &change))
	{
		replay->decoded = false;
		return false;
	}
	if (change.kind == CHANGE_RELATION)
	{
		replay->applied = scope_describe(
			replay->follow->scope, replay->follow->task_lock, change.rel);
		return replay->applied;
	}
	if (change.kind == CHANGE_NOTHING ||
		tablesync_skip(replay->follow->table_sync, &change, replay->lsn) ||
		scope_skip(replay->follow->scope, &change))
		return true;
	replay->applied = batch_add(replay->follow->batch, &change);
	return replay->applied;
}

static SessionEnd
follow_stream_commit(Follow *follow, const Change *change)
{
	Replay replay = {follow, change->lsn, true, true};
	uint32_t xid = change->xid;
	Lsn commit_lsn = change->lsn;
	Lsn end_lsn = change->end_lsn;
	char position[LSN_TEXT_LEN];
	int64_t commit_time = change->commit_time;
	bool ok;

	SessionEnd end;

	if (commit_lsn > follow->last_commit)
		follow->last_commit = commit_lsn;
	if (commit_lsn <= follow->applied_commit)
	{
		spool_abort(follow->spool, xid, xid);
		follow->skipped_txns++;
		return SESSION_DONE;
	}
	if (!follow_check_skip_lsn(follow, commit_lsn))
		return follow_fail(follow, EXIT_USAGE);
	follow->commit_lsn = commit_lsn;
	end = follow_choose_mode(follow, commit_lsn);
	if (end != SESSION_DONE)
		return end;
	if (commit_lsn == follow->options->skip_lsn)
	{
		log_info("left out source transaction %u committed at %s "
				 "(--skip-lsn): %" PRIu64 " bytes of streamed changes not "
				 "applied",
				 xid, pg_lsn_format(commit_lsn, position),
				 spool_bytes(follow->spool, xid));
		spool_abort(follow->spool, xid, xid);
		batch_end_transaction(follow->batch, commit_lsn, end_lsn, commit_time);
		return follow_transaction_end(follow, commit_lsn);
	}
	log_verbose("applying streamed transaction %u (%" PRIu64 " bytes spooled)",
				xid, spool_bytes(follow->spool, xid));
	decode_replay_begin(follow->decoder);
	ok = spool_replay(follow->spool, xid, follow_replay_frame, &replay);
	decode_replay_end(follow->decoder);
	if (!ok)
	{
		if (!replay.decoded)
			return follow_fail(follow, EXIT_APPLY);
		if (!replay.applied)
			return follow_apply_failed(follow);
		return follow_spool_failed(follow);
	}
	batch_end_transaction(follow->batch, commit_lsn, end_lsn, commit_time);
	return follow_transaction_end(follow, commit_lsn);
}

static bool
follow_past_endpos(const Follow *follow, Lsn commit_lsn)
{
	return follow->options->endpos != LSN_INVALID &&
		   commit_lsn > follow->options->endpos;
}

/*
 * Handles one frame.  SESSION_DONE means "go on" here, except when
 * *finished is set: the end position is reached.
 */
static SessionEnd
follow_frame(Follow *follow, const StreamMessage *msg, bool *finished)
{
	Change change;

	if (!decode_frame(follow->decoder, msg->data, msg->len, msg->wal_start,
					  &change))
		return follow_fail(follow, EXIT_APPLY);
	if (!follow->startup_seen && change.kind != CHANGE_STARTUP)
	{
		log_error("the stream did not start with a Startup frame");
		return follow_fail(follow, EXIT_APPLY);
	}

	switch (change.kind)
	{
		case CHANGE_STARTUP:
			return follow_check_startup(follow, change.facts);
		case CHANGE_RELATION:
			if (scope_describe(follow->scope, follow->task_lock, change.rel))
				return SESSION_DONE;
			return pg_error_is_transient(follow->task_lock)
					   ? follow_retry(follow, "target")
					   : follow_fail(follow, EXIT_APPLY);
		case CHANGE_NOTHING:
			return SESSION_DONE;
		case CHANGE_BEGIN:
			if (follow_past_endpos(follow, change.lsn))
			{
				*finished = true;
				return follow_finish(follow);
			}
			follow->in_transaction = true;
			follow->skipping = change.lsn <= follow->applied_commit;
			follow->commit_lsn = change.lsn;
			if (change.lsn > follow->last_commit)
				follow->last_commit = change.lsn;
			if (follow->skipping)
				return SESSION_DONE;
			if (!follow_check_skip_lsn(follow, change.lsn))
				return follow_fail(follow, EXIT_USAGE);
			follow->leaving_out = change.lsn == follow->options->skip_lsn;
			return follow_choose_mode(follow, change.lsn);
		case CHANGE_COMMIT:
			follow->in_transaction = false;
			if (follow->skipping)
			{
				follow->skipped_txns++;
				follow->skipping = false;
				return SESSION_DONE;
			}
			if (follow->leaving_out)
				follow_left_out(follow, change.xid, change.lsn);
			batch_end_transaction(follow->batch, change.lsn, change.end_lsn,
								  change.commit_time);
			return follow_transaction_end(follow, change.lsn);
		case CHANGE_STREAM_START:
			follow->stream_xid = change.xid;
			return spool_start(follow->spool, change.xid, change.first_segment)
					   ? SESSION_DONE
					   : follow_spool_failed(follow);
		case CHANGE_STREAM_STOP:
			follow->stream_xid = 0;
			return SESSION_DONE;
		case CHANGE_STREAM_ABORT:
			spool_abort(follow->spool, change.xid, change.subxid);
			return SESSION_DONE;
		case CHANGE_STREAM_COMMIT:
			if (follow_past_endpos(follow, change.lsn))
			{
				*finished = true;
				return follow_finish(follow);
			}
			return follow_stream_commit(follow, &change);
		default:
			break;
	}

	/* a row change, truncate or message */
	if (follow->stream_xid != 0 &&
		(change.kind != CHANGE_MESSAGE || change.transactional))
		return follow_spool(follow, &change, msg)
				   ? SESSION_DONE
				   : follow_spool_failed(follow);
	if (follow->skipping ||
		tablesync_skip(follow->table_sync, &change, follow->commit_lsn) ||
		scope_skip(follow->scope, &change))
		return SESSION_DONE;
	if (follow->leaving_out)
	{
		follow->left_out++;
		return SESSION_DONE;
	}
	if (change.kind == CHANGE_INSERT || change.kind == CHANGE_UPDATE ||
		change.kind == CHANGE_DELETE)
		tablemetrics_received(change.rel, change.kind);
	if (!batch_add(follow->batch, &change))
		return follow_apply_failed(follow);
	return SESSION_DONE;
}

/* --- the loop -------------------------------------------------------------- */

/*
 * What the metrics show between batches: the job is alive, the spool's
 * size, and every SLOT_WAL_WATCH_INTERVAL the WAL the slot holds (read
 * only while the metrics are served: it takes a session on the source).
 */
static void
follow_publish(Follow *follow)
{
	PgConn *source;
	SlotWal wal;

	metrics_heartbeat();
	metrics_set_gauge(METRIC_SPOOL_BYTES,
					  (double) spool_total_bytes(follow->spool));
	if (!metrics_http_serving() ||
		clock_seconds() - follow->wal_read_at < SLOT_WAL_WATCH_INTERVAL)
		return;
	follow->wal_read_at = clock_seconds();
	source = pg_connect(follow->options->source, "source", PG_CONN_SQL, NULL);
	if (source == NULL)
		return;
	slot_wal_read(source, follow->options->slot, &wal);
	pg_disconnect(source);
}

static SessionEnd
follow_session(Follow *follow)
{
	SessionEnd end = follow_open_session(follow);
	uint64_t frames = 0;

	if (end != SESSION_DONE)
		return end;
	for (;;)
	{
		StreamMessage msg;
		StreamEvent event;
		bool finished = false;

		if (stop_requests > 1)
		{
			log_info("stopping now: the open target transaction is rolled "
					 "back and will be applied again on restart");
			return SESSION_DONE;
		}
		if (stop_requests && !follow->in_transaction)
		{
			log_info("stopping on request");
			return follow_finish(follow);
		}

		follow_sequences(follow);
		event = stream_receive(follow->stream, 0, &msg, follow->target);
		if (event == STREAM_IDLE && !follow->in_transaction &&
			batch_has_transactions(follow->batch))
		{
			/* the stream paused: commit unless it goes on at once */
			event = stream_receive(follow->stream, FOLLOW_IDLE_COMMIT_MS, &msg,
								   follow->target);
			if (event == STREAM_IDLE &&
				(end = follow_commit(follow, true)) != SESSION_DONE)
				return end;
		}
		if (event == STREAM_IDLE)
			event = stream_receive(follow->stream, 1000, &msg, follow->target);
		if (event == STREAM_IDLE || event == STREAM_KEEPALIVE)
			follow_publish(follow);
		switch (event)
		{
			case STREAM_IDLE:
				continue;
			case STREAM_FAILED:
				return stream_failure_is_transient(follow->stream)
						   ? follow_retry(follow, "source")
						   : follow_fail(follow, EXIT_OTHER);
			case STREAM_BAD_INPUT:
				return follow_fail(follow, EXIT_APPLY);
			case STREAM_KEEPALIVE:
				if (msg.wal_end > follow->wal_end)
					follow->wal_end = msg.wal_end;
				if (follow->in_transaction || follow->stream_xid)
					continue;
				if (follow->options->endpos != LSN_INVALID &&
					msg.wal_end >= follow->options->endpos)
				{
					if ((end = follow_commit(follow, true)) != SESSION_DONE)
						return end;
					stream_set_flushed(follow->stream, msg.wal_end);
					return follow_finish(follow);
				}

				/*
				 * Everything up to wal_end has been received: once the
				 * target has committed all of it, the slot need not keep
				 * that WAL for us.  A live stream sends a keepalive after
				 * each transaction: the batch commits by its own rules,
				 * not for a keepalive, and the position waits for a
				 * keepalive that finds it committed.
				 */
				if (!batch_push(follow->batch))
					return follow_apply_failed(follow);
				if ((end = follow_feedback(follow)) != SESSION_DONE)
					return end;
				if (batch_idle(follow->batch))
					stream_set_flushed(follow->stream, msg.wal_end);
				continue;
			case STREAM_FRAME:
				follow->received = true;
				if (msg.wal_end > follow->wal_end)
					follow->wal_end = msg.wal_end;
				end = follow_frame(follow, &msg, &finished);
				if (end != SESSION_DONE || finished)
					return end;

				/*
				 * A statement larger than the socket buffer reaches the
				 * target in pieces: send the next one now and then, or the
				 * target waits for it while frames are decoded.  And learn
				 * when the target has committed: the position goes to the
				 * source, and the next batch may commit (batch.h).
				 */
				if (++frames % FOLLOW_PUSH_FRAMES == 0)
				{
					follow_publish(follow);
					if (!batch_push(follow->batch))
						return follow_apply_failed(follow);
					if ((end = follow_feedback(follow)) != SESSION_DONE)
						return end;
				}
				continue;
		}
	}
}

/* Sleeps ms, or less if a stop is requested. */
static void
follow_sleep(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (!stop_requests && nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * $TMPDIR/pgferry-UID-SLOT: the user's id keeps one user's leftover
 * directory from blocking another user's run of the same slot.
 */
char *
follow_default_spool_dir(const char *slot)
{
	const char *tmp = getenv("TMPDIR");
	Buf dir = BUF_INIT;

	buf_printf(&dir, "%s/pgferry-%u-%s", tmp && tmp[0] ? tmp : "/tmp",
			   (unsigned) getuid(), slot);
	return dir.data;
}

static void
follow_summary(const Follow *follow)
{
	char position[LSN_TEXT_LEN];

	if (follow->applied_txns == 0)
		log_info("applied no transaction; skipped %" PRIu64 " already applied",
				 follow->skipped_txns);
	else
		log_info("applied %" PRIu64 " %s up to %s (%" PRIu64
				 " row %s: %" PRIu64 " %s written in %" PRIu64
				 " %s); skipped %" PRIu64 " already applied",
				 follow->applied_txns,
				 plural((long long) follow->applied_txns, "transaction",
						"transactions"),
				 pg_lsn_format(follow->applied_commit, position),
				 follow->changes,
				 plural((long long) follow->changes, "change", "changes"),
				 follow->counters.rows,
				 plural((long long) follow->counters.rows, "row", "rows"),
				 follow->counters.statements,
				 plural((long long) follow->counters.statements, "statement",
						"statements"),
				 follow->skipped_txns);
	if (follow->fallbacks)
		log_info("%" PRIu64 " %s written again in source order",
				 follow->fallbacks,
				 plural((long long) follow->fallbacks, "batch was",
						"batches were"));
	if (follow->counters.missing_deletes)
		log_info("%" PRIu64 " %s found no row on the target (ignored)",
				 follow->counters.missing_deletes,
				 plural((long long) follow->counters.missing_deletes, "delete",
						"deletes"));
	if (follow->counters.missing_updates)
		log_info("%" PRIu64 " %s found no row on the target and inserted "
				 "the whole row",
				 follow->counters.missing_updates,
				 plural((long long) follow->counters.missing_updates, "update",
						"updates"));
}

void
follow_options_init(FollowOptions *options)
{
	memset(options, 0, sizeof(FollowOptions));
	options->binary = true;
	options->limits.rows = FOLLOW_DEFAULT_BATCH_ROWS;
	options->limits.bytes = FOLLOW_DEFAULT_BATCH_BYTES;
	options->limits.time_ms = FOLLOW_DEFAULT_BATCH_TIME_MS;
	options->sequences_interval_s = SEQUENCES_DEFAULT_INTERVAL_S;
}

/* The patterns as the plugin's option wants them, or NULL for none. */
static char *
follow_join_patterns(const char *const *patterns, int count)
{
	Buf list = BUF_INIT;

	for (int i = 0; i < count; i++)
		buf_printf(&list, "%s%s", i ? "," : "", patterns[i]);
	return list.data;
}

/*
 * pgoutput's publication, created before the slot's first change when
 * absent (a slot made now starts after it).
 */
static int
follow_publication(const Follow *follow)
{
	const FollowOptions *options = follow->options;
	PgConn *source;
	TableFilter *filter;
	bool ok;

	filter = tablefilter_compile(options->include_tables, options->ninclude,
								 options->exclude_tables, options->nexclude);
	if (filter == NULL)
		return EXIT_USAGE;
	source = pg_connect(options->source, "source", PG_CONN_SQL, NULL);
	if (source == NULL)
	{
		tablefilter_free(filter);
		return EXIT_CONNECTION;
	}
	ok =
		publication_ensure(source, follow->publication, options->slot, filter);
	pg_disconnect(source);
	tablefilter_free(filter);
	return ok ? EXIT_DONE : EXIT_OTHER;
}

int
follow_run(const FollowOptions *options)
{
	Follow follow = {0};
	struct sigaction action = {0};
	char *spool_dir = options->spool_dir
						  ? xstrdup(options->spool_dir)
						  : follow_default_spool_dir(options->slot);
	int backoff = FOLLOW_BACKOFF_MIN_MS;
	int64_t failing_since = 0;
	bool ever_connected = false;
	int status = EXIT_DONE;

	action.sa_handler = follow_signal;
	sigemptyset(&action.sa_mask);
	sigaction(SIGINT, &action, NULL);
	sigaction(SIGTERM, &action, NULL);
	signal(SIGPIPE, SIG_IGN);

	follow.options = options;
	follow.include_tables =
		follow_join_patterns(options->include_tables, options->ninclude);
	follow.exclude_tables =
		follow_join_patterns(options->exclude_tables, options->nexclude);
	follow.task_lock = options->task_lock;
	follow.publication =
		options->publication ? options->publication : options->slot;
	/* pgoutput's binary values of user types name their source OIDs */
	follow.binary = options->binary && options->plugin == PLUGIN_PGFERRY;
	if (options->plugin == PLUGIN_PGOUTPUT &&
		(status = follow_publication(&follow)) != EXIT_DONE)
	{
		pg_disconnect(follow.task_lock);
		free(follow.include_tables);
		free(follow.exclude_tables);
		return status;
	}
	follow.decoder = decode_create(options->plugin);
	follow.spool = spool_open(spool_dir);
	free(spool_dir);
	follow.filter =
		tablefilter_compile(options->include_tables, options->ninclude,
							options->exclude_tables, options->nexclude);
	if (follow.filter && options->plugin == PLUGIN_PGOUTPUT &&
		options->ninclude + options->nexclude > 0)
		follow.scope = scope_create(follow.filter, follow.publication);
	if (follow.spool == NULL || follow.filter == NULL)
	{
		spool_close(follow.spool);
		tablefilter_free(follow.filter);
		pg_disconnect(follow.task_lock);
		decode_destroy(follow.decoder);
		free(follow.include_tables);
		free(follow.exclude_tables);
		return EXIT_OTHER;
	}

	for (;;)
	{
		SessionEnd end = follow_session(&follow);
		LogFields fields = LOG_FIELDS_INIT;

		if (follow.stream && follow.target)
			ever_connected = follow.reopening = true;
		follow_close_session(&follow);
		if (end == SESSION_DONE)
			break;
		if (end == SESSION_FAILED)
		{
			status = follow.status;
			break;
		}
		if (end == SESSION_REPLAY)
			continue; /* at once: nothing failed but the order */
		/* SESSION_RETRY */
		if (!ever_connected)
		{
			status = EXIT_CONNECTION;
			break;
		}
		if (follow.received || failing_since == 0)
		{
			failing_since = clock_ms();
			backoff = FOLLOW_BACKOFF_MIN_MS;
		}
		if (clock_ms() - failing_since > FOLLOW_GIVE_UP_MS)
		{
			log_error("giving up: no working session for %d minutes",
					  FOLLOW_GIVE_UP_MS / 60000);
			status = EXIT_CONNECTION;
			break;
		}
		metrics_add(metrics_series(METRIC_RECONNECTS, follow.lost, NULL), 1);
		metrics_trouble(strcmp(follow.lost, "target") == 0
							? "reconnecting to the target"
							: "reconnecting to the source");
		log_field(&fields, "server", "%s", follow.lost);
		log_field_int(&fields, "seconds", backoff / 1000);
		log_event(LOG_LEVEL_INFO, &fields, "reconnecting in %d s",
				  backoff / 1000);
		follow_sleep(backoff);
		if (stop_requests)
			break;
		backoff = backoff * 2 > FOLLOW_BACKOFF_MAX_MS ? FOLLOW_BACKOFF_MAX_MS
													  : backoff * 2;
	}

	follow_sequences_join(&follow);
	if (ever_connected)
		follow_summary(&follow);
	tablesync_free(follow.table_sync);
	spool_close(follow.spool);
	pg_disconnect(follow.task_lock);
	decode_destroy(follow.decoder);
	tablefilter_free(follow.filter);
	scope_free(follow.scope);
	free(follow.include_tables);
	free(follow.exclude_tables);
	return status;
}
