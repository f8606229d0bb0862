-- toast_unchanged_update: a TOASTed value an UPDATE does not touch is marked
-- unchanged_toast and never sent; a TOASTed value that changes is sent
-- whole.  A long value shows here as its first 16 characters, its length
-- apart.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgferry;
RESET client_min_messages;

CREATE TABLE toasted (id int PRIMARY KEY, counter int, doc text, note text);
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'pgferry');

-- 200 md5 sums: 6400 characters that compress badly, so doc is stored out of
-- line in the TOAST table
INSERT INTO toasted
	SELECT 1, 0, string_agg(md5(g::text), ''), 'small' FROM generate_series(1, 200) g;
SELECT pg_relation_size(reltoastrelid) > 0 AS doc_is_toasted
FROM pg_class WHERE relname = 'toasted';

UPDATE toasted SET counter = counter + 1 WHERE id = 1;
UPDATE toasted SET doc = doc || '-changed' WHERE id = 1;
UPDATE toasted SET note = 'still small', counter = 2 WHERE id = 1;
-- under REPLICA IDENTITY FULL the old row comes whole (PostgreSQL detoasts
-- it into the WAL record), the new one still marks the untouched value
ALTER TABLE toasted REPLICA IDENTITY FULL;
UPDATE toasted SET counter = 3 WHERE id = 1;
DELETE FROM toasted WHERE id = 1;

SELECT regexp_replace(frame, '''([0-9a-f]{16})[0-9a-f]{100,}([a-z-]*)''', '''\1...\2''') AS frame,
	length((regexp_match(frame, '''([0-9a-f]{100,}[a-z-]*)'''))[1]) AS long_value_length
FROM (SELECT pgferry.frame_text(data, true) AS frame
	FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL)) AS f
WHERE frame !~ '^(begin|commit|startup)';

-- the same in binary: the marker does not depend on the format
SELECT regexp_replace(pgferry.frame_text(data, true), '\\x[0-9a-f]{100,}', '<long>', 'g')
FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL, 'binary', 'on')
WHERE pgferry.frame_text(data, true) ~ '^(update|delete)';

SELECT pg_drop_replication_slot('regression_slot');
DROP TABLE toasted;
