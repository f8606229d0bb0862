-- origin_filters: changes replayed by a replication origin (an applier that
-- called pg_replication_origin_session_setup) can be skipped with
-- skip_origin, naming the origin or '*' for every origin, so two-way and
-- chained setups do not send changes back where they came from.
-- include_origin puts the origin's name and LSN on Begin.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgferry;
RESET client_min_messages;

CREATE TABLE origin_t (id int PRIMARY KEY, source text);
SELECT 'created' FROM pg_replication_origin_create('pgferry_upstream');
SELECT 'created' FROM pg_replication_origin_create('pgferry_other');
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'pgferry');

INSERT INTO origin_t VALUES (1, 'local');
SELECT pg_replication_origin_session_setup('pgferry_upstream');
BEGIN;
SELECT pg_replication_origin_xact_setup('0/ABCDEF', '2000-01-01 00:00:00+00');
INSERT INTO origin_t VALUES (2, 'from upstream');
COMMIT;
SELECT 'emitted' FROM pg_logical_emit_message(false, 'origin', 'from upstream');
SELECT pg_replication_origin_session_reset();
INSERT INTO origin_t VALUES (3, 'local');

SELECT pgferry.frame_text(data, true)
FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL)
WHERE pgferry.frame_text(data, true) !~ '^(startup|relation)';
SELECT pgferry.frame_text(data, true)
FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL, 'include_origin', 'on')
WHERE pgferry.frame_text(data, true) ~ '^begin';
SELECT pgferry.frame_text(data, true)
FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL, 'skip_origin', 'pgferry_upstream')
WHERE pgferry.frame_text(data, true) !~ '^(startup|relation)';
SELECT pgferry.frame_text(data, true)
FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL, 'skip_origin', '*')
WHERE pgferry.frame_text(data, true) !~ '^(startup|relation)';
SELECT pgferry.frame_text(data, true)
FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL,
	'skip_origin', 'pgferry_other', 'include_origin', 'on')
WHERE pgferry.frame_text(data, true) !~ '^(startup|relation)';

SELECT pg_drop_replication_slot('regression_slot');
SELECT pg_replication_origin_drop('pgferry_upstream');
SELECT pg_replication_origin_drop('pgferry_other');
DROP TABLE origin_t;
