
# Nothing lost, nothing twice (docs/design.md, promise 1):
#   * the applier killed with SIGKILL at several points of a stream (just
#     connected, after a few batches, while a large transaction is being
#     spooled, after it), restarted each time: the target ends equal to the
#     source, and an insert-only table without any key (where a transaction
#     applied twice would show as duplicate rows) has exactly the source's
#     rows;
#   * the target ahead of the slot: a session whose status updates never
#     reached the source applied everything, and the next one gets the same
#     transactions again from the slot's position: each is skipped;
#   * a long-running applier (no --endpos) while the target server restarts
#     under it, then while the source server restarts under it: it
#     reconnects by itself and the target ends equal; SIGTERM then ends it
#     with exit 0 and the slot confirmed up to what it applied.
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $source = source_node('source');
my $target = target_node('target');

my $schema = q{
CREATE TABLE acct (id int PRIMARY KEY, bal int NOT NULL);
CREATE TABLE kv (k int PRIMARY KEY, v bigint);
CREATE TABLE events (aid int, delta int, note text);
CREATE TABLE marker (name text PRIMARY KEY);
};
psql_both($source, 'postgres', $target, 'postgres', $schema);
$source->safe_psql('postgres',
	'INSERT INTO acct SELECT i, 0 FROM generate_series(1, 1000) i');
$target->safe_psql('postgres',
	'INSERT INTO acct SELECT i, 0 FROM generate_series(1, 1000) i');
create_slot($source, 'postgres', 'ferry');

my $script = q{
\set aid random(1, 1000)
\set delta random(-500, 500)
BEGIN;
UPDATE acct SET bal = bal + :delta WHERE id = :aid;
INSERT INTO events VALUES (:aid, :delta, 'pgbench');
INSERT INTO kv VALUES (:aid % 50, :delta) ON CONFLICT (k) DO UPDATE SET v = kv.v + excluded.v;
END;
};

# Runs pgbench on the source; with $background, returns its handle.
sub pgbench
{
	my ($background, @opts) = @_;
	my @args = ('-c', '2', '-j', '2', @opts);
	return start_pgbench_script($source, 'postgres', $script, @args)
	  if $background;
	my $res = pgbench_script($source, 'postgres', $script, @args);
	die "pgbench failed: $res->{stderr}" if $res->{rc} ne '0';
	return;
}

sub count_events
{
	my ($node) = @_;
	return $node->safe_psql('postgres', 'SELECT count(*) FROM events');
}

# --- SIGKILL at several points, then a restart -------------------------------

# 1,500 small transactions, one of 50,000 rows (9 MB, streamed in
# blocks and spooled by the applier), 1,500 small transactions.
my $large_rows = 50000;
pgbench(0, '-t', '1500');
my $before_large = count_events($source);
$source->safe_psql('postgres',
	"INSERT INTO events SELECT i, i, repeat('large transaction ', 10) FROM generate_series(1, $large_rows) i"
);
pgbench(0, '-t', '1500');
my $total = count_events($source);
my $endpos = current_lsn($source);
my $spool = PostgreSQL::Test::Utils::tempdir();

# Kill points: what to wait for before SIGKILL, given the number of events
# the target had when this run started.  Each run starts where the killed
# one left off, so the points move along the stream.  The spool directory
# is emptied before the run that waits for a spooled transaction, so that
# files a killed applier left behind do not count (the runs after it do
# meet such files).
my @kill_points = (
	[
		'just connected',
		sub {
			$source->safe_psql('postgres',
				"SELECT active FROM pg_replication_slots WHERE slot_name = 'ferry'"
			) eq 't';
		}
	],
	[ 'after a few batches', sub { count_events($target) >= $_[0] + 300 } ],
	[
		'inside the large transaction, spooled',
		sub {
			my @spooled = glob("$spool/*");
			@spooled && count_events($target) < $before_large + $large_rows;
		}
	],
	[
		'after the large transaction',
		sub {
			my $past = $_[0] > $before_large + $large_rows ? $_[0] : $before_large + $large_rows;
			count_events($target) >= $past + 300;
		}
	]);

my $killed_running = 0;
foreach my $point (@kill_points)
{
	my ($name, $reached) = @$point;
	my $start = count_events($target);
	unlink glob("$spool/*") if $name =~ /spooled/;
	my $run = start_follow(
		$source, $target,
		slot => 'ferry',
		endpos => $endpos,
		args => [ '--batch-rows', '100', '--spool-dir', $spool ]);
	wait_until(sub { $reached->($start) || !program_running($run) }, 120);
	my $running = program_running($run);
	my $res = finish_follow($run, 'KILL', 60);
	$killed_running++ if $running;
	note sprintf("SIGKILL %s: applier %s, target had %d of %d events at start, %d after",
		$name, $running ? 'was running' : 'had already ended',
		$start, $total, count_events($target));
	wait_slot_inactive($source, 'ferry');
}
cmp_ok($killed_running, '>=', 2,
	'SIGKILL: at least two kills hit a running applier');

follow_ok($source, $target, 'restart after SIGKILLs',
	slot => 'ferry', endpos => $endpos, args => [ '--spool-dir', $spool ]);
is(count_events($target), $total,
	'restart after SIGKILLs: no event applied twice or lost');
tables_match($source, 'postgres', $target, 'postgres', 'restart after SIGKILLs');

# --- the target ahead of the slot -------------------------------------------

# The stream starts where the slot stands, not where the target's progress
# row does: what the target has beyond is skipped as it comes.
pgbench(0, '-t', '200');
my $slot_before = slot_confirmed_flush($source, 'ferry');
my $events_before = count_events($source);
my ($proxy, $through) = start_frame_proxy($source, 'no_feedback', 'postgres');
follow_ok($source, $target, 'no status updates reach the source',
	slot => 'ferry', source_conn => $through);
$proxy->kill_kill;
is(slot_confirmed_flush($source, 'ferry'), $slot_before,
	'no status updates: the slot stayed where it was');
tables_match($source, 'postgres', $target, 'postgres', 'no status updates');
my $again = follow_ok($source, $target, 'the same transactions again', slot => 'ferry');
like($again->{stderr}, qr/applied no transaction; skipped [1-9]\d* already applied/,
	'the same transactions again: each skipped, none applied');
is(count_events($target), $events_before,
	'the same transactions again: no keyless row twice');
tables_match($source, 'postgres', $target, 'postgres', 'the same transactions again');
cmp_ok(lsn_int(slot_confirmed_flush($source, 'ferry')), '>', lsn_int($slot_before),
	'the same transactions again: the slot confirmed past them');

# --- server restarts under a running applier ---------------------------------

sub wait_for_marker
{
	my ($name) = @_;
	$source->safe_psql('postgres', "INSERT INTO marker VALUES ('$name')");
	return wait_until(
		sub {
			$target->safe_psql('postgres',
				"SELECT count(*) FROM marker WHERE name = '$name'") == 1;
		},
		120);
}

my $run = start_follow($source, $target, slot => 'ferry', endpos => 'none');

my $bench = pgbench(1, '-T', '3');
sleep 1;
$target->restart;
stop_pgbench($bench, 1);
ok(wait_for_marker('after target restart'),
	'target restart: applier reconnected and caught up');
tables_match($source, 'postgres', $target, 'postgres', 'target restart');

pgbench(0, '-t', '1000');
$source->restart;
pgbench(0, '-t', '500');
my $before_last = current_lsn($source);
ok(wait_for_marker('after source restart'),
	'source restart: applier reconnected and caught up');
tables_match($source, 'postgres', $target, 'postgres', 'source restart');

ok(program_running($run), 'server restarts: applier still running');
my $res = finish_follow($run, 'TERM', 60);
is($res->{rc}, 0, 'SIGTERM: pgferry follow exits 0')
  or diag("stderr:\n$res->{stderr}");
like($res->{stderr}, qr/\] WARNING:  (source|target): could not /,
	'server restarts: each failure is a warning naming the server');
unlike($res->{stderr}, qr/\] ERROR:/, 'server restarts: no line is an ERROR')
  or diag("stderr:\n$res->{stderr}");
cmp_ok(lsn_int(slot_confirmed_flush($source, 'ferry')),
	'>=', lsn_int($before_last),
	'SIGTERM: slot confirmed up to the last applied transaction');

done_testing();
