
# pgferry verify on two servers no applier connects:
#   * an identical pair: exit 0, every table reported equal, with its rows;
#   * one changed, one missing and one extra row in tables of every kind --
#     a primary key, a composite key over awkward names (quotes, spaces,
#     unicode) with the target's columns in another order and a generated
#     column, a unique index instead of a primary key, no key at all, and a
#     table of 20,000 rows compared in ranges of 1,000 so that differing
#     ranges are narrowed down -- each difference named by its key (or, for
#     the keyless table, by its row), exit 5;
#   * a table present on one side only, a column missing on the target;
#   * --max-keys bounds what is named and says how much more differs;
#   * --include-tables / --exclude-tables choose the tables.
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use PostgreSQL::Test::Utils;
use Test::More;

my $source = source_node('source');
my $target = target_node('target');

# The target's awkward table lists its columns in another order: verify
# matches columns by name.
my $common = q{
CREATE TABLE items (id int PRIMARY KEY, name text, price numeric,
	created timestamptz, tags text[], doc jsonb, ratio float8, raw bytea,
	span interval);
CREATE TABLE events (id bigint PRIMARY KEY, kind text NOT NULL, at date);
CREATE TABLE codes (code text NOT NULL, region int NOT NULL, label text);
CREATE UNIQUE INDEX codes_code_region ON codes (code, region);
CREATE TABLE log_lines (line text, n int);
CREATE SCHEMA "Sales Ü";
};
$source->safe_psql('postgres', $common . q{
CREATE TABLE "Sales Ü"."order ""lines""" ("Key A" text, "kéy b" int,
	qty int, total int GENERATED ALWAYS AS (qty * 10) STORED,
	PRIMARY KEY ("Key A", "kéy b"));
});
$target->safe_psql('postgres', $common . q{
CREATE TABLE "Sales Ü"."order ""lines""" (qty int, "kéy b" int,
	total int GENERATED ALWAYS AS (qty * 10) STORED, "Key A" text,
	PRIMARY KEY ("Key A", "kéy b"));
});

my $data = q{
INSERT INTO items SELECT i, 'item ' || i, i * 1.25,
	timestamptz '2024-01-01 00:00+00' + i * interval '1 hour',
	ARRAY['a', 'b' || i], jsonb_build_object('i', i, 'nested', jsonb_build_array(i, 'x')),
	i / 3.0, decode(lpad(to_hex(i), 8, '0'), 'hex'), i * interval '1 minute'
	FROM generate_series(1, 50) i;
INSERT INTO events SELECT i, CASE WHEN i % 3 = 0 THEN 'click' ELSE 'view' END,
	date '2024-01-01' + i % 365 FROM generate_series(1, 20000) i;
INSERT INTO codes SELECT 'c' || (i % 10), i, 'label ' || i FROM generate_series(1, 30) i;
INSERT INTO log_lines SELECT 'line ' || (i % 7), i % 7 FROM generate_series(1, 40) i;
INSERT INTO "Sales Ü"."order ""lines""" ("Key A", "kéy b", qty)
	SELECT 'ä "quoted", ' || (i % 4), i, i FROM generate_series(1, 25) i;
};
$source->safe_psql('postgres', $data);
$target->safe_psql('postgres', $data);

my @conn = (
	'--source' => $source->connstr('postgres'),
	'--target' => $target->connstr('postgres'));

sub verify
{
	my (@args) = @_;
	return run_pgferry([ 'verify', @conn, '--range-rows', '1000', @args ], 120);
}

# --- identical -------------------------------------------------------------------

my $res = verify();
is($res->{rc}, 0, 'identical pair: exit 0');
like($res->{stdout}, qr/^table public\.items: equal, 50 rows$/m,
	'identical pair: items equal, with its row count');
like($res->{stdout}, qr/^table public\.events: equal, 20000 rows$/m,
	'identical pair: the multi-range table equal');
like($res->{stdout}, qr/^table public\.log_lines: equal, 40 rows \(no primary key/m,
	'identical pair: the keyless table equal, compared as whole rows');
like($res->{stdout}, qr/^table "Sales Ü"\."order ""lines""": equal, 25 rows$/m,
	'identical pair: awkward names, columns in another order: equal');
like($res->{stdout}, qr/^verify: 5 tables, 5 equal, 0 different, 0 not settled, 0 failed/m,
	'identical pair: summary');

# --- one changed, one missing, one extra row per table ------------------------------

$target->safe_psql('postgres', q{
UPDATE items SET doc = doc || '{"changed": true}' WHERE id = 7;
DELETE FROM items WHERE id = 8;
INSERT INTO items (id, name) VALUES (51, 'extra');
UPDATE events SET kind = 'purchase' WHERE id = 4321;
DELETE FROM events WHERE id = 15000;
INSERT INTO events VALUES (20001, 'view', '2024-02-02');
UPDATE codes SET label = 'changed' WHERE code = 'c3' AND region = 13;
DELETE FROM codes WHERE code = 'c4' AND region = 4;
INSERT INTO codes VALUES ('c99', 99, 'extra');
DELETE FROM log_lines WHERE ctid = (SELECT min(ctid) FROM log_lines WHERE n = 2);
INSERT INTO log_lines VALUES ('line 99', 99), ('line 99', 99);
UPDATE "Sales Ü"."order ""lines""" SET qty = 1000
	WHERE "Key A" = 'ä "quoted", 1' AND "kéy b" = 5;
DELETE FROM "Sales Ü"."order ""lines"""
	WHERE "Key A" = 'ä "quoted", 2' AND "kéy b" = 6;
INSERT INTO "Sales Ü"."order ""lines""" ("Key A", "kéy b", qty)
	VALUES ('nëw ''one''', 100, 1);
});

$res = verify();
is($res->{rc}, 5, 'differences: exit 5');
my $out = $res->{stdout};
like($out, qr/^table public\.items: DIFFERENT, source 50 rows, target 50 rows$/m,
	'items: reported different, with both counts');
like($out, qr/^  changed: \(id\)=\(7\)$/m, 'items: the changed row is named');
like($out, qr/^  missing on target: \(id\)=\(8\)$/m, 'items: the missing row is named');
like($out, qr/^  extra on target: \(id\)=\(51\)$/m, 'items: the extra row is named');
like($out, qr/^  changed: \(id\)=\(4321\)$/m, 'events: changed row found across ranges');
like($out, qr/^  missing on target: \(id\)=\(15000\)$/m, 'events: missing row found');
like($out, qr/^  extra on target: \(id\)=\(20001\)$/m,
	'events: extra row beyond the source\'s last key found');
like($out, qr/^  changed: \(code, region\)=\(c3, 13\)$/m,
	'codes: unique index used as the key');
like($out, qr/^  missing on target: \(code, region\)=\(c4, 4\)$/m, 'codes: missing row');
like($out, qr/^  extra on target: \(code, region\)=\(c99, 99\)$/m, 'codes: extra row');
like($out, qr/^  missing on target: \("line 2",2\)$/m,
	'keyless: the missing row is printed');
like($out, qr/^  extra on target \(2 copies\): \("line 99",99\)$/m,
	'keyless: the extra rows are printed with their multiplicity');
like($out,
	qr/^  changed: \("Key A", "kéy b"\)=\(ä "quoted", 1, 5\)$/m,
	'awkward names: the changed row is named by its composite key');
like($out, qr/^  missing on target: \("Key A", "kéy b"\)=\(ä "quoted", 2, 6\)$/m,
	'awkward names: the missing row is named');
like($out, qr/^  extra on target: \("Key A", "kéy b"\)=\(nëw 'one', 100\)$/m,
	'awkward names: the extra row is named');
my @named = $out =~ /^  (?:changed|missing on target|extra on target)/mg;
is(scalar(@named), 14,
	'exactly the 14 differences (two extra copies of a keyless row on one line)');
like($out, qr/^verify: 5 tables, 0 equal, 5 different, 0 not settled, 0 failed/m,
	'differences: summary');

# --- bounded report, filters, schema differences ---------------------------------------

$target->safe_psql('postgres', 'DELETE FROM events WHERE id BETWEEN 2001 AND 2500');
$res = verify('--max-keys', '10', '--include-tables', 'public.events');
is($res->{rc}, 5, 'max-keys: exit 5');
my @keys = $res->{stdout} =~ /^  (?:changed|missing on target|extra on target)/mg;
is(scalar(@keys), 10, 'max-keys: 10 differences named');
like($res->{stdout},
	qr/^  and more differences in \d+ key ranges? not narrowed \(source \d+ rows?, target \d+ rows? in them; --max-keys 10\)$/m,
	'max-keys: the ranges not narrowed are counted');
like($res->{stdout}, qr/^verify: 1 table, 0 equal, 1 different/m,
	'include-tables: only events compared');

$res = verify('--exclude-tables', 'public.events, public.items, public.codes, public.log_lines');
is($res->{rc}, 5, 'exclude-tables: the awkward table still differs');
like($res->{stdout}, qr/^verify: 1 table, 0 equal, 1 different/m,
	'exclude-tables: only the awkward table compared');

$source->safe_psql('postgres', 'CREATE TABLE only_here (id int PRIMARY KEY)');
$source->safe_psql('postgres', 'ALTER TABLE codes ADD COLUMN note text');
$res = verify('--include-tables', 'public.only_here, public.codes');
is($res->{rc}, 5, 'schema differences: exit 5');
like($res->{stdout}, qr/^table public\.only_here: DIFFERENT\n  the table exists only on the source$/m,
	'a table missing on the target is reported');
like($res->{stdout}, qr/^  column "note" is missing on the target$/m,
	'a column missing on the target is reported');
like($res->{stdout}, qr/^  changed: \(code, region\)=\(c3, 13\)$/m,
	'the other columns are still compared');

# --- a text key sorted otherwise on the target ------------------------------------------

# The same rows, keyed by text in ICU's order on the source and in bytes on
# the target: the source's range bounds put keys in other ranges (and out of
# order) on the target, which must not show as differences.
$source->safe_psql('postgres',
	'CREATE TABLE vcoll (k text COLLATE "und-x-icu" PRIMARY KEY, v int)');
$target->safe_psql('postgres',
	'CREATE TABLE vcoll (k text COLLATE "C" PRIMARY KEY, v int)');
my $vcoll_rows = q{
INSERT INTO vcoll SELECT k, ord FROM unnest(ARRAY['a', 'A', 'b', 'B', 'z', 'Z',
	'ä', 'Ä', 'é', 'e', 'E', '_x', '1', 'aa', 'aB', 'Ab']) WITH ORDINALITY AS u(k, ord);
};
$source->safe_psql('postgres', $vcoll_rows);
$target->safe_psql('postgres', $vcoll_rows);

$res = verify('--include-tables', 'public.vcoll', '--range-rows', '3');
is($res->{rc}, 0, 'collation: identical rows in several ranges: exit 0')
  or diag($res->{stdout});
like($res->{stdout}, qr/^table public\.vcoll: equal, 16 rows$/m,
	'collation: the table is reported equal');

$target->safe_psql('postgres', q{UPDATE vcoll SET v = -1 WHERE k = 'A'});
$res = verify('--include-tables', 'public.vcoll', '--range-rows', '3');
is($res->{rc}, 5, 'collation: one changed row: exit 5');
my @vcoll_named =
  $res->{stdout} =~ /^  (?:changed|missing on target|extra on target).*$/mg;
is_deeply(\@vcoll_named, ['  changed: (k)=(A)'],
	'collation: exactly the changed key is named, as changed')
  or diag($res->{stdout});

done_testing();
