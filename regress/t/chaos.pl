
# Faults under load (make chaos; CHAOS_SECONDS long, 40 by default;
# CHAOS_SEED repeats a run, whose seed is printed).
#
# First the copy: pgferry migrate copies the demo database under its write
# workload and is killed (SIGKILL) at random instants of its copy phase,
# then run again with the same arguments, until it follows the slot.
#
# Then the stream: pgbench's TPC-B and a script that updates TOASTed values
# and touches several tables per transaction write to the source while
# pgferry follow applies into the target; at random instants one fault is
# injected (each kind at least once, then at random): SIGKILL of the
# applier; a restart of the target; a crash (immediate stop) and restart of
# the source; pg_terminate_backend of the walsender or of the applier's
# target session; a lock held on a target table for 3 s (past the batch
# time); the target's statement_timeout firing on the applier's
# statements; the spool directory's disk full while a transaction larger
# than logical_decoding_work_mem streams (the applier must name the spool
# file, and go on once the space is back: run-tests mounts a small tmpfs,
# PGFERRY_TEST_SMALL_FS, for it; without one that fault is left out).
#
# After each fault the applier is restarted if it ended, and the fault
# counts as recovered once the target has applied what the source had
# committed when it was injected.  At the end every table is compared row
# for row (as multisets: pgbench_history has no key) and the run prints its
# table and one line:
#   chaos: F faults, R recovered, N rows compared, L lost, D duplicated
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use FerryMigrate;
use IPC::Run;
use List::Util qw(shuffle);
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

my $seconds = $ENV{CHAOS_SECONDS} || 40;
my $seed = $ENV{CHAOS_SEED} || int(time() * 1000) % 1_000_000;
srand($seed);
diag("chaos: seed $seed (CHAOS_SEED=$seed repeats the run), $seconds s");

my $source = source_node('source');
my $target = target_node('target');
my (%injected, %recovered, @exits);

# --- the copy ------------------------------------------------------------
my $copy_kill = 'kill -9 of migrate in its copy';
my ($customers, $products) = load_sample($source, 'shop', 0.25);
create_database($target, 'shop');
my $shop_pgbench = start_pgbench($source, 'shop', $customers, $products, rate => 50);
my @migrate_args = ('--slot', 'copy', '--jobs', '2', '--split-tables-larger-than', '2MB');
my $migrate = start_migrate($source, 'shop', $target, 'shop', @migrate_args);
my $phase = sub {
	my ($rc, $out) = $target->psql('shop', "SELECT phase FROM pgferry.migration WHERE slot = 'copy'");
	return $rc == 0 ? $out : '';
};
my @copy_lsns;
for (1 .. 3)
{
	wait_until(sub { $phase->() =~ /^(copy|stream)$/ || !program_running($migrate) });
	sleep(0.2 + rand(1));
	last unless $phase->() eq 'copy' && program_running($migrate);
	push @copy_lsns, current_lsn($source);
	note "chaos: $copy_kill at source LSN $copy_lsns[-1]";
	stop_migrate($migrate, 'KILL');
	$injected{$copy_kill}++;
	$migrate = start_migrate($source, 'shop', $target, 'shop', @migrate_args);
}
ok(wait_phase($target, 'shop', 'copy', 'stream', $migrate), 'migrate, killed in its copy, follows in the end');
foreach my $lsn (@copy_lsns)
{
	$recovered{$copy_kill}++ if wait_applied($target, 'shop', 'copy', $lsn);
}
stop_pgbench($shop_pgbench);
ok(wait_source_applied($source, 'shop', $target, 'shop', 'copy'), 'migrate applied the workload');
my $res = stop_migrate($migrate, 'TERM');
is($res->{rc}, 0, 'migrate stops on SIGTERM with exit 0');

# --- the stream ----------------------------------------------------------
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
my @workload = ($source, 'postgres', $toast, '-b', 'tpcb-like', '-c', '2', '-j', '2', '-R', '60',
	'-T', '3600');
my $pgbench = start_pgbench_script(@workload);

# A small filesystem for the spool directory, when run-tests could mount one.
my $small_fs = $ENV{PGFERRY_TEST_SMALL_FS};
my $spool_dir = $small_fs ? "$small_fs/spool" : undef;
my @follow = (slot => 'chaos', endpos => 'none', target_user => 'applier',
	args => $spool_dir ? [ '--spool-dir', $spool_dir ] : []);
$source->safe_psql('postgres', 'CREATE TABLE spooled (id int PRIMARY KEY, body text NOT NULL)');
$target->safe_psql('postgres', 'CREATE TABLE spooled (id int PRIMARY KEY, body text NOT NULL)');
my $spooled = 0;
my $spool_named = 0;

my $run = start_follow($source, $target, @follow);

# The applier's target session, and the walsender that feeds it.
my $applier_session = q{SELECT pg_terminate_backend(pid) FROM pg_stat_activity
	WHERE application_name = 'pgferry' AND pid <> pg_backend_pid()};
my %faults = (
	'kill -9 of the applier' => sub { finish_follow($run, 'KILL', 30) },
	'target restart' => sub { $target->restart },
	'source crash and restart' => sub {
		# the workload's sessions end with the server: it starts again
		stop_pgbench($pgbench);
		$source->stop('immediate');
		$source->start;
		$pgbench = start_pgbench_script(@workload);
	},
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
$faults{'spool directory full'} = sub {
	# the disk filled up, then a transaction of about 2 MB (streamed: more
	# than logical_decoding_work_mem) that the applier must spool
	my $named = () = slurp_file("$run->{dir}/stderr") =~ /No space left on device/g;
	open(my $filler, '>', "$small_fs/filler") or die "$small_fs/filler: $!";
	1 while print $filler ('x' x 65536);
	close($filler);
	$source->safe_psql('postgres',
		"INSERT INTO spooled SELECT g, repeat(md5(g::text), 32) FROM generate_series($spooled + 1, $spooled + 2000) g"
	);
	$spooled += 2000;
	$spool_named++ if wait_until(
		sub {
			my $err = slurp_file("$run->{dir}/stderr");
			my $now = () = $err =~
			  m{could not (?:create|write|rewind) spool file "\Q$spool_dir\E/\d+\.spool": No space left on device}g;
			return $now > $named;
		},
		60);
	unlink("$small_fs/filler") or die "$small_fs/filler: $!";
} if $small_fs;
diag('chaos: no small filesystem (PGFERRY_TEST_SMALL_FS): the spool directory full is left out')
  unless $small_fs;
my @kinds = sort keys %faults;
# each kind once, in random order, then kinds at random
my @first = shuffle(@kinds);

my $deadline = time() + $seconds;
while (time() < $deadline || @first)
{
	sleep(0.5 + rand(2));
	my $kind = shift(@first) // $kinds[ int(rand(@kinds)) ];
	my $lsn = current_lsn($source);
	note "chaos: $kind at source LSN $lsn";
	$faults{$kind}->();
	$injected{$kind}++;
	# a fault may end the applier (or be its end): it is started again
	if (!program_running($run))
	{
		my $res = finish_follow($run);
		push @exits, "$kind: exit $res->{rc}" if $res->{rc} ne 'signal 9';
		$run = start_follow($source, $target, @follow);
	}
	$recovered{$kind}++ if wait_applied($target, 'postgres', 'chaos', $lsn);
}

stop_pgbench($pgbench);
my $last = finish_follow($run, 'TERM', 60);
note "applier exits after faults: @exits" if @exits;
follow_ok($source, $target, 'after the faults, up to the source\'s end', @follow, endpos => undef);

# Rows compared as multisets: lost = on the source, not (as often) on the target.
my ($compared, $lost, $duplicated) = (0, 0, 0);
foreach my $table ((map { [ 'shop', $_ ] } Ferry::user_tables($source, 'shop')),
	(map { [ 'postgres', $_ ] } Ferry::user_tables($source, 'postgres')))
{
	my ($db, $name) = @$table;
	my $columns = $source->safe_psql($db,
		"SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
		 WHERE attrelid = '$name'::regclass AND attnum > 0 AND NOT attisdropped");
	my $rows = table_rows($source, $db, $name, $columns);
	my %count;
	$count{$_}++ for @$rows;
	$compared += @$rows;
	$count{$_}-- for @{ table_rows($target, $db, $name, $columns) };
	foreach my $n (values %count)
	{
		$lost += $n if $n > 0;
		$duplicated -= $n if $n < 0;
	}
}

my $faults = 0;
my $recovered = 0;
my $report = sprintf("%-34s %8s %10s\n", 'fault', 'injected', 'recovered');
foreach my $kind ($copy_kill, @kinds)
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
ok($injected{$_}, "injected: $_") foreach ($copy_kill, @kinds);
is($spool_named, $injected{'spool directory full'}, 'a full spool directory: the error names the spool file')
  if $small_fs;
is($recovered, $faults, 'the target caught up after every fault');
cmp_ok($compared, '>', 100_000, 'every row of every table was compared');
is($lost, 0, '0 rows lost');
is($duplicated, 0, '0 rows applied twice');
# which tables differ, and how (a second full comparison: only when needed)
if ($lost || $duplicated)
{
	tables_match($source, 'postgres', $target, 'postgres', 'after chaos');
	tables_match($source, 'shop', $target, 'shop', 'after chaos in the copy');
}

done_testing();
