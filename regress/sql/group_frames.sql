-- group_frames: with group_bytes, the plugin gathers frames into groups,
-- one group per message, each frame behind its length; a group ends once
-- it holds group_bytes, and with every Commit, StreamStop, StreamCommit,
-- StreamAbort and Message outside a transaction.  Split by
-- pgferry.group_frames(), the frames are those of the ungrouped stream, in
-- the same order.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgferry;
RESET client_min_messages;

CREATE TABLE gf_t (id int PRIMARY KEY, payload text);
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'pgferry');

CREATE FUNCTION ungrouped(VARIADIC options text[])
RETURNS TABLE (n bigint, frame text) LANGUAGE sql AS $$
	SELECT n, pgferry.frame_text(data, true)
	FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL, VARIADIC options)
		WITH ORDINALITY AS c(lsn, xid, data, n)
$$;
-- one row per message: its frames, its size, the kinds of its first and last frames
CREATE FUNCTION grouped(VARIADIC options text[])
RETURNS TABLE (message bigint, frames int, bytes int, first_frame text, last_frame text)
LANGUAGE sql AS $$
	SELECT m, cardinality(f), length(data),
		split_part(pgferry.frame_text(f[1]), ' ', 1),
		split_part(pgferry.frame_text(f[cardinality(f)]), ' ', 1)
	FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL, VARIADIC options)
		WITH ORDINALITY AS c(lsn, xid, data, m),
		pgferry.group_frames(data) AS f
$$;
-- every frame of the grouped stream, in order
CREATE FUNCTION grouped_frames(VARIADIC options text[])
RETURNS TABLE (n bigint, frame text) LANGUAGE sql AS $$
	SELECT row_number() OVER (ORDER BY m, k), pgferry.frame_text(f, true)
	FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL, VARIADIC options)
		WITH ORDINALITY AS c(lsn, xid, data, m),
		unnest(pgferry.group_frames(data)) WITH ORDINALITY AS g(f, k)
$$;

INSERT INTO gf_t VALUES (1, 'one'), (2, 'two'), (3, 'three');
UPDATE gf_t SET payload = 'uno' WHERE id = 1;
SELECT 'emitted' FROM pg_logical_emit_message(false, 'gf', 'outside a transaction');
BEGIN;
SELECT 'emitted' FROM pg_logical_emit_message(true, 'gf', 'inside one');
DELETE FROM gf_t WHERE id = 2;
COMMIT;
INSERT INTO gf_t SELECT g, repeat('p', 40) FROM generate_series(10, 59) g;

-- a group per transaction and per message outside one
SELECT * FROM grouped('group_bytes', '65536');
-- 1 kB groups: the 50-row transaction takes several, each ending once past 1 kB
SELECT message, frames, first_frame, last_frame,
	bytes >= 1024 OR last_frame IN ('commit', 'message') AS ends_rightly
FROM grouped('group_bytes', '1024');
-- the same frames as without groups, in the same order
SELECT count(*) AS frames,
	count(*) FILTER (WHERE u.frame IS DISTINCT FROM g.frame) AS differing
FROM ungrouped('skip_empty_xacts', 'on') u FULL JOIN grouped_frames('group_bytes', '1') g USING (n);
SELECT count(*) FILTER (WHERE u.frame IS DISTINCT FROM g.frame) AS differing
FROM ungrouped('skip_empty_xacts', 'on') u FULL JOIN grouped_frames('group_bytes', '65536') g USING (n);
-- group_bytes 0 is the ungrouped stream
SELECT count(*) AS messages FROM pg_logical_slot_peek_binary_changes('regression_slot',
	NULL, NULL, 'group_bytes', '0');

-- a streamed transaction: its blocks are groups, each ending with StreamStop
TRUNCATE gf_t;
SELECT count(*) > 0 AS decoded FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL);
INSERT INTO gf_t SELECT g, repeat('x', 500) FROM generate_series(1, 400) g;
SELECT count(*) > 1 AS several_messages,
	bool_and(last_frame IN ('stream_stop', 'stream_commit')) AS each_ends_a_block
FROM grouped('stream', 'on', 'group_bytes', '1048576');
SELECT count(*) FILTER (WHERE u.frame IS DISTINCT FROM g.frame) AS differing
FROM ungrouped('stream', 'on') u
	FULL JOIN grouped_frames('stream', 'on', 'group_bytes', '4096') g USING (n);

-- what is not a group
\set VERBOSITY default
SELECT pgferry.group_frames('\x00000005aabb'::bytea);
SELECT pgferry.group_frames('\x0000'::bytea);
SELECT cardinality(pgferry.group_frames(''::bytea)) AS no_frames;

SELECT pg_drop_replication_slot('regression_slot');
DROP FUNCTION ungrouped(text[]), grouped(text[]), grouped_frames(text[]);
DROP TABLE gf_t;
