
# Schema changes follow the stream (issue 10): the source's DDL, captured by
# sql/pgferry_ddl.sql (installed alone, as on a source where CREATE
# EXTENSION of a C library is impossible), is replayed on the target at its
# place among the rows.  Each stage compares every row of every table and
# pg_dump --schema-only of both sides:
#   * columns added (with rows using them in the same transaction), retyped,
#     renamed, dropped; defaults, NOT NULL, indexes (CONCURRENTLY too, and
#     the invalid one a failed CREATE INDEX CONCURRENTLY leaves), enum
#     values used by the next transaction, a table created with its first
#     rows, CREATE TABLE AS (its rows travel as inserts), partitions
#     attached and detached (CONCURRENTLY too), views and functions
#     replaced, comments, grants;
#   * a query string of several statements (DDL between DML) replays each
#     DDL once and no DML twice; DDL in a rolled back transaction does not
#     travel; temporary tables never do;
#   * DDL interleaved with the DML of other sessions under a running follow;
#   * a DDL the target refuses stops pgferry follow with the command, its
#     LSN and the ways on, without moving the slot past it; both ways on
#     work: fix the target and resume, or apply it by hand and resume with
#     --skip-ddl LSN;
#   * DDL run by a DO block, a PL/pgSQL function or a LANGUAGE sql function
#     is replayed (the statement the context names, not the call); one the
#     capture cannot read (an overloaded LANGUAGE sql function) is refused
#     and goes on the same way.
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use PostgreSQL::Test::Utils;
use Test::More;

my $source = source_node('source');
my $target = target_node('target');
my $capture = slurp_file('sql/pgferry_ddl.sql');

# The capture on the source; on the target too, where it must not fire for
# what pgferry applies (session_replication_role = replica), so that the
# schema dumps of both sides hold the same event triggers.
$_->safe_psql('postgres', $capture) for ($source, $target);
psql_both($source, 'postgres', $target, 'postgres', q{
CREATE ROLE reader;
CREATE TABLE item (id int PRIMARY KEY, a text, b int);
CREATE TABLE measure (id int, at date NOT NULL, v numeric) PARTITION BY RANGE (at);
CREATE TABLE measure_2025 PARTITION OF measure FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE busy (id int PRIMARY KEY, n int NOT NULL DEFAULT 0);
INSERT INTO busy SELECT g, 0 FROM generate_series(1, 20) g;
});
create_slot($source, 'postgres', 'ferry');

# A stage: $sql on the source, pgferry follow up to there, then every row
# and the schema compared.
sub stage
{
	my ($name, $sql, %p) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my $res = follow_stage($source, $target, $name, $sql, slot => 'ferry', %p);
	is(schema_dump($target, 'postgres'), schema_dump($source, 'postgres'),
		"$name: pg_dump --schema-only the same on both sides");
	return $res;
}

stage('columns', q{
INSERT INTO item VALUES (1, 'one', 1), (2, 'two', 2);
BEGIN;
INSERT INTO item VALUES (3, 'three', 3);
ALTER TABLE item ADD COLUMN c text DEFAULT 'dflt';
INSERT INTO item VALUES (4, 'four', 4, 'cee');
UPDATE item SET c = 'updated' WHERE id = 1;
COMMIT;
ALTER TABLE item ALTER COLUMN b TYPE bigint;
UPDATE item SET b = b * 10000000000 WHERE id = 2;
ALTER TABLE item RENAME COLUMN c TO see;
INSERT INTO item VALUES (5, 'five', 5, 'renamed');
ALTER TABLE item DROP COLUMN a;
INSERT INTO item (id, b, see) VALUES (6, 6, 'dropped a');
ALTER TABLE item ALTER COLUMN see SET NOT NULL;
ALTER TABLE item ALTER COLUMN b SET DEFAULT 42;
INSERT INTO item (id, see) VALUES (7, 'default b');
});

stage('indexes, types, new tables', q{
CREATE INDEX CONCURRENTLY item_see ON item (see);
CREATE UNIQUE INDEX item_b ON item (b, id);
CREATE TYPE mood AS ENUM ('calm');
ALTER TABLE item ADD COLUMN m mood;
ALTER TYPE mood ADD VALUE 'busy';
UPDATE item SET m = 'busy' WHERE id = 1;
BEGIN;
CREATE TABLE fresh (id serial PRIMARY KEY, v text);
INSERT INTO fresh (v) VALUES ('first row'), ('second row');
COMMIT;
INSERT INTO fresh (v) VALUES ('later row');
CREATE TABLE copied AS SELECT id, see FROM item WHERE id < 4;
DROP INDEX CONCURRENTLY item_see;
});

# A CREATE INDEX CONCURRENTLY that fails on the source leaves an invalid
# index there, and sends nothing: its DROP finds none on the target.
my ($rc, $out, $err) = $source->psql('postgres',
	'CREATE UNIQUE INDEX CONCURRENTLY item_dup ON item ((1))');
like($err, qr/could not create unique index "item_dup"/,
	'a CREATE INDEX CONCURRENTLY fails on the source');
stage('the invalid index it left dropped', 'DROP INDEX CONCURRENTLY item_dup');

stage('partitions, views, functions, comments, grants', q{
CREATE TABLE measure_2026 (id int, at date NOT NULL, v numeric);
INSERT INTO measure_2026 VALUES (1, '2026-02-01', 1.5);
ALTER TABLE measure ATTACH PARTITION measure_2026 FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO measure VALUES (2, '2025-03-01', 2.5), (3, '2026-03-01', 3.5);
ALTER TABLE measure DETACH PARTITION measure_2025;
INSERT INTO measure_2025 VALUES (4, '2025-04-01', 4.5);
CREATE TABLE measure_2027 PARTITION OF measure FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
INSERT INTO measure VALUES (5, '2027-05-01', 5.5);
ALTER TABLE measure DETACH PARTITION measure_2027 CONCURRENTLY;
INSERT INTO measure_2027 VALUES (6, '2027-06-01', 6.5);
CREATE VIEW item_view AS SELECT id, see FROM item;
CREATE OR REPLACE VIEW item_view AS SELECT id, see, b FROM item;
CREATE FUNCTION twice(x int) RETURNS int LANGUAGE sql AS $$ SELECT 2 * x $$;
CREATE OR REPLACE FUNCTION twice(x int) RETURNS int LANGUAGE sql AS $$ SELECT x + x $$;
COMMENT ON TABLE item IS 'items; with a semicolon';
COMMENT ON COLUMN item.see IS 'renamed from c';
GRANT SELECT ON item, item_view TO reader;
REVOKE SELECT ON item_view FROM reader;
});

# One query string of several statements (psql's \; joins them): each DDL
# is replayed once, the inserts between them are rows of the stream.
stage('a query string of several statements', q{
INSERT INTO item (id, see) VALUES (8, 'x') \; ALTER TABLE item ADD COLUMN d int \; INSERT INTO item (id, see, d) VALUES (9, 'y', 9) \; ALTER TABLE item RENAME COLUMN d TO dee
});

stage('rolled back and temporary', q{
BEGIN;
ALTER TABLE item ADD COLUMN never int;
INSERT INTO item (id, see, never) VALUES (100, 'rolled back', 1);
ROLLBACK;
CREATE TEMP TABLE scratch (x serial PRIMARY KEY);
INSERT INTO scratch DEFAULT VALUES;
DROP TABLE scratch;
INSERT INTO item (id, see) VALUES (10, 'after the temporary table');
});
is($target->safe_psql('postgres',
		q{SELECT count(*) FROM pg_attribute WHERE attrelid = 'item'::regclass AND attname = 'never'}),
	'0', 'rolled back: the column is not on the target');

# DDL among other sessions' writes, under a running follow.
my $run = start_follow($source, $target, slot => 'ferry', endpos => 'none');
my $bench = start_pgbench_script($source, 'postgres', q{
\set id random(1, 20)
UPDATE busy SET n = n + 1 WHERE id = :id;
INSERT INTO item (id, see) VALUES (1000 + :client_id * 100000 + :id * 1000 + (random() * 999)::int, 'bench') ON CONFLICT DO NOTHING;
}, '-c', '2', '-T', '4');
$source->safe_psql('postgres', q{
ALTER TABLE busy ADD COLUMN note text DEFAULT 'added under load';
CREATE INDEX busy_n ON busy (n);
ALTER TABLE item ADD COLUMN e int;
SELECT pg_sleep(0.5);
ALTER TABLE busy ALTER COLUMN note TYPE varchar(40);
ALTER TABLE item DROP COLUMN e;
});
stop_pgbench($bench, 1);
my $end = current_lsn($source);
ok(wait_until(sub {
	$target->safe_psql('postgres',
		qq{SELECT coalesce(max(end_lsn), '0/0') >= '$end' FROM pgferry.progress}) eq 't' }),
	'under load: pgferry follow reaches the source position');
my $res = finish_follow($run, 'TERM');
is($res->{rc}, 0, 'under load: pgferry follow stops cleanly');
tables_match($source, 'postgres', $target, 'postgres', 'under load');
is(schema_dump($target, 'postgres'), schema_dump($source, 'postgres'),
	'under load: pg_dump --schema-only the same on both sides');

# The LSN the way on names.
sub skip_lsn
{
	my ($res) = @_;
	return $res->{stderr} =~ /--skip-ddl ([0-9A-F]+\/[0-9A-F]+)/ ? $1 : 'none';
}

# A CREATE TABLE the target refuses (it has a table of that name): the
# error names the command, its LSN and both ways on; nothing of the source
# transaction is applied, the slot does not move past it (the transaction
# before it is applied alone).  Way on 1: fix the target, resume.
$target->safe_psql('postgres', 'CREATE TABLE blocker (x int)');
$source->safe_psql('postgres',
	q{INSERT INTO item (id, see) VALUES (11, 'before the failure')});
my $before_failing = current_lsn($source);
$source->safe_psql('postgres', q{
BEGIN;
CREATE TABLE blocker (id int PRIMARY KEY, v text);
INSERT INTO blocker VALUES (1, 'row of the new table');
COMMIT;
});
$res = follow_fails($source, $target, 'refused CREATE TABLE', 4, [
	qr/could not replay the source's CREATE TABLE at [0-9A-F]+\/[0-9A-F]+: relation "blocker" already exists/,
	qr/the command: CREATE TABLE blocker \(id int PRIMARY KEY, v text\)/,
	qr/resume with --skip-ddl [0-9A-F]+\/[0-9A-F]+/ ],
	slot => 'ferry');
ok(lsn_int(slot_confirmed_flush($source, 'ferry')) <= lsn_int($before_failing),
	'refused CREATE TABLE: the slot has not moved past the transaction before it');
$target->safe_psql('postgres', 'DROP TABLE blocker');
stage('fixed target, resumed', undef);

# Way on 2: the change applied by hand, the message skipped.
$target->safe_psql('postgres', 'ALTER TABLE item ADD COLUMN f int');
$source->safe_psql('postgres', q{
ALTER TABLE item ADD COLUMN f int;
INSERT INTO item (id, see, f) VALUES (12, 'after the skipped change', 12);
});
$res = follow_fails($source, $target, 'refused ALTER TABLE', 4,
	[qr/column "f" of relation "item" already exists/], slot => 'ferry');
my $lsn = skip_lsn($res);
like($res->{stderr}, qr/the command: ALTER TABLE item ADD COLUMN f int/,
	'refused ALTER TABLE: the command is shown');
$res = stage('--skip-ddl', undef, args => [ '--skip-ddl', $lsn ]);
like($res->{stderr}, qr/skipped the source's ALTER TABLE at \Q$lsn\E \(--skip-ddl\)/,
	'--skip-ddl: says what it skipped');

# DDL run by a DO block, a PL/pgSQL function or a LANGUAGE sql function
# (the query string is the call): the command the context names is
# replayed.
stage('DDL in a DO block and in functions', q{
DO $$ BEGIN EXECUTE 'ALTER TABLE item ADD COLUMN g int'; END $$;
INSERT INTO item (id, see, g) VALUES (13, 'after the DO block', 13);
CREATE FUNCTION add_h() RETURNS void LANGUAGE plpgsql
	AS $f$ BEGIN ALTER TABLE item ADD COLUMN h text; END $f$;
CREATE FUNCTION add_i() RETURNS void LANGUAGE sql
	AS $f$ SELECT 1; ALTER TABLE item ADD COLUMN i int $f$;
SELECT add_h(), add_i();
INSERT INTO item (id, see, h, i) VALUES (14, 'after the functions', 'h', 14);
});

# One the capture cannot read (a LANGUAGE sql function whose name is not
# one function's): refused with the call and the ways on.
$source->safe_psql('postgres', q{
CREATE FUNCTION twin() RETURNS void LANGUAGE sql AS $f$ ALTER TABLE item ADD COLUMN j int $f$;
CREATE FUNCTION twin(int) RETURNS void LANGUAGE sql AS $f$ SELECT 1 $f$;
SELECT twin();
INSERT INTO item (id, see, j) VALUES (15, 'after the function', 15);
});
$res = follow_fails($source, $target, 'DDL in a function the capture cannot read', 4, [
	qr/cannot replay the source's ALTER TABLE at [0-9A-F]+\/[0-9A-F]+ on the target: it ran inside a function whose command the capture cannot read \(SQL function "twin" statement 1\)/,
	qr/the command: SELECT twin\(\)/,
	qr/resume with --skip-ddl [0-9A-F]+\/[0-9A-F]+/ ],
	slot => 'ferry');
$lsn = skip_lsn($res);
$target->safe_psql('postgres', 'ALTER TABLE item ADD COLUMN j int');
stage('function applied by hand, skipped', undef, args => [ '--skip-ddl', $lsn ]);

done_testing();
