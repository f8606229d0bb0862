-- bad_options: every option name and value the plugin refuses, each with
-- the error that names the option and the fix.  Nothing is decoded.  (An
-- option without a value, which only START_REPLICATION can send, means on
-- for a boolean and is refused for the others.)
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgferry;
RESET client_min_messages;

SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'pgferry');
\set VERBOSITY default
\set SHOW_CONTEXT never
CREATE FUNCTION try_options(VARIADIC options text[]) RETURNS bigint LANGUAGE sql AS $$
	SELECT count(*) FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL,
		VARIADIC options)
$$;

-- unknown names
SELECT try_options('include-tables', 'public.*');
SELECT try_options('Binary', 'on');
-- booleans
SELECT try_options('binary', 'yes please');
SELECT try_options('skip_empty_xacts', '2');
SELECT try_options('include_origin', '');
SELECT try_options('stream', 'maybe');
-- proto_version
SELECT try_options('proto_version', '2');
SELECT try_options('proto_version', '0');
SELECT try_options('proto_version', 'one');
SELECT try_options('proto_version', '1.0');
SELECT try_options('proto_version', '');
SELECT try_options('proto_version', '1');
-- group_bytes
SELECT try_options('group_bytes', 'big');
SELECT try_options('group_bytes', '-1');
SELECT try_options('group_bytes', '16777217');
SELECT try_options('group_bytes', '');
SELECT try_options('group_bytes', '16777216');
-- the same option twice
SELECT try_options('binary', 'on', 'binary', 'off');
-- table patterns
SELECT try_options('include_tables', 'keep_a');
SELECT try_options('include_tables', 'public.keep.a');
SELECT try_options('include_tables', 'public.a,,public.b');
SELECT try_options('include_tables', '');
SELECT try_options('exclude_tables', 'public.a, ');
SELECT try_options('exclude_tables', '"public.a');
SELECT try_options('exclude_tables', '.a');
SELECT try_options('exclude_tables', 'public.');
SELECT try_options('include_tables', 'my schema.a');
-- origins
SELECT try_options('skip_origin', '');
SELECT try_options('skip_origin', 'no_such_origin');
-- binary mode in a session whose client_encoding would convert text
SET client_encoding = 'LATIN1';
SELECT try_options('binary', 'on');
RESET client_encoding;
SELECT try_options('binary', 'on');

SELECT pg_drop_replication_slot('regression_slot');
DROP FUNCTION try_options(text[]);
