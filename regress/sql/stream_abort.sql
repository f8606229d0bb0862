-- stream_abort: a streamed transaction, or a subtransaction of it, that
-- rolls back ends with StreamAbort(xid, subxid); the consumer discards the
-- frames whose frame_xid is subxid (all of the transaction's when subxid =
-- xid).  Relation frames in a stream carry the top-level xid, so aborting a
-- subtransaction never takes them away.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgferry;
RESET client_min_messages;

CREATE TABLE stream_t (id int PRIMARY KEY, payload text);
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'pgferry');

-- A subtransaction rolled back after part of it was streamed.  The rows'
-- xmin tell the xids of the transaction and its subtransactions, which the
-- output below names top, sub1, sub2 and sub3.
BEGIN;
INSERT INTO stream_t VALUES (1, 'top');
SELECT xmin AS top_xid FROM stream_t WHERE id = 1 \gset
SAVEPOINT s1;
INSERT INTO stream_t SELECT g, repeat('x', 500) FROM generate_series(1001, 1200) g;
SELECT xmin AS sub1_xid FROM stream_t WHERE id = 1001 \gset
ROLLBACK TO SAVEPOINT s1;
INSERT INTO stream_t VALUES (2, 'after rollback to s1');
SELECT xmin AS sub2_xid FROM stream_t WHERE id = 2 \gset
RELEASE SAVEPOINT s1;
SAVEPOINT s2;
INSERT INTO stream_t VALUES (3, 'in released s2');
SELECT xmin AS sub3_xid FROM stream_t WHERE id = 3 \gset
RELEASE SAVEPOINT s2;
COMMIT;

WITH decoded AS (
	SELECT n, pgferry.frame_text(data, true) AS frame, pgferry.frame_text(data) AS raw
	FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL, 'stream', 'on')
		WITH ORDINALITY AS c(lsn, xid, data, n)
), named AS (
	SELECT n, regexp_replace(frame, ' new=.*', ' new=(...)') AS frame,
		CASE (regexp_match(raw, ' frame_xid=(\d+)'))[1]
			WHEN :'top_xid' THEN 'top' WHEN :'sub1_xid' THEN 'sub1'
			WHEN :'sub2_xid' THEN 'sub2' WHEN :'sub3_xid' THEN 'sub3' END AS frame_xid,
		CASE (regexp_match(raw, ' subxid=(\d+)'))[1]
			WHEN :'top_xid' THEN 'top' WHEN :'sub1_xid' THEN 'sub1'
			WHEN :'sub2_xid' THEN 'sub2' WHEN :'sub3_xid' THEN 'sub3' END AS aborts
	FROM decoded
), runs AS (
	SELECT n, frame, frame_xid, aborts,
		n - row_number() OVER (PARTITION BY frame, frame_xid ORDER BY n) AS run
	FROM named
)
SELECT frame, frame_xid, aborts, count(*) AS frames
FROM runs GROUP BY frame, frame_xid, aborts, run ORDER BY min(n);

-- A whole transaction rolled back after part of it was streamed.  Decoding
-- reads it after the rollback: PostgreSQL stops streaming a transaction it
-- finds aborted as soon as decoding it needs the catalogs, so a committed
-- change to the same table is decoded first, which leaves everything the
-- rolled-back rows need in the caches.
INSERT INTO stream_t VALUES (4, 'warms the caches');
BEGIN;
INSERT INTO stream_t SELECT g, repeat('x', 500) FROM generate_series(2001, 2200) g;
ROLLBACK;
-- WAL of a rollback is flushed lazily: make sure decoding reads to its end
SELECT 'flushed' FROM pg_switch_wal();

WITH decoded AS (
	SELECT n, regexp_replace(pgferry.frame_text(data, true), ' new=.*', ' new=(...)') AS frame,
		(regexp_match(pgferry.frame_text(data), 'stream_abort xid=(\d+) subxid=(\d+)')) AS abort
	FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL, 'stream', 'on')
		WITH ORDINALITY AS c(lsn, xid, data, n)
), runs AS (
	SELECT n, frame, abort, n - row_number() OVER (PARTITION BY frame ORDER BY n) AS run
	FROM decoded
)
SELECT frame, abort[1] = abort[2] AS whole_transaction, count(*) AS frames
FROM runs GROUP BY frame, abort, run ORDER BY min(n);

-- Rolled back before any of it was decoded, decoded by a new backend whose
-- caches are cold: no change is streamed, and the empty stream block is not
-- sent at all.
\c
BEGIN;
INSERT INTO stream_t SELECT g, repeat('x', 500) FROM generate_series(3001, 3200) g;
ROLLBACK;
SELECT 'flushed' FROM pg_switch_wal();
SELECT pgferry.frame_text(data, true)
FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL, 'stream', 'on');

SELECT pg_drop_replication_slot('regression_slot');
DROP TABLE stream_t;
