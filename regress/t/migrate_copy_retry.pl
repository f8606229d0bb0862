# A connection dropped during the snapshot copy does not end the run:
#   * the copying backend on the source, then the one on the target, are
#     ended (pg_terminate_backend) once some rows of the table are in;
#   * the unit is copied again in the same exported snapshot, its rows
#     written so far rolled back with the lost target transaction;
#   * migrate ends 0 and the target equals the source row for row (rows
#     written twice would show in a table without a key);
#   * the target server stopped during the copy, and started again once
#     migrate has failed to reconnect: each failed reconnect and the lost
#     session are WARNINGs naming the target, no line is an ERROR, and
#     migrate ends 0 with the target equal to the source;
#   * once migrate's replication connection, which holds the exported
#     snapshot, is lost too, the unit cannot be copied again in it: the run
#     ends with exit 3 (a connection, not data) and the resume hint, and
#     running it again resumes.
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

# Waits until $node's database $db copies nokey (past 1,000 rows); true
# as well when the background migrate $run (if given) ended first.
sub nokey_copying
{
	my ($node, $db, $run) = @_;
	return wait_until(
		sub {
			return 1 if $run && !program_running($run);
			$node->safe_psql($db, q{
				SELECT count(*) FROM pg_stat_progress_copy
				WHERE relid = 'nokey'::regclass AND tuples_processed > 1000}) > 0;
		});
}

# Ends the backend of $node copying nokey into or from database $db once it
# has moved rows.
sub end_copying_backend
{
	my ($node, $direction, $db) = @_;
	$db //= 'retry';
	my $ended = 0;
	wait_until(
		sub {
			return 0 if !program_running($run);
			$ended = $node->safe_psql($db, qq{
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
like($res->{stderr}, qr/\] WARNING:  source: could not .*(terminating connection|server closed the connection)/,
	'the lost source session is a warning naming the server and the reason');
like($res->{stderr}, qr/\] WARNING:  target: could not .*(terminating connection|server closed the connection)/,
	'the lost target session is a warning naming the server and the reason');
unlike($res->{stderr}, qr/\] ERROR:/, 'no line is an ERROR: the run outlived both losses')
  or diag($res->{stderr});
tables_match($source, 'retry', $target, 'retry', 'after the retries');

# --- the target server down during the copy ----------------------------------
# Starts pgferry migrate of database $db, a copy of retry, on the source;
# passes test $restored once its schema is on the target.
sub migrate_retry_copy
{
	my ($db, $restored) = @_;
	$source->safe_psql('postgres', "CREATE DATABASE $db TEMPLATE retry");
	create_database($target, $db);
	my $started = start_migrate($source, $db, $target, $db, '--slot', $db,
		'--jobs', '1', '--endpos', current_lsn($source));
	ok($target->poll_query_until($db, "SELECT to_regclass('public.nokey') IS NOT NULL"),
		$restored);
	return $started;
}

$run = migrate_retry_copy('down', 'down: the schema is restored');
ok(nokey_copying($target, 'down', $run), 'down: nokey is being copied into the target');
target_down_while_migrating($target, $run, 'down');
$res = finish_program($run);
is($res->{rc}, 0, 'down: pgferry migrate ends well') or diag($res->{stderr});
like($res->{stderr}, qr/\] WARNING:  could not connect to the target server \(/,
	'down: a failed reconnect is a warning naming the server');
like($res->{stderr}, qr/\] WARNING:  target: could not .*(terminating connection|server closed the connection)/,
	'down: the session lost in the shutdown is a warning naming the server and the reason');
like($res->{stderr}, qr/copying public\.nokey \(range \d+ of \d+\) again in \d+ s, in the same snapshot/,
	'down: the unit is copied again');
unlike($res->{stderr}, qr/\] ERROR:/, 'down: no line is an ERROR: the run outlived the target shutdown')
  or diag($res->{stderr});
tables_match($source, 'down', $target, 'down', 'after the target shutdown');

# --- the session that exported the snapshot lost too -------------------------
$run = migrate_retry_copy('lost', 'the second schema is restored');
ok(nokey_copying($source, 'lost'), 'nokey is being copied');
is( $source->safe_psql('lost', q{
		SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE backend_type = 'walsender' AND datname = 'lost'}),
	1,
	'the replication connection holding the snapshot is ended');
is(end_copying_backend($source, 'COPY TO', 'lost'), 1, 'then the source backend copying nokey');
$res = finish_program($run);
is($res->{rc}, 3, 'pgferry migrate ends with exit 3, a connection lost (exit 4 is for data errors)');
like($res->{stderr}, qr/running migrate again resumes/, 'and says running it again resumes');
$res = migrate($source, 'lost', $target, 'lost', '--slot', 'lost', '--jobs', '1',
	'--endpos', current_lsn($source));
is($res->{rc}, 0, 'pgferry migrate run again resumes');
tables_match($source, 'lost', $target, 'lost', 'after the resumed run');

done_testing();
