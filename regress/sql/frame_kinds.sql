-- frame_kinds: one of every kind of frame, in the order a consumer sees them.
-- Startup opens every decoding session; the first frame of a transaction
-- (Begin, StreamStart, a Message outside any transaction) carries
-- proto_version; a Relation frame comes before the first row of its table.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgferry;
RESET client_min_messages;

CREATE TABLE kinds (id int PRIMARY KEY, note text);
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'pgferry');

BEGIN;
INSERT INTO kinds VALUES (1, 'one'), (2, 'two');
UPDATE kinds SET note = 'uno' WHERE id = 1;
UPDATE kinds SET id = 3 WHERE id = 2;
DELETE FROM kinds WHERE id = 1;
SELECT 'emitted' FROM pg_logical_emit_message(true, 'kinds', 'inside the transaction');
COMMIT;
SELECT 'emitted' FROM pg_logical_emit_message(false, 'kinds', 'outside any transaction');
TRUNCATE kinds;

SELECT pgferry.frame_text(data, true)
FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL);

-- StreamStart, StreamStop, StreamCommit and StreamAbort: transactions larger
-- than logical_decoding_work_mem (64kB) decoded with stream on, one committed
-- and one rolled back (stream_abort.sql tells more).  Consecutive frames that
-- print the same are counted as one line.
BEGIN;
INSERT INTO kinds SELECT g, repeat('x', 500) FROM generate_series(1, 200) g;
COMMIT;
BEGIN;
INSERT INTO kinds SELECT g, repeat('x', 500) FROM generate_series(1001, 1200) g;
ROLLBACK;
-- WAL of a rollback is flushed lazily: make sure decoding reads to its end
SELECT 'flushed' FROM pg_switch_wal();

WITH frames AS (
	SELECT n, regexp_replace(pgferry.frame_text(data, true), ' new=.*', ' new=(...)') AS frame
	FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL, 'stream', 'on')
		WITH ORDINALITY AS c(lsn, xid, data, n)
), runs AS (
	SELECT n, frame, n - row_number() OVER (PARTITION BY frame ORDER BY n) AS run
	FROM frames
)
SELECT frame, count(*) AS frames FROM runs GROUP BY frame, run ORDER BY min(n);

SELECT pg_drop_replication_slot('regression_slot');
DROP TABLE kinds;
