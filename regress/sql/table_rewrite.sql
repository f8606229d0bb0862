-- table_rewrite: VACUUM FULL, CLUSTER and a rewriting ALTER TABLE copy the
-- table into new files; the rows they copy are not changes and are never
-- sent.  The next change finds the table rewritten and its Relation frame
-- is sent again (with the new column type after ALTER TYPE).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgferry;
RESET client_min_messages;

CREATE TABLE rewritten (id int PRIMARY KEY, v text);
INSERT INTO rewritten VALUES (1, 'one'), (2, 'two'), (3, 'three');
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'pgferry');

UPDATE rewritten SET v = 'before' WHERE id = 1;
VACUUM FULL rewritten;
UPDATE rewritten SET v = 'after vacuum full' WHERE id = 1;
CLUSTER rewritten USING rewritten_pkey;
UPDATE rewritten SET v = 'after cluster' WHERE id = 2;
ALTER TABLE rewritten ALTER COLUMN id TYPE bigint;
UPDATE rewritten SET v = 'after alter type' WHERE id = 3;
ALTER TABLE rewritten ADD COLUMN stamp int NOT NULL DEFAULT (random() * 0)::int;
DELETE FROM rewritten WHERE id = 3;

SELECT pgferry.frame_text(data, true)
FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL, 'binary', 'on')
WHERE pgferry.frame_text(data, true) !~ '^(startup)';

SELECT pg_drop_replication_slot('regression_slot');
DROP TABLE rewritten;
