-- prepared_transactions: without two-phase decoding (the default for a
-- slot) a prepared transaction is decoded when COMMIT PREPARED commits it,
-- like any transaction; one rolled back with ROLLBACK PREPARED never is.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgferry;
RESET client_min_messages;

CREATE TABLE prepared (id int PRIMARY KEY, note text);
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'pgferry');

BEGIN;
INSERT INTO prepared VALUES (1, 'prepared, then committed');
PREPARE TRANSACTION 'pgferry_p1';
BEGIN;
INSERT INTO prepared VALUES (2, 'prepared, then rolled back');
PREPARE TRANSACTION 'pgferry_p2';
INSERT INTO prepared VALUES (3, 'committed while p1 waits');
-- only the committed transaction: the prepared ones are not decided yet
SELECT pgferry.frame_text(data, true)
FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL);

COMMIT PREPARED 'pgferry_p1';
ROLLBACK PREPARED 'pgferry_p2';
SELECT pgferry.frame_text(data, true)
FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL);

-- a large prepared transaction is streamed like any other (consecutive
-- frames that print the same are counted as one line)
BEGIN;
INSERT INTO prepared SELECT g, repeat('p', 500) FROM generate_series(1001, 1200) g;
PREPARE TRANSACTION 'pgferry_p3';
COMMIT PREPARED 'pgferry_p3';
WITH decoded AS (
	SELECT n, regexp_replace(pgferry.frame_text(data, true), ' new=.*', ' new=(...)') AS frame
	FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL, 'stream', 'on')
		WITH ORDINALITY AS c(lsn, xid, data, n)
), runs AS (
	SELECT n, frame, n - row_number() OVER (PARTITION BY frame ORDER BY n) AS run
	FROM decoded
)
SELECT frame, count(*) AS frames FROM runs GROUP BY frame, run ORDER BY min(n);

SELECT pg_drop_replication_slot('regression_slot');
DROP TABLE prepared;
