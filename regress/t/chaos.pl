
# Faults under load (make chaos; CHAOS_SECONDS long, 40 by default;
# CHAOS_SEED repeats a run, whose seed is printed).  pgbench's TPC-B and a
# script that updates TOASTed values and touches several tables per
# transaction write to the source while pgferry follow applies into the
# target; at random instants one fault is injected: SIGKILL of the
# applier, a restart of the target, pg_terminate_backend of the walsender
# or of the applier's target session, a lock held on a target table for 3
# s (past the batch time), the target's statement_timeout firing on the
# applier's statements.  After each fault the applier is restarted if it
# ended, and the fault counts as recovered once the target has applied
# what the source had committed when it was injected.  At the end every
# table is compared row for row (as multisets: pgbench_history has no key)
# and the run prints its table and one line:
#   chaos: F faults, R recovered, N rows compared, L lost, D duplicated
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use FerryMigrate qw(wait_applied);
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

my $seconds = $ENV{CHAOS_SECONDS} || 40;
my $seed = $ENV{CHAOS_SEED} || int(time() * 1000) % 1_000_000;
srand($seed);
diag("chaos: seed $seed (CHAOS_SEED=$seed repeats the run), $seconds s");

my $source = source_node('source');
my $target = target_node('target');
my $docs = q{
CREATE TABLE docs (id int PRIMARY KEY, n int NOT NULL, body text NOT NULL);
ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL;
INSERT INTO docs SELECT i, 0, string_agg(md5(i::text || j::text), '')
	FROM generate_series(1, 20) i, generate_series(1, 200) j GROUP BY i;
};
foreach my $node ($source, $target)
{
	# pgbench's initial data is the same on both servers
	my $res = IPC::Run::run([ 'pgbench', '-i', '-q', '-s', '1', $node->connstr('postgres') ],
		'>', \my $out, '2>', \my $err);
	die "pgbench -i: $err" unless $res;
	$node->safe_psql('postgres', $docs);
}
create_slot($source, 'postgres', 'chaos');
# a role of the applier's own on the target, for the statement_timeout fault
$target->safe_psql('postgres', 'CREATE ROLE applier LOGIN SUPERUSER');

# TOASTed values changed (and left unchanged), several tables in one transaction
my $toast = <<'EOS';
\set id random(1, 20)
\set aid random(1, 100000)
BEGIN;
UPDATE docs SET n = n + 1 WHERE id = :id;
UPDATE docs SET body = md5(random()::text) || substr(body, 33) WHERE id = (:id % 20) + 1;
UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :aid;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 1, :aid, 1, now());
END;
EOS
my $pgbench = start_pgbench_script($source, 'postgres', $toast,
	'-b', 'tpcb-like', '-c', '2', '-j', '2', '-R', '60', '-T', '3600');

my $run = start_follow($source, $target, slot => 'chaos', endpos => 'none', target_user => 'applier');

# The applier's target session, and the walsender that feeds it.
my $applier_session = q{SELECT pg_terminate_backend(pid) FROM pg_stat_activity
	WHERE application_name = 'pgferry' AND pid <> pg_backend_pid()};
my %faults = (
	'kill -9 of the applier' => sub { finish_follow($run, 'KILL', 30) },
	'target restart' => sub { $target->restart },
	'walsender terminated' => sub {
		$source->safe_psql('postgres',
			"SELECT pg_terminate_backend(pid) FROM pg_stat_replication WHERE application_name = 'pgferry'");
	},
	'target session terminated' => sub { $target->safe_psql('postgres', $applier_session) },
	'lock held on a target table' => sub {
		$target->safe_psql('postgres', q{
			BEGIN; LOCK pgbench_accounts IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(3); COMMIT;});
	},
	'statement_timeout on the target' => sub {
		$target->safe_psql('postgres', "ALTER ROLE applier SET statement_timeout = '5ms'");
		$target->safe_psql('postgres', $applier_session);
		sleep 2;
		$target->safe_psql('postgres', 'ALTER ROLE applier RESET statement_timeout');
		$target->safe_psql('postgres', $applier_session);
	},
);
my @kinds = sort keys %faults;
my (%injected, %recovered, @exits);

my $deadline = time() + $seconds;
while (time() < $deadline)
{
	sleep(0.5 + rand(2));
	my $kind = $kinds[ int(rand(@kinds)) ];
	my $lsn = current_lsn($source);
	note "chaos: $kind at source LSN $lsn";
	$faults{$kind}->();
	$injected{$kind}++;
	# a fault may end the applier (or be its end): it is started again
	if (!program_running($run))
	{
		my $res = finish_follow($run);
		push @exits, "$kind: exit $res->{rc}" if $res->{rc} ne 'signal 9';
		$run = start_follow($source, $target, slot => 'chaos', endpos => 'none', target_user => 'applier');
	}
	$recovered{$kind}++ if wait_applied($target, 'postgres', 'chaos', $lsn);
}

stop_pgbench($pgbench);
my $last = finish_follow($run, 'TERM', 60);
note "applier exits after faults: @exits" if @exits;
follow_ok($source, $target, 'after the faults, up to the source\'s end', slot => 'chaos',
	target_user => 'applier');

# Rows compared as multisets: lost = on the source, not (as often) on the target.
my ($compared, $lost, $duplicated) = (0, 0, 0);
foreach my $table (qw(pgbench_accounts pgbench_branches pgbench_tellers pgbench_history docs))
{
	my $columns = $source->safe_psql('postgres',
		"SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
		 WHERE attrelid = '$table'::regclass AND attnum > 0 AND NOT attisdropped");
	my $rows = table_rows($source, 'postgres', $table, $columns);
	my %count;
	$count{$_}++ for @$rows;
	$compared += @$rows;
	$count{$_}-- for @{ table_rows($target, 'postgres', $table, $columns) };
	foreach my $n (values %count)
	{
		$lost += $n if $n > 0;
		$duplicated -= $n if $n < 0;
	}
}

my $faults = 0;
my $recovered = 0;
my $report = sprintf("%-34s %8s %10s\n", 'fault', 'injected', 'recovered');
foreach my $kind (@kinds)
{
	$report .= sprintf("%-34s %8d %10d\n", $kind, $injected{$kind} // 0, $recovered{$kind} // 0);
	$faults += $injected{$kind} // 0;
	$recovered += $recovered{$kind} // 0;
}
# every transaction of the workload inserts one history row
$report .= sprintf("%-34s %8s\n", 'source transactions',
	$source->safe_psql('postgres', 'SELECT count(*) FROM pgbench_history'));
$report .= sprintf("%-34s %8d\n%-34s %8d\n%-34s %8d\n", 'rows compared', $compared,
	'rows lost', $lost, 'rows applied twice', $duplicated);
my $summary = "chaos: $faults faults, $recovered recovered, $compared rows compared, "
  . "$lost lost, $duplicated duplicated";
diag("\n$report$summary");

cmp_ok($faults, '>=', 3, 'faults were injected');
is($recovered, $faults, 'the target caught up after every fault');
cmp_ok($compared, '>', 100_000, 'every row of every table was compared');
is($lost, 0, '0 rows lost');
is($duplicated, 0, '0 rows applied twice');
tables_match($source, 'postgres', $target, 'postgres', 'after chaos');

done_testing();
