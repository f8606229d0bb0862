-- table_filters: include_tables and exclude_tables take comma-separated
-- patterns on schema-qualified names, with * (any run of characters) and ?
-- (one character).  Unquoted names fold to lower case; double-quoted ones
-- are literal.  A partition matches through its own name or its root's; an
-- exclusion wins.  A transaction that touched no included table sends
-- nothing at all, not even Begin and Commit.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgferry;
RESET client_min_messages;

CREATE SCHEMA sales;
CREATE SCHEMA "Mixed Case";
CREATE TABLE public.keep_a (id int PRIMARY KEY);
CREATE TABLE public.keep_b (id int PRIMARY KEY);
CREATE TABLE public.skip_me (id int PRIMARY KEY);
CREATE TABLE sales.order_1 (id int PRIMARY KEY);
CREATE TABLE sales.order_22 (id int PRIMARY KEY);
CREATE TABLE "Mixed Case"."Odd*Name" (id int PRIMARY KEY);
CREATE TABLE public."ünï" (id int PRIMARY KEY);
CREATE TABLE public.events (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE sales.events_low PARTITION OF public.events FOR VALUES FROM (0) TO (100);
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'pgferry');

INSERT INTO public.keep_a VALUES (1);
INSERT INTO public.keep_b VALUES (1);
INSERT INTO public.skip_me VALUES (1);
INSERT INTO sales.order_1 VALUES (1);
INSERT INTO sales.order_22 VALUES (1);
INSERT INTO "Mixed Case"."Odd*Name" VALUES (1);
INSERT INTO public."ünï" VALUES (1);
INSERT INTO public.events VALUES (1);
BEGIN;
INSERT INTO public.keep_a VALUES (2);
INSERT INTO public.skip_me VALUES (2);
COMMIT;
TRUNCATE public.keep_a, public.skip_me;

-- The tables each option value decodes rows of, the tables its TRUNCATE
-- frames list, and how many frames it sends.
CREATE FUNCTION decoded_tables(VARIADIC options text[])
RETURNS TABLE (inserts_into text, truncates text, frames bigint) LANGUAGE sql AS $$
	SELECT string_agg(DISTINCT substring(frame FROM '^insert (.*) new='), ', '),
		string_agg(substring(frame FROM '^truncate relations=\(([^)]*)\)'), '; '),
		count(*)
	FROM (SELECT pgferry.frame_text(data, true) AS frame
		FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL, VARIADIC options)) AS f
$$;
SELECT * FROM decoded_tables(VARIADIC '{}');
SELECT * FROM decoded_tables('include_tables', 'public.keep_?, sales.order_?');
SELECT * FROM decoded_tables('include_tables', 'PUBLIC.KEEP_*');
SELECT * FROM decoded_tables('include_tables', '*.*', 'exclude_tables', 'public.*');
SELECT * FROM decoded_tables('exclude_tables', 'public.skip_me,sales.*,public.events');
SELECT * FROM decoded_tables('include_tables', '"Mixed Case".*');
SELECT * FROM decoded_tables('include_tables', '"Mixed Case"."Odd*Name"');
SELECT * FROM decoded_tables('include_tables', '"Mixed Case"."Odd*"');
SELECT * FROM decoded_tables('include_tables', '  public.?nï ,  sales.nothing  ');
-- a partition matches through its root, in whatever schema it lives
SELECT * FROM decoded_tables('include_tables', 'public.events');
SELECT * FROM decoded_tables('include_tables', 'sales.*', 'exclude_tables', 'public.events');

-- Transactions that touched no included table send no frames at all (with
-- skip_empty_xacts off too); TRUNCATE lists only the included tables.
SELECT pgferry.frame_text(data, true)
FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL,
	'include_tables', 'public.keep_a', 'skip_empty_xacts', 'off');

SELECT pg_drop_replication_slot('regression_slot');
DROP FUNCTION decoded_tables(text[]);
DROP TABLE public.keep_a, public.keep_b, public.skip_me, sales.order_1,
	sales.order_22, "Mixed Case"."Odd*Name", public."ünï", public.events;
DROP SCHEMA sales, "Mixed Case";
