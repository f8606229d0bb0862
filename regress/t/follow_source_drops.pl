
# A source connection that drops under load (docs/design.md, promise 1): the
# walsender of a running applier is ended (pg_terminate_backend) several
# times while pgbench writes on the source, first under pgferry follow, then
# under pgferry migrate once it follows its slot (its stream phase).  The
# applier reconnects by itself each time, whether it was reading,
# committing or sending its status update, and logs each loss as a
# WARNING, not an ERROR; the target ends equal to the source, row for row,
# with no transaction lost or applied twice; SIGTERM then ends it with
# exit 0.
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use FerryMigrate;
use PostgreSQL::Test::Utils;
use Test::More;

my $source = source_node('source');
my $target = target_node('target');

my $tables = q{
CREATE TABLE acct (id int PRIMARY KEY, bal int NOT NULL);
CREATE TABLE events (aid int, delta int);
CREATE TABLE marker (name text PRIMARY KEY);
};
my $accounts = 'INSERT INTO acct SELECT i, 0 FROM generate_series(1, 500) i';
my $script = q{
\set aid random(1, 500)
\set delta random(-500, 500)
BEGIN;
UPDATE acct SET bal = bal + :delta WHERE id = :aid;
INSERT INTO events VALUES (:aid, :delta);
END;
};

# Ends the walsender of $slot $drops times under pgbench's writes to $db,
# each time once the applier ($run) streams again (a walsender of its own,
# rows arriving on the target); then checks that the applier still runs,
# catches up, and that the target equals the source.
sub drops_under_load
{
	my ($name, $run, $slot, $db) = @_;
	my $bench = start_pgbench_script($source, $db, $script, '-c', '2', '-j', '2', '-T', '600');
	my $target_events = sub { $target->safe_psql($db, 'SELECT count(*) FROM events') };
	my $drops = 4;
	my $ended = 0;
	my $last_pid = '';
	for my $i (1 .. $drops)
	{
		my $start = $target_events->();
		my $pid;
		wait_until(
			sub {
				$pid = $source->safe_psql('postgres',
					"SELECT active_pid FROM pg_replication_slots WHERE slot_name = '$slot' AND active");
				($pid ne '' && $pid ne $last_pid && $target_events->() > $start + 100)
				  || !program_running($run);
			},
			120);
		last unless program_running($run);
		$ended += $source->safe_psql('postgres', "SELECT pg_terminate_backend($pid)") eq 't';
		$last_pid = $pid;
	}
	is($ended, $drops, "$name: the applier's walsender ended $drops times under load");
	ok(program_running($run), "$name: the applier still runs after the drops");

	stop_pgbench($bench);
	$source->safe_psql($db, "INSERT INTO marker VALUES ('done')");
	ok( wait_until(
			sub {
				$target->safe_psql($db, "SELECT count(*) FROM marker WHERE name = 'done'") == 1;
			},
			120),
		"$name: the applier caught up after the drops");
	tables_match($source, $db, $target, $db, "$name: source connection drops");

	my $res = finish_follow($run, 'TERM', 60);
	is($res->{rc}, 0, "$name: SIGTERM: exit 0")
	  or diag("stderr:\n$res->{stderr}");
	like($res->{stderr}, qr/reconnecting in \d+ s/, "$name: the applier said it reconnects");
	# an operator alerting on ERROR lines is not woken by a blip it survived
	like($res->{stderr}, qr/\] WARNING:  source: could not .*(terminating connection|server closed the connection)/,
		"$name: each lost walsender is a warning naming the server and the reason");
	unlike($res->{stderr}, qr/\] ERROR:/, "$name: no line is an ERROR")
	  or diag("stderr:\n$res->{stderr}");
}

# pgferry follow, into a target with the same tables.
psql_both($source, 'postgres', $target, 'postgres', $tables . $accounts);
create_slot($source, 'postgres', 'ferry');
my $run = start_follow($source, $target, slot => 'ferry', endpos => 'none',
	args => [ '--spool-dir', PostgreSQL::Test::Utils::tempdir() ]);
drops_under_load('follow', $run, 'ferry', 'postgres');

# pgferry migrate: the schema and rows copied, then its stream phase.
create_database($source, 'shop');
create_database($target, 'shop');
$source->safe_psql('shop', $tables . $accounts);
$run = start_migrate($source, 'shop', $target, 'shop', '--slot', 'shop_task');
ok(wait_phase($target, 'shop', 'shop_task', 'stream', $run), 'migrate copies, then follows');
drops_under_load('migrate', $run, 'shop_task', 'shop');

done_testing();
