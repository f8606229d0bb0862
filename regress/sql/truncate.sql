-- truncate: one Truncate frame per TRUNCATE statement, listing every table
-- it emptied, the ones reached through CASCADE included, with the CASCADE
-- and RESTART IDENTITY flags.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgferry;
RESET client_min_messages;

CREATE TABLE tr_parent (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text);
CREATE TABLE tr_child (id serial PRIMARY KEY, parent int REFERENCES tr_parent);
CREATE TABLE tr_other (id int PRIMARY KEY);
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'pgferry');

INSERT INTO tr_parent (name) VALUES ('a');
INSERT INTO tr_child (parent) VALUES (1);
TRUNCATE tr_parent CASCADE;
INSERT INTO tr_parent (name) VALUES ('b');
TRUNCATE tr_parent, tr_child, tr_other RESTART IDENTITY;
-- the identity restarted: the next row gets id 1 again
INSERT INTO tr_parent (name) VALUES ('c');
BEGIN;
INSERT INTO tr_other VALUES (1);
TRUNCATE tr_other;
INSERT INTO tr_other VALUES (2);
COMMIT;

SELECT pgferry.frame_text(data, true)
FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL)
WHERE pgferry.frame_text(data, true) !~ '^(startup)';

SELECT pg_drop_replication_slot('regression_slot');
DROP TABLE tr_child, tr_parent, tr_other;
