-- messages: pg_logical_emit_message() as Message frames.  A transactional
-- message belongs to its transaction (it opens it like a change, and goes
-- away with a rollback); a non-transactional one stands alone, carries the
-- protocol version, and is sent even when its transaction rolls back.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgferry;
RESET client_min_messages;

CREATE TABLE msg_t (id int PRIMARY KEY);
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'pgferry');

SELECT 'emitted' FROM pg_logical_emit_message(true, 'app', 'a transaction of one message');
SELECT 'emitted' FROM pg_logical_emit_message(false, 'app', 'on its own');
BEGIN;
INSERT INTO msg_t VALUES (1);
SELECT 'emitted' FROM pg_logical_emit_message(true, 'app', 'after the insert');
SELECT 'emitted' FROM pg_logical_emit_message(false, 'app', 'sent at once, before the transaction');
COMMIT;
BEGIN;
SELECT 'emitted' FROM pg_logical_emit_message(true, 'app', 'rolled back');
SELECT 'emitted' FROM pg_logical_emit_message(false, 'app', 'kept despite the rollback');
ROLLBACK;
-- content is bytes: zero bytes and bytes that are not text show in hex
SELECT 'emitted' FROM pg_logical_emit_message(true, 'bin', '\x00010203'::bytea);
SELECT 'emitted' FROM pg_logical_emit_message(true, 'bin', '\xff'::bytea);
SELECT 'emitted' FROM pg_logical_emit_message(true, '', '');
SELECT 'emitted' FROM pg_logical_emit_message(true, 'ünïcödé', 'ünïcödé ''quoted''');

SELECT pgferry.frame_text(data, true)
FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL);

-- messages are not subject to table filters
SELECT pgferry.frame_text(data, true)
FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL,
	'include_tables', 'nosuchschema.*')
WHERE pgferry.frame_text(data, true) ~ '^(message|insert)';

SELECT pg_drop_replication_slot('regression_slot');
DROP TABLE msg_t;
