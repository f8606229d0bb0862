
# The shapes a real schema has, copied and then streamed: inheritance
# (the parent copied alone, its children's rows once), partitions on two
# levels (leaves copied, one in another schema), a table without key
# (REPLICA IDENTITY FULL), a table with zero columns, identity GENERATED
# ALWAYS (as the key, and beside the key, set to DEFAULT by an update while
# migrate follows), a generated column, names with quotes, spaces, a newline, a dot
# and unicode, columns with non-default collations, an extension's type,
# the pgferry extension itself on the source (not copied: the target gets
# only its own state tables),
# enums, composites, domains and arrays of them (text COPY), an unlogged
# table, a materialized view with an index, a view with an INSTEAD OF
# trigger and a rule, large objects, and a table big enough to be
# copied in ranges (and, alone in its database, in more ranges than the
# copy has tables).
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use FerryMigrate;
use PostgreSQL::Test::Utils;
use Test::More;

my $source = source_node('source');
my $target = target_node('target');

# Ferry's table list is one name per line: the table whose name holds a
# newline is compared on its own.
my $weird = qq{"Odd Schema"."we""ird.na me\nx"};

sub tables_equal
{
	my ($name, @except) = @_;
	my %skip = map { $_ => 1 } @except;
	my @tables = grep { !$skip{$_} } split /\n/, $source->safe_psql('shapes', q{
		SELECT format('%I.%I', n.nspname, c.relname)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgferry')
		  AND n.nspname NOT LIKE 'pg\_%' AND c.relname !~ '\n' ORDER BY 1});
	tables_match($source, 'shapes', $target, 'shapes', $name, only => \@tables);
	my $columns = q{"Col ü", "sp ace"};
	is_deeply(table_rows($target, 'shapes', $weird, $columns),
		table_rows($source, 'shapes', $weird, $columns),
		"$name: $weird equal on the target");
}

create_database($source, 'shapes');
create_database($target, 'shapes');

$source->safe_psql('shapes', q{
CREATE EXTENSION citext;
CREATE EXTENSION pgferry;
CREATE SCHEMA "Odd Schema";
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE pair AS (a int, b text);
CREATE DOMAIN posint AS int CHECK (VALUE > 0);

CREATE TABLE inh_parent (id int PRIMARY KEY, v text);
CREATE TABLE inh_child (extra text) INHERITS (inh_parent);
ALTER TABLE inh_child ADD PRIMARY KEY (id);

CREATE TABLE part (id int, k int, v text, PRIMARY KEY (id, k)) PARTITION BY LIST (k);
CREATE TABLE part_1 PARTITION OF part FOR VALUES IN (1);
CREATE TABLE part_2 PARTITION OF part FOR VALUES IN (2, 3) PARTITION BY LIST (k);
CREATE TABLE "Odd Schema".part_2_2 PARTITION OF part_2 FOR VALUES IN (2);
CREATE TABLE part_2_3 PARTITION OF part_2 FOR VALUES IN (3);
CREATE INDEX part_v ON part (v);

CREATE TABLE nokey (a int, b text);
ALTER TABLE nokey REPLICA IDENTITY FULL;
CREATE TABLE zero ();
CREATE TABLE ident (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text);
CREATE TABLE ticket (code text PRIMARY KEY, n bigint GENERATED ALWAYS AS IDENTITY, v text);
CREATE TABLE gen (a int PRIMARY KEY, b int GENERATED ALWAYS AS (a * 2) STORED, c text);
CREATE TABLE "Odd Schema"."we""ird.na me
x" ("Col ü" text PRIMARY KEY, "sp ace" int);
CREATE TABLE "tåblé_日本" (id int PRIMARY KEY, "名前" text);
CREATE TABLE coll (id int PRIMARY KEY, c text COLLATE "C", p text COLLATE "POSIX");
CREATE INDEX coll_c ON coll (c);
CREATE TABLE typed (id int PRIMARY KEY, m mood, ms mood[], p pair, d posint,
	e citext, ds posint[], n numeric, t timestamptz, b bytea);
CREATE TABLE docs (id int PRIMARY KEY, blob oid);
CREATE UNLOGGED TABLE scratch (id int PRIMARY KEY);
CREATE TABLE big (id int PRIMARY KEY, pad text);
CREATE MATERIALIZED VIEW part_counts AS SELECT k, count(*) AS n FROM part GROUP BY k;
CREATE UNIQUE INDEX part_counts_k ON part_counts (k);
CREATE VIEW "Odd Schema"."ident view" AS SELECT id, v FROM ident;
CREATE FUNCTION ident_view_insert() RETURNS trigger LANGUAGE plpgsql AS
	$$BEGIN INSERT INTO ident (v) VALUES (NEW.v); RETURN NEW; END$$;
CREATE TRIGGER ident_view_insert INSTEAD OF INSERT ON "Odd Schema"."ident view"
	FOR EACH ROW EXECUTE FUNCTION ident_view_insert();
CREATE RULE ident_view_delete AS ON DELETE TO "Odd Schema"."ident view"
	DO INSTEAD DELETE FROM ident WHERE id = OLD.id;

INSERT INTO inh_parent SELECT i, 'parent ' || i FROM generate_series(1, 50) i;
INSERT INTO inh_child SELECT i, 'child ' || i, 'x' FROM generate_series(101, 130) i;
INSERT INTO part SELECT i, 1 + i % 3, 'p' || i FROM generate_series(1, 300) i;
INSERT INTO nokey SELECT i % 10, 'dup' FROM generate_series(1, 40) i;
INSERT INTO zero DEFAULT VALUES; INSERT INTO zero DEFAULT VALUES; INSERT INTO zero DEFAULT VALUES;
INSERT INTO ident (v) SELECT 'i' || g FROM generate_series(1, 20) g;
INSERT INTO ticket (code, v) SELECT 't' || g, 'v' || g FROM generate_series(1, 5) g;
INSERT INTO gen (a, c) SELECT g, 'g' FROM generate_series(1, 20) g;
INSERT INTO "Odd Schema"."we""ird.na me
x" VALUES ('a"b', 1), (E'line\nbreak', 2), ('tab	here', 3);
INSERT INTO "tåblé_日本" VALUES (1, '東京'), (2, 'Zürich');
INSERT INTO coll SELECT g, chr(64 + g % 58), chr(97 + g % 26) FROM generate_series(1, 100) g;
INSERT INTO typed VALUES
	(1, 'happy', '{sad,ok}', ROW(1, 'one'), 5, 'MiXeD', '{1,2}', 'NaN', 'infinity', '\x00ff00'),
	(2, NULL, '{}', ROW(NULL, E'quo"te'), 7, 'x', NULL, '-1.5e10', '2024-02-29 12:00+05', '\x');
INSERT INTO docs VALUES (1, lo_from_bytea(0, 'first large object')),
	(2, lo_from_bytea(0, decode(repeat('ab', 600000), 'hex')));
INSERT INTO scratch SELECT generate_series(1, 10);
INSERT INTO big SELECT g, repeat(md5(g::text), 10) FROM generate_series(1, 20000) g;
REFRESH MATERIALIZED VIEW part_counts;
});

my $res = migrate($source, 'shapes', $target, 'shapes', '--slot', 'shapes',
	'--split-tables-larger-than', '1MB', '--endpos', current_lsn($source));
is($res->{rc}, 0, 'pgferry migrate copies the shapes');
is($target->safe_psql('shapes', "SELECT max(ranges) FROM pgferry.copy_ranges WHERE table_name = 'big'") > 1,
	1, 'the big table was copied in ranges');
# Tables and rows are tables and their rows, in the log as in the status;
# the sequences and the large objects are counted on their own.
my ($ntables, $nranges, $nrows) = split /\|/, $target->safe_psql('shapes', q{
	SELECT count(DISTINCT (schema_name, table_name)), count(*), sum(rows)
	FROM pgferry.copy_ranges WHERE kind = 'rows'});
like($res->{stderr},
	qr/copying $ntables tables \($nranges ranges\), the sequences and the large objects with \d+ workers, snapshot /,
	'the copy starts with its tables, ranges, sequences and large objects');
like($res->{stderr}, qr/copy done: $ntables tables, $nrows rows, 2 sequences, 2 large objects, /,
	'the copy ends with its tables and their rows, the sequences and large objects apart');
my $status = run_pgferry([ 'status', '--target', conn($target, 'shapes'), '--slot', 'shapes' ], 60);
like($status->{stdout},
	qr/^  copy:       $ntables\/$ntables tables \($nranges\/$nranges ranges\), $nrows rows, /m,
	'pgferry status counts the same tables, ranges and rows');
tables_equal('copied');
is($target->safe_psql('shapes', 'SELECT count(*) FROM ONLY inh_parent'), '50',
	'the inheritance parent holds its own rows only');
is($target->safe_psql('shapes', 'SELECT count(*) FROM part_counts'), '3',
	'the materialized view is populated');
# Post-data of relations that are not copied (a materialized view's index,
# a view's trigger and rule) belongs to no table, and is created all the same.
my $on_views = q{
	SELECT string_agg(d, ' | ' ORDER BY d) FROM (
		SELECT pg_get_indexdef(indexrelid) AS d FROM pg_index WHERE indrelid = 'part_counts'::regclass
		UNION ALL SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = '"Odd Schema"."ident view"'::regclass
		UNION ALL SELECT pg_get_ruledef(oid) FROM pg_rewrite
			WHERE ev_class = '"Odd Schema"."ident view"'::regclass AND rulename <> '_RETURN') s};
is($target->safe_psql('shapes', $on_views), $source->safe_psql('shapes', $on_views),
	'indexes, triggers and rules of views and materialized views are created');
is($target->safe_psql('shapes', 'SELECT count(*) FROM pgferry.post_data WHERE done_at IS NULL'),
	'0', 'every post-data statement ran');
my $lo_sql = 'SELECT oid, md5(lo_get(oid)) FROM pg_largeobject_metadata ORDER BY oid';
is($target->safe_psql('shapes', $lo_sql), $source->safe_psql('shapes', $lo_sql),
	'large objects copied');
is($target->safe_psql('shapes', 'SELECT count(*) FROM scratch'), '10',
	'the unlogged table copied');
is($target->safe_psql('shapes', "SELECT max(id) FROM ident"), '20', 'identity column values kept');

# changes to every shape, streamed
$source->safe_psql('shapes', q{
INSERT INTO inh_parent VALUES (51, 'new parent');
INSERT INTO inh_child VALUES (131, 'new child', 'y');
UPDATE inh_parent SET v = v || '!' WHERE id IN (1, 101);
DELETE FROM inh_parent WHERE id IN (2, 102);
INSERT INTO part VALUES (1000, 2, 'new in odd schema');
UPDATE part SET v = 'moved', k = 3 WHERE id = 1;
UPDATE part SET v = 'changed' WHERE id = 2;
DELETE FROM part WHERE id = 3;
UPDATE nokey SET b = 'one' WHERE a = 1;
DELETE FROM nokey WHERE a = 2;
INSERT INTO nokey VALUES (3, 'dup');
INSERT INTO ident (v) VALUES ('streamed');
UPDATE ticket SET n = DEFAULT WHERE code IN ('t2', 't3');
UPDATE ticket SET n = DEFAULT, v = 'renumbered' WHERE code = 't4';
INSERT INTO gen (a, c) VALUES (100, 'streamed');
UPDATE gen SET a = a + 1000 WHERE a = 1;
INSERT INTO "Odd Schema"."we""ird.na me
x" VALUES ('new', 4);
UPDATE "Odd Schema"."we""ird.na me
x" SET "sp ace" = 99 WHERE "Col ü" = 'a"b';
UPDATE "tåblé_日本" SET "名前" = 'Ōsaka' WHERE id = 1;
UPDATE coll SET c = 'zz' WHERE id = 1;
UPDATE typed SET m = 'ok', ms = '{happy}', p = ROW(2, 'two'), ds = '{3}' WHERE id = 1;
UPDATE big SET pad = 'short' WHERE id % 1000 = 0;
DELETE FROM big WHERE id % 999 = 0;
});
$res = migrate($source, 'shapes', $target, 'shapes', '--slot', 'shapes',
	'--split-tables-larger-than', '1MB', '--endpos', current_lsn($source));
is($res->{rc}, 0, 'pgferry migrate resumes in the stream and applies the changes');
tables_equal('streamed', 'public.scratch');
is($target->safe_psql('shapes', q{SELECT string_agg(code || ':' || n, ' ' ORDER BY code) FROM ticket}),
	't1:1 t2:6 t3:7 t4:8 t5:5', 'an identity GENERATED ALWAYS beside the key, set to DEFAULT: its new values');
schema_matches($source, 'shapes', $target, 'shapes', 'streamed', no_sequences => 1);

# a row of a table without columns: copied above, but not streamed yet
$source->safe_psql('shapes', 'INSERT INTO zero DEFAULT VALUES');
$res = migrate($source, 'shapes', $target, 'shapes', '--slot', 'shapes',
	'--endpos', current_lsn($source));
is($res->{rc}, 0, 'a change of a table with zero columns is applied');
is($target->safe_psql('shapes', 'SELECT count(*) FROM zero'), '4',
	'the table with zero columns has its new row');

# several rows of it in one statement, then, with identity FULL, a delete:
# a row without columns is found by nothing, any one of them will do
$source->safe_psql('shapes', q{
INSERT INTO zero SELECT FROM generate_series(1, 3);
ALTER TABLE zero REPLICA IDENTITY FULL;
DELETE FROM zero WHERE ctid = (SELECT min(ctid) FROM zero);
});
$res = migrate($source, 'shapes', $target, 'shapes', '--slot', 'shapes',
	'--endpos', current_lsn($source));
is($res->{rc}, 0, 'inserts and a delete of a table with zero columns are applied');
is($target->safe_psql('shapes', 'SELECT count(*) FROM zero'), '6',
	'the table with zero columns has three rows more and one less');

is($target->safe_psql('shapes', "SELECT count(*) FROM pg_extension WHERE extname = 'pgferry'"),
	'0', 'the source\'s pgferry extension is not copied to the target');

# One table split in more ranges than the copy has tables, sequences and
# large objects twice over: each range is a unit of its own.
create_database($source, 'one_big');
create_database($target, 'one_big');
$source->safe_psql('one_big', q{
CREATE TABLE wide (id int PRIMARY KEY, pad text);
INSERT INTO wide SELECT g, repeat('y', 200) FROM generate_series(1, 40000) g;
});
$res = migrate($source, 'one_big', $target, 'one_big', '--slot', 'one_big',
	'--split-tables-larger-than', '1MB', '--endpos', current_lsn($source));
is($res->{rc}, 0, 'one table in many ranges: migrate copies it') or diag($res->{stderr});
cmp_ok($target->safe_psql('one_big', 'SELECT max(ranges) FROM pgferry.copy_ranges'), '>', 7,
	'one table in many ranges: more ranges than twice the tables, sequences and large objects');
tables_match($source, 'one_big', $target, 'one_big', 'one table in many ranges');

done_testing();
