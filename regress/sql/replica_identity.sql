-- replica_identity: what the old tuple of an UPDATE or DELETE holds under
-- each replica identity, and which columns the Relation frame marks as key.
--   DEFAULT: the primary key, sent on UPDATE only when the key changed
--   USING INDEX: the columns of that unique index, likewise
--   FULL: the whole old row, always
--   NOTHING (and DEFAULT without a primary key): no old tuple at all
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgferry;
RESET client_min_messages;

CREATE TABLE ri_default (id int PRIMARY KEY, a text, b int);
CREATE TABLE ri_index (id int, code text NOT NULL, a text);
CREATE UNIQUE INDEX ri_index_code ON ri_index (code);
ALTER TABLE ri_index REPLICA IDENTITY USING INDEX ri_index_code;
CREATE TABLE ri_full (id int PRIMARY KEY, a text, b int);
ALTER TABLE ri_full REPLICA IDENTITY FULL;
CREATE TABLE ri_nothing (id int PRIMARY KEY, a text);
ALTER TABLE ri_nothing REPLICA IDENTITY NOTHING;
CREATE TABLE ri_no_key (id int, a text);
INSERT INTO ri_default VALUES (1, 'one', 10), (2, 'two', 20);
INSERT INTO ri_index VALUES (1, 'c1', 'one'), (2, 'c2', 'two');
INSERT INTO ri_full VALUES (1, 'one', 10), (2, 'two', 20);
INSERT INTO ri_nothing VALUES (1, 'one'), (2, 'two');
INSERT INTO ri_no_key VALUES (1, 'one'), (2, 'two');

SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'pgferry');

UPDATE ri_default SET a = 'uno' WHERE id = 1;
UPDATE ri_default SET id = 3 WHERE id = 2;
DELETE FROM ri_default WHERE id = 1;

UPDATE ri_index SET a = 'uno' WHERE id = 1;
UPDATE ri_index SET code = 'c3' WHERE id = 2;
DELETE FROM ri_index WHERE id = 1;

UPDATE ri_full SET a = 'uno' WHERE id = 1;
UPDATE ri_full SET id = 3 WHERE id = 2;
DELETE FROM ri_full WHERE id = 1;

UPDATE ri_nothing SET a = 'uno' WHERE id = 1;
DELETE FROM ri_nothing WHERE id = 1;

UPDATE ri_no_key SET a = 'uno' WHERE id = 1;
DELETE FROM ri_no_key WHERE id = 1;

SELECT pgferry.frame_text(data, true)
FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL)
WHERE pgferry.frame_text(data, true) !~ '^(begin|commit|startup)';

SELECT pg_drop_replication_slot('regression_slot');
DROP TABLE ri_default, ri_index, ri_full, ri_nothing, ri_no_key;
