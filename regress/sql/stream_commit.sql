-- stream_commit: with stream on, a transaction larger than
-- logical_decoding_work_mem (64kB) is sent in blocks before it commits:
-- StreamStart .. StreamStop, again and again, then StreamCommit.  Every frame
-- of a block carries frame_xid; each streamed transaction gets its own
-- Relation frames, since a consumer applies it only when it commits.
-- Consecutive frames that print the same are counted as one line.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgferry;
RESET client_min_messages;

CREATE TABLE stream_t (id int PRIMARY KEY, payload text);
CREATE TABLE stream_side (id int PRIMARY KEY);
INSERT INTO stream_side VALUES (1);
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'pgferry');

CREATE FUNCTION frame_runs(VARIADIC options text[])
RETURNS TABLE (frame text, frames bigint) LANGUAGE sql AS $$
	WITH decoded AS (
		SELECT n, regexp_replace(pgferry.frame_text(data, true), ' new=.*', ' new=(...)') AS frame
		FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL, VARIADIC options)
			WITH ORDINALITY AS c(lsn, xid, data, n)
	), runs AS (
		SELECT n, frame, n - row_number() OVER (PARTITION BY frame ORDER BY n) AS run
		FROM decoded
	)
	SELECT frame, count(*) FROM runs GROUP BY frame, run ORDER BY min(n)
$$;

-- a small transaction first: its Relation frame is sent outside any stream
INSERT INTO stream_t VALUES (0, 'small');
BEGIN;
SELECT 'emitted' FROM pg_logical_emit_message(true, 'stream', 'in the stream');
INSERT INTO stream_t SELECT g, repeat('x', 500) FROM generate_series(1, 400) g;
UPDATE stream_t SET payload = 'updated' WHERE id = 1;
DELETE FROM stream_t WHERE id = 2;
COMMIT;
SELECT * FROM frame_runs('stream', 'on');

-- PostgreSQL counts what it streamed
SELECT stream_txns > 0 AS streamed, stream_count > 1 AS in_blocks,
	spill_txns = 0 AS not_spilled
FROM pg_stat_replication_slots WHERE slot_name = 'regression_slot';

-- Nothing is lost in the blocks: every change of the transaction arrived.
BEGIN;
INSERT INTO stream_t SELECT g, repeat('y', 500) FROM generate_series(1001, 1400) g;
COMMIT;
SELECT count(*) FILTER (WHERE frame LIKE 'insert%') AS inserts,
	count(*) FILTER (WHERE frame LIKE 'insert frame_xid=* public.stream_t new=(''1001'',%') AS first,
	count(*) FILTER (WHERE frame LIKE 'insert frame_xid=* public.stream_t new=(''1400'',%') AS last,
	count(*) FILTER (WHERE frame LIKE 'insert%' AND frame NOT LIKE '%frame_xid=*%') AS without_xid
FROM (SELECT pgferry.frame_text(data, true) AS frame
	FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL, 'stream', 'on')) AS f;

-- With stream off (the default) a like transaction comes whole at commit.
BEGIN;
INSERT INTO stream_t SELECT g, repeat('z', 500) FROM generate_series(2001, 2400) g;
COMMIT;
SELECT * FROM frame_runs('stream', 'off');

-- A TRUNCATE in a streamed transaction.  (Decoded last here: when a later
-- session reads a streamed transaction that changed the catalogs again from
-- before its start, PostgreSQL streams it once more and then aborts the
-- stream, since it was sent already; a consumer discards it like any
-- aborted stream.)
BEGIN;
INSERT INTO stream_t SELECT g, repeat('t', 500) FROM generate_series(3001, 3200) g;
TRUNCATE stream_side;
INSERT INTO stream_side VALUES (2);
COMMIT;
SELECT * FROM frame_runs('stream', 'on');

SELECT pg_drop_replication_slot('regression_slot');
DROP FUNCTION frame_runs(text[]);
DROP TABLE stream_t, stream_side;
