# A lost target session during a post-data statement does not end the run:
#   * an index build whose expression is slow is under way on the target
#     when its backend is ended (pg_terminate_backend);
#   * the statement runs again on a new target session after a wait, as a
#     copy unit does;
#   * migrate ends 0, with the same indexes and constraints on both sides
#     and the same rows;
#   * the same when the target server restarts during the build, which
#     also ends migrate's own sessions there (the task lock's included):
#     they are opened again after the copy, the lock taken again;
#   * the same when the target server is stopped during the build and
#     started again once migrate has failed to reconnect.
# Each failure it outlives is a WARNING naming the server, never an ERROR.
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use FerryMigrate;
use PostgreSQL::Test::Utils;
use Test::More;

my $source = source_node('source');
my $target = target_node('target');

# Database $db on both servers, its source with an index whose build costs
# 20 ms a row: long enough to be caught running; $more: SQL run after.
sub slow_index_database
{
	my ($db, $more) = @_;
	create_database($source, $db);
	create_database($target, $db);
	$source->safe_psql($db, q{
CREATE FUNCTION slow(n int) RETURNS int IMMUTABLE LANGUAGE plpgsql
	AS $$BEGIN PERFORM pg_sleep(0.02); RETURN n; END$$;
CREATE TABLE items (id int PRIMARY KEY, v int);
INSERT INTO items SELECT g, g % 7 FROM generate_series(1, 200) g;
CREATE INDEX items_slow ON items (slow(v));
} . ($more // ''));
	return start_migrate($source, $db, $target, $db, '--slot', $db,
		'--jobs', '1', '--endpos', current_lsn($source));
}

# Waits until the target builds index items_slow in $db (or migrate $run
# ended); $what: a count over the backends building it, its value returned.
sub build_seen
{
	my ($db, $run, $what, $name) = @_;
	my $seen = 0;
	ok( wait_until(
			sub {
				return 1 if !program_running($run);
				$seen = $target->safe_psql($db, qq{
					SELECT $what FROM pg_stat_activity
					WHERE state = 'active' AND pid <> pg_backend_pid()
					  AND query LIKE '%CREATE INDEX items_slow %'});
				return $seen > 0;
			}),
		$name);
	return $seen;
}

my $run = slow_index_database('pdretry', q{
CREATE TABLE notes (id int PRIMARY KEY, item int REFERENCES items, t text);
INSERT INTO notes SELECT g, g, md5(g::text) FROM generate_series(1, 100) g;
});
my $ended = build_seen('pdretry', $run, 'count(pg_terminate_backend(pid))',
	'the index build was seen');
is($ended, 1, 'the target backend building index items_slow is ended');

my $res = finish_program($run);
is($res->{rc}, 0, 'pgferry migrate ends well') or diag($res->{stderr});
like($res->{stderr},
	qr/WARNING:  creating index items_slow again in \d+ s, on a new target session/,
	'the log names the statement run again') or diag($res->{stderr});
like($res->{stderr}, qr/\] WARNING:  target: could not create index items_slow: .*(terminating connection|server closed the connection)/,
	'the lost session is a warning naming the server, the index and the reason');
unlike($res->{stderr}, qr/\] ERROR:/, 'no line is an ERROR: the run outlived the loss')
  or diag($res->{stderr});
schema_matches($source, 'pdretry', $target, 'pdretry', 'after the retry');
tables_match($source, 'pdretry', $target, 'pdretry', 'after the retry');
is( $target->safe_psql('pdretry',
		q{SELECT count(*) FROM pgferry.post_data WHERE done_at IS NULL}),
	0,
	'every post-data statement is recorded as done');

# --- the target restarts during the build ---------------------------------------

$run = slow_index_database('pdrestart');
my $building = build_seen('pdrestart', $run, 'count(*)',
	'restart: the index build was seen');
is($building, 1, 'restart: the index is being built when the target restarts');
$target->restart;

$res = finish_program($run);
is($res->{rc}, 0, 'restart: pgferry migrate ends well') or diag($res->{stderr});
like($res->{stderr},
	qr/WARNING:  migrate's sessions on the target were lost during the copy .*: connecting again in \d+ s/,
	'restart: migrate says its own sessions are opened again') or diag($res->{stderr});
like($res->{stderr}, qr/\] WARNING:  target: could not create index items_slow: /,
	'restart: the lost build is a warning naming the server and the index') or diag($res->{stderr});
like($res->{stderr}, qr/\] WARNING:  target: could not reach migrate's session after the copy: /,
	"restart: so is the loss of migrate's own session") or diag($res->{stderr});
unlike($res->{stderr}, qr/\] ERROR:/, 'restart: no line is an ERROR') or diag($res->{stderr});
schema_matches($source, 'pdrestart', $target, 'pdrestart', 'after the restart');
tables_match($source, 'pdrestart', $target, 'pdrestart', 'after the restart');
is( $target->safe_psql('pdrestart',
		q{SELECT phase FROM pgferry.migration WHERE slot = 'pdrestart'}),
	'stream', 'restart: the migration recorded its phase after the copy');

# --- the target is down for a while during the build --------------------------

$run = slow_index_database('pddown');
$building = build_seen('pddown', $run, 'count(*)', 'down: the index build was seen');
is($building, 1, 'down: the index is being built when the target stops');
target_down_while_migrating($target, $run, 'down');

$res = finish_program($run);
is($res->{rc}, 0, 'down: pgferry migrate ends well') or diag($res->{stderr});
like($res->{stderr}, qr/\] WARNING:  could not connect to the target server \(/,
	'down: a failed reconnect is a warning naming the server') or diag($res->{stderr});
like($res->{stderr},
	qr/WARNING:  creating index items_slow again in \d+ s, on a new target session/,
	'down: the statement is run again') or diag($res->{stderr});
unlike($res->{stderr}, qr/\] ERROR:/, 'down: no line is an ERROR') or diag($res->{stderr});
schema_matches($source, 'pddown', $target, 'pddown', 'after the target was down');
tables_match($source, 'pddown', $target, 'pddown', 'after the target was down');

done_testing();
