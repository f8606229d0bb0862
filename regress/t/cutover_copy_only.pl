
# Copy-only tasks (pgferry migrate --no-follow), for tables the source no
# longer changes, next to a task that follows its slot:
#   * the copy-only task copies its tables in a snapshot and ends, leaving
#     no slot on the source; status shows it as copy-only;
#   * cutover refuses, the source left writable, after a write to one of
#     its tables (an INSERT; a TRUNCATE, which no row counter counts), and
#     names the table and what changed;
#   * the task run again copies the tables that changed, and the cutover
#     then passes, the copy-only tables checked inside its window;
#   * finish then leaves no slot on the source and no pgferry state on the
#     target.
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use FerryMigrate;
use PostgreSQL::Test::Utils;
use Test::More;

my $source = source_node('source');
my $target = target_node('target');

$source->safe_psql('postgres', q{
CREATE TABLE countries (code text PRIMARY KEY, name text NOT NULL);
CREATE TABLE rates (day date PRIMARY KEY, rate numeric NOT NULL);
CREATE TABLE orders (id serial PRIMARY KEY, country text NOT NULL,
	amount numeric NOT NULL);
INSERT INTO countries VALUES ('DE', 'Germany'), ('FR', 'France'), ('IT', 'Italy');
INSERT INTO rates SELECT d::date, 1 + extract(day FROM d) / 100
	FROM generate_series('2024-01-01'::date, '2024-12-31', '1 day') d;
INSERT INTO orders (country, amount) SELECT 'DE', i FROM generate_series(1, 1000) i;
});

my @static = ('--slot', 'static', '--no-follow', '--include-tables', 'public.countries',
	'--include-tables', 'public.rates');
my $res = migrate($source, 'postgres', $target, 'postgres', @static);
is($res->{rc}, 0, 'the copy-only task: exit 0') or diag($res->{stderr});
like($res->{stderr}, qr/copy-only task "static" done: its tables are copied, no slot is left/,
	'the copy-only task says what it did');
is($source->safe_psql('postgres', 'SELECT count(*) FROM pg_replication_slots'),
	'0', 'the copy-only task leaves no slot on the source');
is($target->safe_psql('postgres',
		"SELECT m.phase, m.follow, count(o.*) FROM pgferry.migration m
		 JOIN pgferry.copy_only o USING (slot) WHERE slot = 'static' GROUP BY 1, 2"),
	'copied|f|2', 'its state: copied, not followed, the counters of its two tables');
tables_match($source, 'postgres', $target, 'postgres', 'the copy-only task',
	only => [ 'public.countries', 'public.rates' ]);

my $run = start_migrate($source, 'postgres', $target, 'postgres', '--slot', 'live',
	'--exclude-tables', 'public.countries', '--exclude-tables', 'public.rates');
ok(wait_phase($target, 'postgres', 'live', 'stream', $run), 'the following task streams');

$res = run_pgferry([ 'status', '--target', conn($target, 'postgres') ], 60);
like($res->{stdout}, qr/^migration "static": phase copied.*\n.*\n.*\n  apply: +none: a copy-only task/m,
	'status shows the copy-only task');

my $bench = start_pgbench_script($source, 'postgres',
	"INSERT INTO orders (country, amount) VALUES ('FR', random() * 100);",
	'-c', '1', '-R', '50', '-T', '300');

my @conn = ('--source', conn($source, 'postgres'), '--target', conn($target, 'postgres'));

sub source_writable
{
	my ($rc) = $source->psql('postgres', "INSERT INTO orders (country, amount) VALUES ('IT', 1)");
	return $rc == 0;
}

# --- refused after a write to a copy-only table -------------------------------------

$source->safe_psql('postgres', "INSERT INTO countries VALUES ('NL', 'Netherlands')");
$res = run_pgferry([ 'cutover', @conn ], 120);
is($res->{rc}, 6, 'a row inserted into a copy-only table: cutover exits 6');
like($res->{stderr},
	qr/source: table public\.countries of copy-only task "static" changed since its copy: 1 rows inserted, 0 updated, 0 deleted/,
	'the table and the change are named');
like($res->{stderr}, qr/HINT:  copy them again: run the task's pgferry migrate --no-follow again/,
	'the fix is given');
ok(source_writable(), 'the source takes writes');

$res = migrate($source, 'postgres', $target, 'postgres', @static);
is($res->{rc}, 0, 'the copy-only task run again: exit 0') or diag($res->{stderr});
like($res->{stderr}, qr/table public\.countries changed on the source since its copy \(1 rows inserted.*\): copying it again/,
	'the copy-only task run again copies the table that changed');
unlike($res->{stderr}, qr/table public\.rates changed/, 'and only that one');
is($source->safe_psql('postgres', 'SELECT count(*) FROM pg_replication_slots'),
	'1', 'the copy-only task run again leaves no slot (the following task\'s stays)');

$source->safe_psql('postgres', q{TRUNCATE rates;
	INSERT INTO rates SELECT d::date, 2 FROM generate_series('2025-01-01'::date, '2025-01-31', '1 day') d});
$res = run_pgferry([ 'cutover', @conn ], 120);
is($res->{rc}, 6, 'a copy-only table truncated: cutover exits 6');
like($res->{stderr},
	qr/source: table public\.rates of copy-only task "static" changed since its copy: it was truncated or rewritten/,
	'a TRUNCATE is seen, though no row counter counts it');
ok(source_writable(), 'the source takes writes');
$res = migrate($source, 'postgres', $target, 'postgres', @static);
is($res->{rc}, 0, 'the copy-only task run again: exit 0') or diag($res->{stderr});

# --- the cutover ------------------------------------------------------------------------

$res = run_pgferry([ 'cutover', @conn ], 120);
is($res->{rc}, 0, 'cutover: exit 0') or diag($res->{stderr});
like($res->{stdout}, qr/^    copy-only tables +\d+\.\d+ s  2 unchanged$/m,
	'the copy-only tables are checked inside the window');
stop_pgbench($bench);
is(stop_migrate($run, 'TERM')->{rc}, 0, 'the following task stops');
tables_match($source, 'postgres', $target, 'postgres', 'after cutover');

# --- finish: the copy-only task's state goes with the rest ---------------------------

$res = run_pgferry([ 'finish', @conn ], 60);
is($res->{rc}, 0, 'finish: exit 0') or diag($res->{stderr});
like($res->{stdout}, qr/^finish: dropped replication slot "live" on the source$/m,
	'finish drops the following task\'s slot');
like($res->{stdout}, qr/^finish: dropped schema pgferry from the target, with its state: .*table pgferry\.copy_only/m,
	'finish drops the copy-only task\'s state with the schema');
is($target->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = 'pgferry')
	     + (SELECT count(*) FROM pg_class WHERE relname LIKE '%pgferry%')}),
	'0', 'finish: no pgferry schema or table is left on the target');
is($source->safe_psql('postgres', 'SELECT count(*) FROM pg_replication_slots'),
	'0', 'finish: no slot is left on the source');

done_testing();
