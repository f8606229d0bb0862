-- types: every built-in type family, set up once and decoded twice, in
-- binary mode and in text mode.
-- With binary on, values of built-in types (arrays and ranges of them too)
-- are their send function's bytes, shown in hex; enums, composites, domains
-- and arrays of them are user types and go as text, as do the reg* types.
-- With binary off, each value is its type's output function result, shown as
-- an SQL literal.  Output functions follow the session's settings:
-- pg_regress's DateStyle (Postgres, MDY) and IntervalStyle
-- (postgres_verbose), and the time zone set below.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgferry;
RESET client_min_messages;
-- the text form of timestamptz follows the session's time zone
SET TimeZone = 'UTC';

SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'pgferry');

CREATE TABLE ty_int (id int PRIMARY KEY, i2 int2, i4 int4, i8 int8, o oid);
INSERT INTO ty_int VALUES
	(1, 0, 0, 0, 0),
	(2, -32768, -2147483648, -9223372036854775808, 4294967295),
	(3, 32767, 2147483647, 9223372036854775807, 1);

CREATE TABLE ty_numeric (id int PRIMARY KEY, n numeric, n2 numeric(10, 2));
INSERT INTO ty_numeric VALUES
	(1, 0, 0),
	(2, -123456789.000000001, 12345678.91),
	(3, 'NaN', 'NaN'),
	(4, 'Infinity', NULL),
	(5, '-Infinity', -0.5);

CREATE TABLE ty_float (id int PRIMARY KEY, f4 float4, f8 float8);
INSERT INTO ty_float VALUES
	(1, 1.5, 0.1),
	(2, '-0', '-0'),
	(3, 'NaN', 'NaN'),
	(4, 'Infinity', '-Infinity'),
	(5, 1e-45, 5e-324);

CREATE TABLE ty_money (id int PRIMARY KEY, m money);
INSERT INTO ty_money VALUES (1, '1234.56'), (2, '-0.01');

CREATE TABLE ty_text (id int PRIMARY KEY, t text, v varchar(10), c char(5), n name);
INSERT INTO ty_text VALUES
	(1, 'plain', 'short', 'ab', 'a_name'),
	(2, 'héllo wörld 日本語 🐘', 'ünïcödé', 'ñ', 'naïve'),
	(3, '', '', '', ''),
	(4, 'it''s a \ backslash', E'tab\there', 'x', 'Quoted Name');

CREATE TABLE ty_bytea (id int PRIMARY KEY, b bytea);
INSERT INTO ty_bytea VALUES (1, '\x00ff0001'), (2, ''), (3, '\x000000');

CREATE TABLE ty_bool (id int PRIMARY KEY, b bool);
INSERT INTO ty_bool VALUES (1, true), (2, false);

CREATE TABLE ty_time (id int PRIMARY KEY, d date, t time, tz timetz,
	ts timestamp, tstz timestamptz, i interval);
INSERT INTO ty_time VALUES
	(1, '2000-01-01', '00:00:00', '00:00:00+00', '2000-01-01 00:00:00',
		'2000-01-01 00:00:00+00', '0'),
	(2, '1999-12-31', '23:59:59.999999', '12:34:56.5-07:30',
		'1970-01-01 00:00:00.000001', '2024-02-29 13:14:15.123456+02',
		'1 year 2 months 3 days 04:05:06.789'),
	(3, 'infinity', '24:00:00', '24:00:00-15:59', 'infinity', 'infinity',
		'-178000000 years'),
	(4, '-infinity', NULL, NULL, '-infinity', '-infinity', '-1 day 00:00:01'),
	(5, '4713-01-01 BC', '12:00', '12:00+14', '294276-12-31 23:59:59.999999',
		'4713-01-01 00:00:00+00 BC', '1 mon -1 day');

CREATE TABLE ty_uuid (id int PRIMARY KEY, u uuid);
INSERT INTO ty_uuid VALUES (1, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
	(2, '00000000-0000-0000-0000-000000000000');

CREATE TABLE ty_json (id int PRIMARY KEY, j json, jb jsonb);
INSERT INTO ty_json VALUES
	(1, '{"b": 1,  "a": [true, null]}', '{"b": 1,  "a": [true, null]}'),
	(2, '"ünïcödé"', '"ünïcödé"'),
	(3, '[]', '{}');

CREATE TABLE ty_xml (id int PRIMARY KEY, x xml);
INSERT INTO ty_xml VALUES (1, '<a b="c">text &amp; more</a>'), (2, 'just text');

CREATE TABLE ty_net (id int PRIMARY KEY, i inet, c cidr, m macaddr, m8 macaddr8);
INSERT INTO ty_net VALUES
	(1, '192.168.1.5/24', '10.0.0.0/8', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05'),
	(2, '::1', '2001:db8::/32', 'ff:ff:ff:ff:ff:ff', '00:00:00:00:00:00:00:00');

CREATE TABLE ty_bit (id int PRIMARY KEY, b bit(5), vb varbit);
INSERT INTO ty_bit VALUES (1, B'10101', B'1'), (2, B'00000', B'');

CREATE TABLE ty_tsvector (id int PRIMARY KEY, v tsvector, q tsquery);
INSERT INTO ty_tsvector VALUES (1, 'a fat cat:3A sat', 'fat & (rat | cat)');

CREATE TABLE ty_array (id int PRIMARY KEY, ia int4[], ta text[], na numeric[]);
INSERT INTO ty_array VALUES
	(1, '{1,2,3}', '{"a","b c","d\"e"}', '{1.5,NaN}'),
	(2, '{{1,2},{3,4}}', '{{"x",NULL},{NULL,"y"}}', '{}'),
	(3, '{NULL}', '{}', NULL),
	(4, '[0:1]={7,8}', '{"NULL",""}', '{{{1}}}');

CREATE TABLE ty_range (id int PRIMARY KEY, r int4range, tr tstzrange,
	nr numrange, mr int4multirange);
INSERT INTO ty_range VALUES
	(1, '[1,10)', '["2000-01-01 00:00+00","2000-01-02 00:00+00")', '(1.5,2.5]', '{[1,3), [5,7)}'),
	(2, 'empty', '(,)', '[1,]', '{}'),
	(3, '(,5]', '[-infinity,infinity]', 'empty', '{(,1)}');

-- regclass and the other reg* types send an OID, meaningless elsewhere:
-- they go as text (the object's name) in binary mode too
CREATE TABLE ty_reg (id int PRIMARY KEY, c regclass, t regtype[]);
INSERT INTO ty_reg VALUES (1, 'ty_reg', '{int4,"character varying"}');

CREATE TYPE ty_mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE ty_pair AS (label text, amount numeric);
CREATE DOMAIN ty_positive AS int CHECK (VALUE > 0);
CREATE TABLE ty_user (id int PRIMARY KEY, mood ty_mood, pair ty_pair,
	pos ty_positive, moods ty_mood[], pairs ty_pair[]);
INSERT INTO ty_user VALUES
	(1, 'happy', ROW('a "quoted" label', 1.5), 42, '{sad,ok}',
		ARRAY[ROW('x', 1), ROW(NULL, NULL)]::ty_pair[]),
	(2, NULL, ROW(NULL, NULL), NULL, NULL, NULL);

-- Decode the same changes in both modes: peek with binary on leaves them in
-- the slot for the get with binary off.  Both are captured before anything
-- else is written, so the two decodings cover the same transactions.
CREATE TEMP TABLE binary_frames AS
	SELECT n, pgferry.frame_text(data, true) AS frame
	FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL, 'binary', 'on')
		WITH ORDINALITY AS c(lsn, xid, data, n);
CREATE TEMP TABLE text_frames AS
	SELECT n, pgferry.frame_text(data, true) AS frame
	FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL, 'binary', 'off')
		WITH ORDINALITY AS c(lsn, xid, data, n);

-- binary mode
SELECT frame FROM binary_frames WHERE frame !~ '^(begin|commit)' ORDER BY n;

-- text mode
SELECT frame FROM text_frames WHERE frame !~ '^(begin|commit)' ORDER BY n;

-- The same checks, made by the machine: each insert frame is exactly the row
-- rendered column by column with the type's send function (binary mode,
-- built-in types) or output function (text mode, and user types in binary
-- mode).
CREATE FUNCTION expected_inserts(rel regclass, send_format boolean) RETURNS SETOF text
LANGUAGE plpgsql AS $fn$
DECLARE
	rel_name text;
	values_sql text;
BEGIN
	SELECT format('%I.%I', n.nspname, c.relname) INTO rel_name
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = rel;
	SELECT string_agg(
		CASE WHEN send_format AND t.oid < 16384 AND t.typsend <> 0
				AND t.typname !~ '^_?reg'
			THEN format($$coalesce('\x' || encode(%s(%I), 'hex'), 'NULL')$$, t.typsend, a.attname)
			ELSE format($$coalesce(quote_literal(%s(%I)::text), 'NULL')$$, t.typoutput, a.attname)
		END, $$ || ', ' || $$ ORDER BY a.attnum)
	INTO values_sql
	FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
	WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped;
	RETURN QUERY EXECUTE format($$SELECT 'insert %s new=(' || %s || ')' FROM %s$$,
								rel_name, values_sql, rel);
END
$fn$;

-- binary mode: send functions (built-in types), output functions (user types)
CREATE TEMP TABLE expected AS
	SELECT expected_inserts(rel, true) AS frame
	FROM unnest(ARRAY['ty_int', 'ty_numeric', 'ty_float', 'ty_money', 'ty_text',
		'ty_bytea', 'ty_bool', 'ty_time', 'ty_uuid', 'ty_json', 'ty_xml', 'ty_net',
		'ty_bit', 'ty_tsvector', 'ty_array', 'ty_range', 'ty_reg',
		'ty_user']::regclass[]) AS rel;
SELECT count(*) AS expected_inserts FROM expected;
(SELECT frame FROM binary_frames WHERE frame LIKE 'insert %' EXCEPT ALL SELECT frame FROM expected)
UNION ALL
(SELECT frame FROM expected EXCEPT ALL SELECT frame FROM binary_frames WHERE frame LIKE 'insert %');
DROP TABLE expected;

-- text mode: output functions
CREATE TEMP TABLE expected AS
	SELECT expected_inserts(rel, false) AS frame
	FROM unnest(ARRAY['ty_int', 'ty_numeric', 'ty_float', 'ty_money', 'ty_text',
		'ty_bytea', 'ty_bool', 'ty_time', 'ty_uuid', 'ty_json', 'ty_xml', 'ty_net',
		'ty_bit', 'ty_tsvector', 'ty_array', 'ty_range', 'ty_reg',
		'ty_user']::regclass[]) AS rel;
SELECT count(*) AS expected_inserts FROM expected;
(SELECT frame FROM text_frames WHERE frame LIKE 'insert %' EXCEPT ALL SELECT frame FROM expected)
UNION ALL
(SELECT frame FROM expected EXCEPT ALL SELECT frame FROM text_frames WHERE frame LIKE 'insert %');
DROP TABLE expected;

DROP FUNCTION expected_inserts(regclass, boolean);
DROP TABLE binary_frames, text_frames;

SELECT pg_drop_replication_slot('regression_slot');
DROP TABLE ty_int, ty_numeric, ty_float, ty_money, ty_text, ty_bytea, ty_bool,
	ty_time, ty_uuid, ty_json, ty_xml, ty_net, ty_bit, ty_tsvector, ty_array,
	ty_range, ty_reg, ty_user;
DROP TYPE ty_mood, ty_pair;
DROP DOMAIN ty_positive;
