
# A publication wider than the task: --publication names one FOR ALL TABLES
# while --include-tables and --exclude-tables choose fewer.  pgoutput sends
# every table of the publication; the applier drops the changes of the
# tables outside the task (which the target does not even have), says so
# once per table, and applies the others: rows, a partition's through its
# root's name, a truncate of tables on both sides, a transaction larger
# than logical_decoding_work_mem (streamed, spooled, replayed).  The
# target's tables are compared with the source's row for row.
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use PostgreSQL::Test::Utils;
use Test::More;

# the whole file is about pgoutput, whatever the pass
$ENV{PGFERRY_TEST_PLUGIN} = 'pgoutput';

my $source = source_node('source');
my $target = target_node('target');

my $task_tables = q{
CREATE TABLE kept (id int PRIMARY KEY, v text);
CREATE TABLE kept_too (id int PRIMARY KEY, v text);
CREATE TABLE measure (id int, at date NOT NULL, v numeric, PRIMARY KEY (id, at))
	PARTITION BY RANGE (at);
CREATE TABLE measure_2025 PARTITION OF measure FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
};
psql_both($source, 'postgres', $target, 'postgres', $task_tables);
$source->safe_psql('postgres', q{
CREATE TABLE kept_not (id int PRIMARY KEY, v text);
CREATE TABLE other (id int PRIMARY KEY, v text);
CREATE PUBLICATION everything FOR ALL TABLES;
});
$source->safe_psql('postgres',
	"SELECT 1 FROM pg_create_logical_replication_slot('ferry', 'pgoutput')");

my @task = ('--publication', 'everything', '--include-tables', 'public.kept*,public.measure',
	'--exclude-tables', 'public.kept_not');
my @task_only = map { "public.$_" } qw(kept kept_too measure_2025);

sub stage
{
	my ($name, $sql) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	return follow_stage($source, $target, $name, $sql, slot => 'ferry',
		args => \@task, only => \@task_only);
}

my $res = stage('rows of every table', q{
INSERT INTO kept SELECT i, 'kept ' || i FROM generate_series(1, 20) i;
INSERT INTO kept_too SELECT i, 'kept too ' || i FROM generate_series(1, 20) i;
INSERT INTO kept_not SELECT i, 'excluded ' || i FROM generate_series(1, 20) i;
INSERT INTO other SELECT i, 'not included ' || i FROM generate_series(1, 20) i;
INSERT INTO measure SELECT i, '2025-03-01'::date + i, i FROM generate_series(1, 20) i;
UPDATE other SET v = 'updated' WHERE id < 5;
UPDATE kept SET v = 'updated' WHERE id < 5;
DELETE FROM kept_not WHERE id > 15;
});
for my $table (qw(kept_not other))
{
	my @said = $res->{stderr} =~ /publication "everything" sends table "public"\."$table", outside this task's tables \(--include-tables, --exclude-tables\): its changes are dropped/g;
	is(scalar(@said), 1, "rows of every table: the changes of $table are dropped, said once");
}
unlike($res->{stderr}, qr/sends table "public"\."(kept|kept_too|measure_2025)"/,
	'rows of every table: the task\'s tables are not said to be outside');

stage('a truncate of tables inside and outside the task',
	'TRUNCATE kept_too, other, kept_not');
is($target->safe_psql('postgres', 'SELECT count(*) FROM kept_too'), 0,
	'a truncate of tables inside and outside the task: applied to the task\'s table');

stage('a streamed transaction', q{
BEGIN;
INSERT INTO other SELECT i, repeat('outside ', 20) FROM generate_series(100, 3100) i;
INSERT INTO kept SELECT i, repeat('inside ', 20) FROM generate_series(100, 3100) i;
UPDATE measure SET v = v + 1;
COMMIT;
});
is($target->safe_psql('postgres', 'SELECT count(*) FROM kept'), 3021,
	'a streamed transaction: the task\'s rows applied');

done_testing();
