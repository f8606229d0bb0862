-- skip_empty_xacts (on by default): a transaction with nothing to send
-- (DDL only, or all its changes rolled back to a savepoint) sends no
-- frames.  Off, each sends Begin and Commit.  (A transaction that wrote
-- only to unlogged or temporary tables is not decoded at all: they have no
-- WAL to decode.)
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgferry;
RESET client_min_messages;

CREATE TABLE se_t (id int PRIMARY KEY);
CREATE UNLOGGED TABLE se_unlogged (id int PRIMARY KEY);
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'pgferry');

CREATE TABLE se_ddl_only (id int);
INSERT INTO se_unlogged VALUES (1);
BEGIN;
SAVEPOINT s;
INSERT INTO se_t VALUES (0);
ROLLBACK TO SAVEPOINT s;
COMMIT;
INSERT INTO se_t VALUES (1);

SELECT pgferry.frame_text(data, true)
FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL);
SELECT pgferry.frame_text(data, true)
FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL, 'skip_empty_xacts', 'off');
SELECT count(*) AS frames
FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL, 'skip_empty_xacts', 'on');

SELECT pg_drop_replication_slot('regression_slot');
DROP TABLE se_t, se_unlogged, se_ddl_only;
