-- spill_to_disk: with stream off, a transaction larger than
-- logical_decoding_work_mem (64kB) is spilled to disk by PostgreSQL until it
-- commits, then sent whole, every change in order.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgferry;
RESET client_min_messages;

CREATE TABLE spilled (id int PRIMARY KEY, payload text);
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'pgferry');

BEGIN;
INSERT INTO spilled SELECT g, repeat('s', 200) FROM generate_series(1, 2000) g;
UPDATE spilled SET payload = 'updated' WHERE id % 500 = 0;
COMMIT;

CREATE TEMP TABLE frames AS
	SELECT n, pgferry.frame_text(data, true) AS frame
	FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL)
		WITH ORDINALITY AS c(lsn, xid, data, n);
SELECT frame FROM frames WHERE frame !~ '^(insert|update)' ORDER BY n;
SELECT count(*) FILTER (WHERE frame LIKE 'insert%') AS inserts,
	count(*) FILTER (WHERE frame LIKE 'update%') AS updates
FROM frames;
-- in order: insert i is frame i + 3 (after Startup, Begin and Relation)
SELECT count(*) AS inserts_in_order FROM frames
WHERE frame = format('insert public.spilled new=(''%s'', ''%s'')', n - 3, repeat('s', 200));
SELECT frame FROM frames WHERE frame LIKE 'update%' ORDER BY n;

SELECT spill_txns > 0 AS spilled, spill_count > 0 AS spill_count,
	spill_bytes > 65536 AS spill_bytes, stream_txns = 0 AS not_streamed
FROM pg_stat_replication_slots WHERE slot_name = 'regression_slot';

SELECT pg_drop_replication_slot('regression_slot');
DROP TABLE spilled, frames;
