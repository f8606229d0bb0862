
# FerryTypes: one table per built-in type family, with the values that break
# naive replication (NaN, ±Infinity, -0, ±infinity dates, zero bytes,
# multibyte text, NULLs inside arrays, empty ranges, user types nested in
# arrays and composites), and the workload that inserts, updates, moves and
# deletes them.  Used by the type tests against PostgreSQL 15 and newer
# targets.
#
#   schema_sql  : DDL to run on the source and on every target
#   insert_sql  : one transaction inserting every row
#   change_sql  : transactions that rewrite every column of some rows with
#                 other rows' values, move keys, delete and re-insert

package FerryTypes;

use strict;
use warnings;

use Exporter 'import';
our @EXPORT_OK = qw(schema_sql insert_sql change_sql type_tables);

sub schema_sql
{
	return <<'EOS';
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy', 'ünïcødé ✓');
CREATE TYPE pair AS (n int, label text, m mood);
CREATE TYPE wrapper AS (p pair, tags text[], at timestamptz);
CREATE DOMAIN positive AS int CHECK (VALUE > 0);
CREATE DOMAIN short_text AS varchar(12);
CREATE DOMAIN mood_list AS mood[];

CREATE TABLE ty_int (id int PRIMARY KEY, s int2, i int4, b int8, o oid);
CREATE TABLE ty_num (id int PRIMARY KEY, n numeric, nt numeric(12,3), r float4,
	d float8, m money);
CREATE TABLE ty_text (id int PRIMARY KEY, t text, v varchar(20), c char(5),
	q "char", nm name, tc text COLLATE "C");
CREATE TABLE ty_bin (id int PRIMARY KEY, b bytea, f bool);
CREATE TABLE ty_time (id int PRIMARY KEY, d date, t time, tz timetz,
	ts timestamp, tstz timestamptz, iv interval, ts0 timestamp(0), t3 time(3));
CREATE TABLE ty_misc (id int PRIMARY KEY, u uuid, j json, jb jsonb, x xml,
	l pg_lsn);
CREATE TABLE ty_net (id int PRIMARY KEY, i inet, c cidr, m macaddr, m8 macaddr8);
CREATE TABLE ty_bit (id int PRIMARY KEY, b bit(8), vb varbit, vb10 bit varying(10));
CREATE TABLE ty_tsearch (id int PRIMARY KEY, v tsvector, q tsquery);
CREATE TABLE ty_array (id int PRIMARY KEY, ai int[], at text[], a2 int[][],
	an numeric[], ab bool[], ats timestamptz[], aj jsonb[], au uuid[], ab2 bytea[]);
CREATE TABLE ty_range (id int PRIMARY KEY, r int4range, nr numrange, tr tstzrange,
	dr daterange, r8 int8range, mr int4multirange, nmr nummultirange,
	dmr datemultirange);
CREATE TABLE ty_user (id int PRIMARY KEY, p pair, pa pair[], w wrapper, e mood,
	ea mood[], ml mood_list, dp positive, ds short_text, dpa positive[]);
CREATE TABLE ty_geo (id int PRIMARY KEY, pt point, bx box, ln line, ls lseg,
	pa path, pg polygon, ci circle);
EOS
}

# The type tables, in creation order.
sub type_tables
{
	return map { "public.$_" }
	  qw(ty_int ty_num ty_text ty_bin ty_time ty_misc ty_net ty_bit ty_tsearch
	  ty_array ty_range ty_user ty_geo);
}

# Row N (the last of each table) is all NULLs.
sub insert_sql
{
	return <<'EOS';
BEGIN;
INSERT INTO ty_int VALUES
	(1, 0, 0, 0, 0),
	(2, 32767, 2147483647, 9223372036854775807, 4294967295),
	(3, -32768, -2147483648, -9223372036854775808, 1),
	(4, NULL, NULL, NULL, NULL);
INSERT INTO ty_num VALUES
	(1, 'NaN', 1.500, 'NaN', 'NaN', 0),
	(2, 'Infinity', -0.001, '-0', '-0', '92233720368547758.07'),
	(3, '-Infinity', 123456789.123, 'Infinity', '-Infinity', '-92233720368547758.08'),
	(4, 123456789012345678901234567890.123456789012345678901234567890, 0,
		'-Infinity', 'Infinity', 12.34),
	(5, '0.000000000000000000000000000000000000001', 1.5, '1.4e-45', '5e-324', -1),
	(6, 1.500, -999999999.999, 3.4028235e38, 1.7976931348623157e308, 0.01),
	(7, -0.0, 0.1, 0.1, 0.1, 1),
	(8, NULL, NULL, NULL, NULL, NULL);
INSERT INTO ty_text VALUES
	(1, 'héllo wörld ✓ 日本語 😀', 'ñandú € ✓', 'ñandú', 'x', 'naïve_名前', 'Ωmega'),
	(2, '', '', '', ' ', '', ''),
	(3, E'tab\there\nnew line\r\\ back ''quote" ,{}()', 'trailing space  ', 'ab',
		'"', 'with space', E'\u00e9\u0301'),
	(4, repeat('long text ', 300), repeat('ü', 20), '  x  ', 'ß', repeat('n', 63), 'z'),
	(5, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO ty_bin VALUES
	(1, '\x00', true),
	(2, '\x0001ff00fe00', false),
	(3, '', NULL),
	(4, decode(repeat('00', 3000), 'hex'), true),
	(5, '\x5c27223b00', false),
	(6, NULL, NULL);
INSERT INTO ty_time VALUES
	(1, '2024-02-29', '23:59:59.999999', '12:00+05:30', '2024-02-29 12:34:56.789012',
		'2024-02-29 12:34:56.789012+01', '1 year 2 mons 3 days 04:05:06.789',
		'2024-02-29 12:34:56', '12:34:56.789'),
	(2, 'infinity', '24:00:00', '00:00:00-15:59', 'infinity', 'infinity',
		'178000000 years', 'infinity', '00:00'),
	(3, '-infinity', '00:00', '23:59:59.999999+15:59', '-infinity', '-infinity',
		'-1 days +02:00:00.000001', '-infinity', '23:59:59.999'),
	(4, '4713-01-01 BC', '00:00:00.000001', '00:00+00', '4713-01-01 00:00:00 BC',
		'294276-12-31 23:59:59.999999+00', '-178000000 years -1 microsecond',
		'1999-12-31 23:59:59', '00:00:00.001'),
	(5, '5874897-12-31', '12:00', '12:00-00:00:01', '1970-01-01 00:00:00',
		'2000-01-01 00:00:00+00', '0', '2000-01-01', '12:00'),
	(6, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO ty_misc VALUES
	(1, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
		'{"b": 1,  "a": [1, 2.50, null], "a": "duplicate key kept"}',
		'{"b": 1, "a": [1, 2.50, null, true, 1e-10], "nested": {"ü": "日本", "": {}}}',
		'<doc a="1">tëxt &amp; <b/> ✓</doc>', '16/B374D848'),
	(2, '00000000-0000-0000-0000-000000000000', '  [ ]  ', '"just a string"',
		'plain text content', '0/0'),
	(3, 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'null', 'null',
		'<r><![CDATA[<not markup>]]></r>', 'FFFFFFFF/FFFFFFFF'),
	(4, '12345678-1234-5678-1234-567812345678', '123456789012345678901234567890',
		'{"big": 123456789012345678901234567890.123456789, "neg": -0, "esc": "\\u0000x\\n"}',
		'<a/><b/>', '1/1'),
	(5, NULL, NULL, NULL, NULL, NULL);
INSERT INTO ty_net VALUES
	(1, '192.168.1.5/24', '192.168.1.0/24', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05'),
	(2, '::1', '2001:db8::/32', 'ff:ff:ff:ff:ff:ff', '00:00:00:00:00:00:00:00'),
	(3, '10.0.0.1', '0.0.0.0/0', '00:00:00:00:00:00', '08:00:2b:ff:fe:01:02:03'),
	(4, 'fe80::1ff:fe23:4567:890a/64', '::/0', '01:02:03:04:05:06', 'ff:ff:ff:ff:ff:ff:ff:ff'),
	(5, NULL, NULL, NULL, NULL);
INSERT INTO ty_bit VALUES
	(1, B'10101010', B'', B'1'),
	(2, B'00000000', B'1111000011110000111', B'1111111111'),
	(3, B'11111111', B'0', B''),
	(4, NULL, NULL, NULL);
INSERT INTO ty_tsearch VALUES
	(1, 'a fat cat:1A,2B sat:3 on:4 a:5 mat:6 ''quoted word'':7C', 'fat & (cat | rat) & !dog'),
	(2, '', 'a <-> b <2> c'),
	(3, 'über:1 日本:2 ünïcødé', 'über:* & ! 日本:AB'),
	(4, NULL, NULL);
INSERT INTO ty_array VALUES
	(1, '{1,2,3}', '{"a","b c","\"q\"",NULL,"NULL","日本",""}', '{{1,2},{3,NULL}}',
		'{NaN,1.50,-Infinity,Infinity}', '{t,f,NULL}',
		'{infinity,"2020-01-01 00:00+00",-infinity}',
		ARRAY['{"a":1}'::jsonb, '[]', 'null', NULL],
		'{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}', ARRAY['\x00'::bytea, '', NULL]),
	(2, '{}', '{}', '{{{1,2}},{{3,4}}}', '{}', '{}', '{}', '{}', '{}', '{}'),
	(3, '{NULL}', '{""}', '{{NULL,NULL},{NULL,NULL}}', '{NULL}', '{NULL}', '{NULL}',
		'{NULL}', '{NULL}', '{NULL}'),
	(4, '[0:2]={7,8,9}', '[-1:0]={x,y}', '[1:2][3:4]={{1,2},{3,4}}', '[5:5]={1}',
		'{t}', '{}', '{}', '{}', '{}'),
	(5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO ty_range VALUES
	(1, '[1,10)', '(1.5,2.5]', '[2020-01-01 00:00+00,infinity)', '[2020-01-01,2020-02-01)',
		'[-9223372036854775808,9223372036854775807)', '{[1,3),[5,7)}', '{(,0],[1.5,)}',
		'{[2020-01-01,2020-01-05),[2021-01-01,)}'),
	(2, 'empty', '(,)', '(,)', 'empty', 'empty', '{}', '{}', '{}'),
	(3, '(,5]', '[NaN,NaN]', '(-infinity,infinity)', '(,infinity)', '[0,1)', '{(,)}',
		'{[1,1]}', '{(,)}'),
	(4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO ty_user VALUES
	(1, '(1,"a,b",happy)', ARRAY['(1,x,sad)'::pair, '(2,,ok)', NULL],
		'("(3,""q""""uoted"",ünïcødé ✓)","{t1,NULL}",infinity)', 'ünïcødé ✓',
		'{happy,NULL,sad}', '{ok}', 42, 'short ✓', '{1,2}'),
	(2, '(,,)', '{}', '(,,)', 'sad', '{}', '{}', 2147483647, '', '{}'),
	(3, ROW(NULL, '', NULL), '{NULL}', ROW(NULL, NULL, NULL), 'ok', '{NULL}', '{}', 1, ' ', '{NULL}'),
	(4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO ty_geo VALUES
	(1, '(1.5,-2)', '((0,0),(1,1))', '{1,-1,0}', '[(0,0),(1,1)]', '[(0,0),(1,1),(2,0)]',
		'((0,0),(1,1),(1,0))', '<(0,0),1.5>'),
	(2, '(-0,NaN)', '((Infinity,1),(-Infinity,-1))', '{0.5,2,-1e300}', '[(1e-300,0),(1,1e300)]',
		'((0,0),(1,1))', '((0,0))', '<(1,1),0>'),
	(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
COMMIT;
EOS
}

# For every type table: row 1 takes every value of row 2 and row 2 those of
# row 3 (updates carrying edge values in every column), row 3's key moves
# to 103, rows 1 and 2 are copied to 201 and 202 (inserts after updates in
# one transaction), and the all-NULL row is deleted then inserted again.
sub change_sql
{
	my $tables = join(', ', map { "'$_'" } type_tables());
	return <<"EOS";
DO \$\$
DECLARE
	tab regclass;
	cols text;
BEGIN
	FOREACH tab IN ARRAY ARRAY[$tables]::regclass[]
	LOOP
		SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
		FROM pg_attribute
		WHERE attrelid = tab AND attnum > 0 AND NOT attisdropped AND attname <> 'id';
		EXECUTE format('UPDATE %s SET (%s) = (SELECT %s FROM %s WHERE id = 2) WHERE id = 1',
			tab, cols, cols, tab);
		EXECUTE format('UPDATE %s SET (%s) = (SELECT %s FROM %s WHERE id = 3) WHERE id = 2',
			tab, cols, cols, tab);
		EXECUTE format('UPDATE %s SET id = 103 WHERE id = 3', tab);
		EXECUTE format('INSERT INTO %s (id, %s) SELECT id + 200, %s FROM %s WHERE id IN (1, 2)',
			tab, cols, cols, tab);
	END LOOP;
END
\$\$;
DO \$\$
DECLARE
	tab regclass;
	nulls_id int;
BEGIN
	FOREACH tab IN ARRAY ARRAY[$tables]::regclass[]
	LOOP
		EXECUTE format('SELECT max(id) FROM %s WHERE id < 100', tab) INTO nulls_id;
		EXECUTE format('DELETE FROM %s WHERE id = %s', tab, nulls_id);
		EXECUTE format('INSERT INTO %s (id) VALUES (%s)', tab, nulls_id);
	END LOOP;
END
\$\$;
EOS
}

1;
