
# The stream read ahead while the target works (pg_set_read_ahead): while
# the target cannot take a batch (its table locked by another session),
# pgferry goes on reading the source's stream, up to its bound, and no
# further; what it holds was never applied, so the slot stays where the
# target is:
#   * 60 MB of row changes behind a locked target table: pgferry's memory
#     grows past the batch it holds (it reads ahead) and stays bounded
#     (at most the batch's 16 MB, the 32 MB read ahead, and libpq's
#     buffers) while the lock holds; the slot is not confirmed past what
#     the target committed;
#   * killed with SIGKILL while it holds that, then restarted: the target
#     ends equal to the source, no row lost or applied twice;
#   * the lock released under a running applier: it goes on from what it
#     read ahead, in order, and the target ends equal.
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use PostgreSQL::Test::Utils;
use Test::More;

my $source = source_node('source');
my $target = target_node('target');

psql_both($source, 'postgres', $target, 'postgres',
	'CREATE TABLE wide (id int PRIMARY KEY, pad text NOT NULL, n int NOT NULL)');
my $start = create_slot($source, 'postgres', 'ferry');

# 60 transactions of 1,000 rows of 1 kB, then an update of every row
# (inserts first, so that the updates depend on them being applied).
$source->safe_psql(
	'postgres', q{
DO $$
BEGIN
	FOR t IN 0..59 LOOP
		INSERT INTO wide
		SELECT g, repeat(md5(g::text), 32), 0
		FROM generate_series(t * 1000 + 1, t * 1000 + 1000) AS g;
		COMMIT;
	END LOOP;
END
$$;
UPDATE wide SET n = id % 7;
});
my $endpos = current_lsn($source);

# pgferry's resident memory, in MB (0 once it ended).
sub rss_mb
{
	my ($run) = @_;
	my $pid = $run->{harness}{KIDS}[0]{PID};
	open(my $fh, '<', "/proc/$pid/status") or return 0;
	my ($kb) = join('', <$fh>) =~ /^VmRSS:\s*(\d+)/m;
	return ($kb // 0) / 1024;
}

# Starts a follow behind a lock on the target's table; returns the follow
# and the session holding the lock, once pgferry holds more than its batch.
sub follow_behind_lock
{
	my ($name) = @_;
	my $lock = $target->background_psql('postgres');
	$lock->query_safe('BEGIN');
	$lock->query_safe('LOCK TABLE wide IN ACCESS EXCLUSIVE MODE');
	my $run = start_follow($source, $target, slot => 'ferry', endpos => $endpos);
	my $peak = 0;
	ok( wait_until(
			sub {
				my $rss = rss_mb($run);
				$peak = $rss if $rss > $peak;
				$rss > 40;
			},
			120),
		"$name: the stream is read ahead while the target waits (over 40 MB held)"
	) or diag(sprintf('peak RSS %.1f MB', $peak));
	# it stops at its bound: memory stays there while the lock holds
	for (1 .. 10)
	{
		my $rss = rss_mb($run);
		$peak = $rss if $rss > $peak;
		select(undef, undef, undef, 0.2);
	}
	cmp_ok($peak, '<', 120, "$name: memory bounded while the target waits");
	is($target->safe_psql('postgres', 'SELECT count(*) FROM pgferry.progress'),
		0, "$name: nothing committed on the target");
	is(slot_confirmed_flush($source, 'ferry'),
		$start, "$name: the slot is not confirmed past what the target has");
	return ($run, $lock);
}

my ($run, $lock) = follow_behind_lock('SIGKILL');
finish_follow($run, 'KILL', 60);
$lock->quit;
wait_slot_inactive($source, 'ferry');
is($target->safe_psql('postgres', 'SELECT count(*) FROM wide'),
	0, 'SIGKILL: nothing of what was read ahead reached the target');

($run, $lock) = follow_behind_lock('lock released');
$lock->query_safe('COMMIT');
$lock->quit;
my $res = finish_follow($run, undef, 300);
is($res->{rc}, 0, 'lock released: pgferry follow ends at --endpos')
  or diag("stderr:\n$res->{stderr}");
is($target->safe_psql('postgres', 'SELECT count(*) FROM wide'),
	60000, 'lock released: every row applied once');
tables_match($source, 'postgres', $target, 'postgres', 'lock released');

done_testing();
