-- ddl_between_changes: columns added, dropped and retyped between the
-- changes of one decoding session, and inside one transaction.  Each change
-- is decoded with the table as it was when the change was made, and the
-- Relation frame is sent again before the first change after each
-- alteration, so every row frame matches the Relation frame before it.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgferry;
RESET client_min_messages;

CREATE TABLE evolving (id int PRIMARY KEY, a text);
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'pgferry');

INSERT INTO evolving VALUES (1, 'one');
ALTER TABLE evolving ADD COLUMN b int;
INSERT INTO evolving VALUES (2, 'two', 2);
-- a default stored in the catalog: old rows read it without a rewrite
ALTER TABLE evolving ADD COLUMN c text NOT NULL DEFAULT 'dflt';
UPDATE evolving SET a = 'uno' WHERE id = 1;
ALTER TABLE evolving DROP COLUMN a;
INSERT INTO evolving VALUES (3, 3, 'three');
ALTER TABLE evolving ALTER COLUMN b TYPE text USING b::text || '!';
INSERT INTO evolving VALUES (4, 'four', 'x');
ALTER TABLE evolving RENAME COLUMN c TO see;
UPDATE evolving SET see = 'renamed' WHERE id = 4;
BEGIN;
INSERT INTO evolving VALUES (5, 'five', 'y');
ALTER TABLE evolving ADD COLUMN d int;
INSERT INTO evolving VALUES (6, 'six', 'z', 6);
ALTER TABLE evolving DROP COLUMN d;
INSERT INTO evolving VALUES (7, 'seven', 'w');
COMMIT;

SELECT pgferry.frame_text(data, true)
FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL)
WHERE pgferry.frame_text(data, true) !~ '^(begin|commit|startup)';

-- The same inside a streamed transaction, in binary: the Relation frame is
-- sent again within the stream.
BEGIN;
INSERT INTO evolving SELECT g, repeat('x', 500), 'v' FROM generate_series(101, 300) g;
ALTER TABLE evolving ADD COLUMN e int DEFAULT 0;
INSERT INTO evolving SELECT g, repeat('x', 500), 'v', g FROM generate_series(301, 500) g;
COMMIT;
-- (consecutive frames that print the same are counted as one line)
WITH decoded AS (
	SELECT n, regexp_replace(pgferry.frame_text(data, true), ' new=.*', ' new=(...)') AS frame
	FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL,
		'stream', 'on', 'binary', 'on')
		WITH ORDINALITY AS c(lsn, xid, data, n)
), runs AS (
	SELECT n, frame, n - row_number() OVER (PARTITION BY frame ORDER BY n) AS run
	FROM decoded
)
SELECT frame, count(*) AS frames FROM runs GROUP BY frame, run ORDER BY min(n);

SELECT pg_drop_replication_slot('regression_slot');
DROP TABLE evolving;
