
# A migration resumed after kill -9, during the copy and during the stream,
# with a write workload running throughout:
#   * the copy is held on one table (a lock on the target), so that some
#     tables are copied and others not when pgferry migrate is killed;
#   * run again with the same arguments, it keeps the finished tables,
#     copies the unfinished ones again in a new snapshot and records that
#     snapshot's LSN for them in pgferry.table_sync;
#   * killed again while following the slot, and run again, it continues
#     from the target's recorded LSN;
#   * every table is equal to the source in the end, row for row (an
#     insert-only table without a key shows any change applied twice);
#   * the work directory keeps no schema dump once the schema is restored.
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use FerryMigrate;
use PostgreSQL::Test::Utils;
use Test::More;

my $source = source_node('source');
my $target = target_node('target');
my ($customers, $products) = load_sample($source, 'shop', 0.25);
create_database($target, 'shop');
my $pgbench = start_pgbench($source, 'shop', $customers, $products, rate => 150);
my $work_dir = PostgreSQL::Test::Utils::tempdir();
my @args = ('--slot', 'resumed', '--jobs', '2', '--split-tables-larger-than', '2MB',
	'--dir', $work_dir);

# The files of the schema dump (pg_dump's archive, its listings and SQL)
# left in the work directory.
sub dump_files
{
	opendir(my $dh, $work_dir) or die "opendir $work_dir: $!";
	my @files = sort grep { /\.(dump|sql|list|toc)$/ } readdir $dh;
	closedir $dh;
	return join(' ', @files);
}

# --- killed during the copy ---------------------------------------------------
my $run = start_migrate($source, 'shop', $target, 'shop', @args);
ok($target->poll_query_until('shop', "SELECT to_regclass('shop.countries') IS NOT NULL"),
	'the schema is restored');
# small tables are copied last, packed together: hold one of them
my $locker = $target->background_psql('shop');
$locker->query_safe('BEGIN; LOCK TABLE shop.countries IN ACCESS EXCLUSIVE MODE');
ok( wait_until(
		sub {
			return $target->safe_psql('shop', q{
				SELECT (SELECT count(snapshot_lsn) > 0 FROM pgferry.copy_ranges)
				   AND EXISTS (SELECT 1 FROM pg_stat_activity
							   WHERE wait_event_type = 'Lock'
							   AND query LIKE 'TRUNCATE ONLY shop.countries%')})
			  eq 't';
		}),
	'the copy is held on shop.countries, some tables copied');
my $killed = stop_migrate($run, 'KILL');
is($killed->{rc}, 'signal 9', 'pgferry migrate killed during the copy');
$locker->quit;

my ($consistent, $done, $left) = split /\|/, $target->safe_psql('shop', q{
	SELECT m.consistent_lsn, count(r.snapshot_lsn), count(*) - count(r.snapshot_lsn)
	FROM pgferry.migration m JOIN pgferry.copy_ranges r USING (slot)
	GROUP BY m.consistent_lsn});
# a table is consistent at one LSN: only whole tables are kept
my $kept = $target->safe_psql('shop', q{
	SELECT count(*) FROM pgferry.copy_ranges r
	WHERE snapshot_lsn IS NOT NULL
	  AND NOT EXISTS (SELECT 1 FROM pgferry.copy_ranges o
					  WHERE o.schema_name = r.schema_name AND o.table_name = r.table_name
					  AND o.snapshot_lsn IS NULL)});
cmp_ok($done, '>', 0, "$done units were copied before the kill, $kept of tables copied whole");
cmp_ok($left, '>', 0, "$left units were not");
is($target->safe_psql('shop', 'SELECT count(*) FROM shop.countries'), '0',
	'the unfinished unit left nothing on the target');
is(dump_files(), '', 'the schema restored, the work directory keeps no schema dump');

# --- resumed, then killed while following ---------------------------------------
$run = start_migrate($source, 'shop', $target, 'shop', @args);
ok(wait_phase($target, 'shop', 'resumed', 'stream', $run), 'the resumed copy ends');
ok(-d $work_dir && dump_files() eq '', 'after the copy, the work directory is there, without a schema dump');
like(slurp_file("$run->{dir}/stderr"), qr/copied again in a new snapshot/,
	'unfinished tables are copied again in a new snapshot');
is( $target->safe_psql('shop', qq{
		SELECT count(*) FROM pgferry.table_sync
		WHERE schema_name = 'shop' AND table_name = 'countries' AND lsn > '$consistent'}),
	'1',
	"a table copied again is consistent at its new snapshot's LSN, after the slot's $consistent");
is( $target->safe_psql('shop', qq{
		SELECT count(*) FROM pgferry.copy_ranges WHERE snapshot_lsn = '$consistent'}),
	$kept, 'the tables copied whole before the kill were not copied again');
ok( wait_until(
		sub {
			$target->safe_psql('shop',
				"SELECT count(*) FROM pgferry.progress WHERE slot_name = 'resumed'") eq '1';
		}),
	'the stream applies transactions');
sleep 1;
$killed = stop_migrate($run, 'KILL');
is($killed->{rc}, 'signal 9', 'pgferry migrate killed while following the slot');
wait_slot_inactive($source, 'resumed');

# --- resumed again: the stream continues ------------------------------------------
$run = start_migrate($source, 'shop', $target, 'shop', @args);
sleep 2;
my $transactions = stop_pgbench($pgbench);
ok(wait_source_applied($source, 'shop', $target, 'shop', 'resumed'),
	'the target catches up with the source');
my $stopped = stop_migrate($run, 'TERM');
is($stopped->{rc}, 0, 'pgferry migrate ends on SIGTERM with exit 0');
like($stopped->{stderr}, qr/resuming slot "resumed" after source transaction committed at/,
	'the stream resumed from the target\'s recorded LSN');

tables_match($source, 'shop', $target, 'shop', 'after two kills');
schema_matches($source, 'shop', $target, 'shop', 'after two kills', no_sequences => 1);

done_testing();
