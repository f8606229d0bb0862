-- ddl_capture: what the extension's event triggers send for each schema
-- change (a transactional 'pgferry.ddl' message of JSON), and the traps:
-- query strings of several statements, DDL inside a function, CONCURRENTLY,
-- CREATE TABLE AS, volatile defaults over existing rows, temporary objects,
-- rolled back transactions, capture turned off.  regress/logical.conf turns
-- capture off for the other tests; this session turns it on.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgferry;
RESET client_min_messages;
SET pgferry.capture_ddl = on;

-- statements of a query string: semicolons in quotes, identifiers,
-- comments and dollar quotes do not split
SELECT unnest(pgferry.ddl_statements(
	$q$SELECT 'a;b'; /* c; /* nested; */ d; */ CREATE TABLE "x;y" (a int);
	-- line; comment
	CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;
	SELECT $1; ;  $q$)) AS statement;

CREATE TABLE cap (id int PRIMARY KEY, a text);
INSERT INTO cap VALUES (1, 'one');
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'test_decoding');

CREATE TABLE cap_new (id serial PRIMARY KEY, b text);
ALTER TABLE cap ADD COLUMN b int DEFAULT 5;
ALTER TABLE cap ALTER COLUMN b TYPE bigint;
ALTER TABLE cap RENAME COLUMN b TO bee;
CREATE UNIQUE INDEX CONCURRENTLY cap_a ON cap (a);
DROP INDEX CONCURRENTLY cap_a;
CREATE TABLE cap_parts (id int) PARTITION BY LIST (id);
CREATE TABLE cap_part1 PARTITION OF cap_parts FOR VALUES IN (1);
ALTER TABLE cap_parts DETACH PARTITION cap_part1 CONCURRENTLY;
COMMENT ON TABLE cap IS 'a; b';
-- several statements in one query string: each sends only its own
SELECT 1 \; ALTER TABLE cap ADD COLUMN c int \; INSERT INTO cap VALUES (2) \; ALTER TABLE cap RENAME COLUMN c TO see;
-- run by a DO block or a function, whose call is the query string: the
-- statement PL/pgSQL names in the context, the statement of a LANGUAGE sql
-- function's body; refused where the function is not known by its name
DO $$ BEGIN EXECUTE 'ALTER TABLE cap ADD COLUMN e int'; END $$;
CREATE FUNCTION cap_add() RETURNS void LANGUAGE sql
	AS $f$ SELECT 1; ALTER TABLE cap ADD COLUMN e2 int $f$;
CREATE FUNCTION cap_twin() RETURNS void LANGUAGE sql AS $f$ ALTER TABLE cap ADD COLUMN e3 int $f$;
CREATE FUNCTION cap_twin(int) RETURNS void LANGUAGE sql AS $f$ SELECT 1 $f$;
SELECT cap_add(), cap_twin();
-- the rows travel as inserts: the definition alone
CREATE TABLE cap_copy AS SELECT * FROM cap;
SELECT id, a INTO cap_into FROM cap;
-- a volatile default written into existing rows: refused; on an empty
-- table it is replayed
ALTER TABLE cap ADD COLUMN r float8 DEFAULT random();
ALTER TABLE cap_new ADD COLUMN r float8 DEFAULT random();
-- the search_path and role it ran under
CREATE ROLE ddl_capture_role;
GRANT CREATE ON SCHEMA public TO ddl_capture_role;
SET ROLE ddl_capture_role;
SET search_path = public, pg_catalog;
CREATE TABLE owned (x int);
RESET ROLE;
RESET search_path;
DROP TABLE cap_copy, cap_into, owned;
-- never sent: a rollback, temporary objects, capture off, pgferry's own
BEGIN;
ALTER TABLE cap ADD COLUMN gone int;
ROLLBACK;
CREATE TEMP TABLE tmp (x serial PRIMARY KEY);
DROP TABLE tmp;
CREATE TEMP TABLE tmp_as AS SELECT 1 AS x;
SELECT 1 AS x INTO TEMP tmp_into;
SET pgferry.capture_ddl = off;
CREATE TABLE not_sent (x int);
SET pgferry.capture_ddl = on;
CREATE TABLE pgferry.own (x int);
DROP TABLE pgferry.own;

SELECT c->>'tag' AS tag, c->>'command' AS command,
	c->>'refused' IS NOT NULL AS refused, c->'concurrently' AS concurrently
FROM pg_logical_slot_peek_changes('regression_slot', NULL, NULL),
	LATERAL (SELECT substring(data from 'content:(.*)$')::jsonb) AS m(c)
WHERE data LIKE 'message: transactional: 1 prefix: pgferry.ddl,%';
SELECT c->>'tag' AS tag, c->>'refused' AS refused
FROM pg_logical_slot_peek_changes('regression_slot', NULL, NULL),
	LATERAL (SELECT substring(data from 'content:(.*)$')::jsonb) AS m(c)
WHERE data LIKE 'message: transactional: 1 prefix: pgferry.ddl,%'
	AND c->>'refused' IS NOT NULL;
SELECT c->>'command' AS command, c->>'role' AS role,
	c->>'search_path' AS search_path, jsonb_pretty(c->'objects') AS objects
FROM pg_logical_slot_peek_changes('regression_slot', NULL, NULL),
	LATERAL (SELECT substring(data from 'content:(.*)$')::jsonb) AS m(c)
WHERE data LIKE 'message: transactional: 1 prefix: pgferry.ddl,%'
	AND c->>'tag' IN ('CREATE TABLE', 'DROP TABLE', 'DROP INDEX');
-- each message is inside its transaction, in order with the rows
SELECT regexp_replace(regexp_replace(data, 'content:.*', 'content:...'),
	'\d+', 'N', 'g') AS change
FROM pg_logical_slot_get_changes('regression_slot', NULL, NULL);

SELECT pg_drop_replication_slot('regression_slot');
DROP TABLE cap, cap_new, not_sent, cap_parts, cap_part1;
DROP FUNCTION cap_add(), cap_twin(), cap_twin(int);
REVOKE CREATE ON SCHEMA public FROM ddl_capture_role;
DROP ROLE ddl_capture_role;
