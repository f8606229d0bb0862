
# A source connection that drops under load (docs/design.md, promise 1): the
# walsender of a running applier is ended (pg_terminate_backend) several
# times while pgbench writes on the source.  The applier reconnects by
# itself each time, whether it was reading, committing or sending its
# status update, and logs each loss as a WARNING, not an ERROR; the target
# ends equal to the source, row for row, with no transaction lost or
# applied twice; SIGTERM then ends it with exit 0.
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use PostgreSQL::Test::Utils;
use Test::More;

my $source = source_node('source');
my $target = target_node('target');

psql_both($source, 'postgres', $target, 'postgres', q{
CREATE TABLE acct (id int PRIMARY KEY, bal int NOT NULL);
CREATE TABLE events (aid int, delta int);
CREATE TABLE marker (name text PRIMARY KEY);
});
$source->safe_psql('postgres',
	'INSERT INTO acct SELECT i, 0 FROM generate_series(1, 500) i');
$target->safe_psql('postgres',
	'INSERT INTO acct SELECT i, 0 FROM generate_series(1, 500) i');
create_slot($source, 'postgres', 'ferry');

my $script = q{
\set aid random(1, 500)
\set delta random(-500, 500)
BEGIN;
UPDATE acct SET bal = bal + :delta WHERE id = :aid;
INSERT INTO events VALUES (:aid, :delta);
END;
};

sub walsender_pid
{
	return $source->safe_psql('postgres',
		"SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'ferry' AND active"
	);
}

sub target_events
{
	return $target->safe_psql('postgres', 'SELECT count(*) FROM events');
}

my $run = start_follow($source, $target, slot => 'ferry', endpos => 'none',
	args => [ '--spool-dir', PostgreSQL::Test::Utils::tempdir() ]);
my $bench = start_pgbench_script($source, 'postgres', $script,
	'-c', '2', '-j', '2', '-T', '600');

# Each time: the applier streams (a walsender of its own, rows arriving),
# then its walsender is ended.
my $drops = 4;
my $ended = 0;
my $last_pid = '';
for my $i (1 .. $drops)
{
	my $start = target_events();
	my $pid;
	wait_until(
		sub {
			$pid = walsender_pid();
			($pid ne '' && $pid ne $last_pid && target_events() > $start + 100)
			  || !program_running($run);
		},
		120);
	last unless program_running($run);
	$ended += $source->safe_psql('postgres', "SELECT pg_terminate_backend($pid)") eq 't';
	$last_pid = $pid;
}
is($ended, $drops, "the applier's walsender ended $drops times under load");
ok(program_running($run), 'the applier still runs after the drops');

stop_pgbench($bench);
$source->safe_psql('postgres', "INSERT INTO marker VALUES ('done')");
ok( wait_until(
		sub {
			$target->safe_psql('postgres',
				"SELECT count(*) FROM marker WHERE name = 'done'") == 1;
		},
		120),
	'the applier caught up after the drops');
tables_match($source, 'postgres', $target, 'postgres', 'source connection drops');

my $res = finish_follow($run, 'TERM', 60);
is($res->{rc}, 0, 'SIGTERM: pgferry follow exits 0')
  or diag("stderr:\n$res->{stderr}");
like($res->{stderr}, qr/reconnecting in \d+ s/, 'the applier said it reconnects');
# an operator alerting on ERROR lines is not woken by a blip it survived
like($res->{stderr}, qr/\] WARNING:  source: could not .*(terminating connection|server closed the connection)/,
	'each lost walsender is a warning naming the server and the reason');
unlike($res->{stderr}, qr/\] ERROR:/, 'and no line is an ERROR')
  or diag("stderr:\n$res->{stderr}");

done_testing();
