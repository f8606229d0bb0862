-- extension: CREATE EXTENSION pgferry installs schema pgferry and
-- pgferry.frame_text, DROP EXTENSION removes both; frame_text refuses what
-- is not a frame it can read.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS pgferry;
RESET client_min_messages;

CREATE EXTENSION pgferry;
SELECT pg_describe_object(classid, objid, objsubid) AS member
FROM pg_depend
WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
	AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pgferry')
ORDER BY 1;
SELECT extversion, extnamespace::regnamespace FROM pg_extension WHERE extname = 'pgferry';

-- Not a protobuf message at all: a field tag with a truncated varint.
SELECT pgferry.frame_text('\x08ff'::bytea);
-- A valid protobuf message, but not a Frame: required fields are missing
-- (a Begin with nothing but its xid).
SELECT pgferry.frame_text('\x080122020801'::bytea);
-- A Frame of no kind (the empty message).
SELECT pgferry.frame_text(''::bytea);

-- A real Begin frame, then the same frame claiming protocol version 2.
CREATE TABLE ext_t (id int PRIMARY KEY);
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'pgferry');
INSERT INTO ext_t VALUES (1);
CREATE TEMP TABLE frames AS
	SELECT n, data FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL)
		WITH ORDINALITY AS c(lsn, xid, data, n);
SELECT pg_drop_replication_slot('regression_slot');
SELECT pgferry.frame_text(data, true) FROM frames WHERE n = 2;
-- proto_version is field 1, a varint: the frame starts with 0x08 0x01
SELECT substr(data, 1, 2) AS header FROM frames WHERE n = 2;
SELECT pgferry.frame_text(set_byte(data, 1, 2), true) FROM frames WHERE n = 2;
-- A frame cut short (its length, in the detail, varies with its values).
\set VERBOSITY terse
SELECT pgferry.frame_text(substr(data, 1, length(data) - 1)) FROM frames WHERE n = 2;
\set VERBOSITY default
-- masked defaults to false: the real values appear
SELECT pgferry.frame_text(data) ~
	'^begin proto_version=1 xid=\d+ final_lsn=[0-9A-F]+/[0-9A-F]+ commit_time=''[^'']+''$'
	AS shows_values
FROM frames WHERE n = 2;
-- STRICT: NULL in, NULL out
SELECT pgferry.frame_text(NULL) IS NULL AS is_null;
DROP TABLE frames, ext_t;

-- DROP EXTENSION leaves nothing behind, the schema included.
DROP EXTENSION pgferry;
SELECT count(*) AS functions_left FROM pg_proc WHERE proname = 'frame_text';
SELECT count(*) AS schemas_left FROM pg_namespace WHERE nspname = 'pgferry';
CREATE EXTENSION pgferry;
