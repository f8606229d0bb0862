# A connection dropped during the snapshot copy does not end the run:
#   * the copying backend on the source, then the one on the target, are
#     ended (pg_terminate_backend) once some rows of the table are in;
#   * the unit is copied again in the same exported snapshot, its rows
#     written so far rolled back with the lost target transaction;
#   * migrate ends 0 and the target equals the source row for row (rows
#     written twice would show in a table without a key).
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use FerryMigrate;
use PostgreSQL::Test::Utils;
use Test::More;

my $source = source_node('source');
my $target = target_node('target');
create_database($source, 'retry');
create_database($target, 'retry');
$source->safe_psql('retry', q{
CREATE TABLE nokey (n int, t text);
INSERT INTO nokey SELECT g, repeat(md5(g::text), 2) FROM generate_series(1, 1000000) g;
CREATE TABLE small (id int PRIMARY KEY, v text);
INSERT INTO small SELECT g, g::text FROM generate_series(1, 100) g;
});

my $run = start_migrate($source, 'retry', $target, 'retry', '--slot', 'retry', '--jobs', '1',
	'--endpos', current_lsn($source));

# Ends the backend of $node copying nokey once it has moved rows.
sub end_copying_backend
{
	my ($node, $direction) = @_;
	my $ended = 0;
	wait_until(
		sub {
			return 0 if !program_running($run);
			$ended = $node->safe_psql('retry', qq{
				SELECT count(pg_terminate_backend(p.pid)) FROM pg_stat_progress_copy p
				WHERE p.relid = 'nokey'::regclass AND p.command = '$direction'
				  AND p.tuples_processed > 1000});
			return $ended > 0;
		});
	return $ended;
}

ok($target->poll_query_until('retry', "SELECT to_regclass('public.nokey') IS NOT NULL"),
	'the schema is restored');
is(end_copying_backend($source, 'COPY TO'), 1, 'the source backend copying nokey is ended');
is(end_copying_backend($target, 'COPY FROM'), 1, 'then the target backend copying nokey');

my $res = finish_program($run);
is($res->{rc}, 0, 'pgferry migrate ends well');
my @retries = $res->{stderr} =~ /copying public\.nokey \(range \d+ of \d+\) again in \d+ s, in the same snapshot/g;
is(scalar(@retries), 2, 'the log shows the unit copied again twice') or diag($res->{stderr});
tables_match($source, 'retry', $target, 'retry', 'after the retries');

done_testing();
