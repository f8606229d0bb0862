
# Tasks: one database moved by two pgferry migrate processes at once, each
# with its own slot and table filters (the LOB-heavy tables apart from the
# rest, as an operator would split them), under a write workload.  The
# schema is restored once; each task copies, indexes and streams its own
# tables; together they leave the target equal to the source.  One process
# runs a task at a time, whatever its directory, and a new task may not
# take the tables of another: both are refused, changing nothing.
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use FerryMigrate;
use PostgreSQL::Test::Utils;
use Test::More;

my $source = source_node('source');
my $target = target_node('target');
my ($customers, $products) = load_sample($source, 'shop', 0.1);
create_database($target, 'shop');
my $pgbench = start_pgbench($source, 'shop', $customers, $products, rate => 100);

my $lobs = start_migrate($source, 'shop', $target, 'shop', '--slot', 'task_lobs',
	'--include-tables', 'content.*', '--jobs', '1');
my $rest = start_migrate($source, 'shop', $target, 'shop', '--slot', 'task_rest',
	'--exclude-tables', 'content.*', '--jobs', '2');

# Once the LOB task runs (its row is written after it holds its directory
# and its lock), a second run of it would share its directory (and delete
# its files): it is refused, naming the directory.
ok( $target->poll_query_until('shop',
		"SELECT count(*) FROM pgferry.migration WHERE slot = 'task_lobs'", '1'),
	'the LOB task has started');
my $again = migrate($source, 'shop', $target, 'shop', '--slot', 'task_lobs',
	'--include-tables', 'content.*');
is($again->{rc}, 1, 'a second run of the same task is refused');
like(
	$again->{stderr},
	qr/directory ".*pgferry-\d+-task_lobs" is in use by another pgferry process \(pid \d+\)\n.*HINT:  if it runs this task, stop it first; a different task needs its own --slot, and its own --dir if one is given\n/,
	'the refusal names the directory and the process, and says to stop it');

# With a directory of its own, the second run is refused all the same: the
# two would copy and apply the task's tables twice.
my $other_dir = PostgreSQL::Test::Utils::tempdir();
$again = migrate($source, 'shop', $target, 'shop', '--slot', 'task_lobs',
	'--include-tables', 'content.*', '--dir', $other_dir);
is($again->{rc}, 1, 'a second run of the same task with another --dir is refused');
like(
	$again->{stderr},
	qr/ERROR:  another pgferry process is running slot "task_lobs" on this target\n.*HINT:  stop it first; a different task needs its own --slot\n/,
	'the refusal names the slot and says another process runs it');
unlike($again->{stderr}, qr/resuming|restoring|copying/, 'the refused run did nothing');
follow_fails($source, $target, 'a follower of the slot a task runs', 1,
	[qr/another pgferry process is running slot "task_lobs" on this target/],
	slot => 'task_lobs', source_db => 'shop', target_db => 'shop',
	args => [ '--spool-dir', $other_dir ]);

ok(wait_phase($target, 'shop', 'task_lobs', 'stream', $lobs), 'the LOB task copies its tables');
ok(wait_phase($target, 'shop', 'task_rest', 'stream', $rest), 'the other task copies its tables');
is($target->safe_psql('shop', 'SELECT count(*) FROM pgferry.schema_restore'), '1',
	'the schema was restored once');
is( $target->safe_psql('shop', q{
		SELECT string_agg(DISTINCT slot || ':' || (schema_name = 'content'), ' ' ORDER BY slot || ':' || (schema_name = 'content'))
		FROM pgferry.copy_ranges WHERE kind = 'rows'}),
	'task_lobs:true task_rest:false', 'each task copied its own tables');
is($target->safe_psql('shop', 'SELECT count(*) FROM pgferry.post_data WHERE done_at IS NULL'),
	'0', 'every post-data statement ran, by one task or the other');

# A new task over every table overlaps both: it is refused before it
# changes anything (it would empty tables the others have copied, and apply
# their changes a second time).
my $state_sql = q{SELECT (SELECT string_agg(slot || ' ' || phase, ', ' ORDER BY slot) FROM pgferry.migration)
	|| ' / ' || (SELECT count(*) || ' ranges, ' || count(finished_at) || ' finished, last ' || max(finished_at)
				 FROM pgferry.copy_ranges)};
my $state_before = $target->safe_psql('shop', $state_sql);
my $country = $target->safe_psql('shop', 'SELECT min(code) FROM shop.countries');
$target->safe_psql('shop',
	"UPDATE shop.countries SET name = name || ' (on the target only)' WHERE code = '$country'");
my %held;
foreach my $slot ('task_lobs', 'task_rest')
{
	my ($count, $first) = split /\|/, $target->safe_psql('shop', qq{
		SELECT count(*), string_agg(name, ', ' ORDER BY n) FILTER (WHERE n <= 5)
		FROM (SELECT format('%I.%I', schema_name, table_name) AS name,
					 row_number() OVER (ORDER BY schema_name, table_name) AS n
			  FROM (SELECT DISTINCT schema_name, table_name FROM pgferry.copy_ranges
					WHERE slot = '$slot' AND kind = 'rows') d) t});
	$held{$slot} = $count > 5 ? "$first and " . ($count - 5) . ' more' : $first;
	$held{$slot} = "$count of this task's tables " . ($count > 1 ? 'are' : 'is')
	  . qq{ already migrated by slot "$slot": $held{$slot}};
}
my $overlap = migrate($source, 'shop', $target, 'shop', '--slot', 'task_all');
is($overlap->{rc}, 6, 'a new task taking the tables of others is refused with exit 6');
like($overlap->{stderr}, qr/ERROR:  \Q$held{$_}\E\n/, "the refusal names the tables of $_")
  foreach sort keys %held;
like($overlap->{stderr},
	qr{HINT:  Narrow this task's --include-tables/--exclude-tables so that no two tasks share a table\.  To migrate them again, stop every task, drop their slots on the source and start over with an empty target database\.},
	'the refusal says how to split the tasks, or to start over');
is($target->safe_psql('shop', $state_sql), $state_before,
	'the state of the migration is unchanged');
is($target->safe_psql('shop', "SELECT name LIKE '% (on the target only)' FROM shop.countries WHERE code = '$country'"),
	't', 'a row changed on the target only is still there: no table was copied again');
is($source->safe_psql('shop', "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'task_all'"),
	'0', 'the refused task created no slot');
$target->safe_psql('shop',
	"UPDATE shop.countries SET name = replace(name, ' (on the target only)', '') WHERE code = '$country'");

sleep 2;
stop_pgbench($pgbench);
ok(wait_source_applied($source, 'shop', $target, 'shop', 'task_lobs'), 'the LOB task catches up');
ok(wait_source_applied($source, 'shop', $target, 'shop', 'task_rest'), 'the other task catches up');
is(stop_migrate($lobs, 'TERM')->{rc}, 0, 'the LOB task stops with exit 0');
is(stop_migrate($rest, 'TERM')->{rc}, 0, 'the other task stops with exit 0');

tables_match($source, 'shop', $target, 'shop', 'two tasks');
schema_matches($source, 'shop', $target, 'shop', 'two tasks', no_sequences => 1);

# Two overlapping tasks started at once both find the tables free; the
# check made again where the tasks take turns (holding that turn here until
# both wait for it) refuses the second, which then drops its slot and its
# row: it leaves nothing behind.
create_database($target, 'shop_race');
my $turn = $target->background_psql('shop_race');
$turn->query_safe(
	"BEGIN; SELECT pg_advisory_xact_lock(hashtext('pgferry migrate schema'))");
my %race = map {
	$_ => start_migrate($source, 'shop', $target, 'shop_race', '--slot', $_,
		'--include-tables', 'content.*')
} 'race_a', 'race_b';
ok( wait_until(
		sub {
			return $target->safe_psql('shop_race', q{
				SELECT count(*) FROM pg_locks
				WHERE locktype = 'advisory' AND NOT granted
				  AND database = (SELECT oid FROM pg_database WHERE datname = 'shop_race')})
			  eq '2';
		}),
	'both tasks wait for their turn to record their tables');
$turn->quit;
my $first;
ok( wait_until(
		sub {
			$first = $target->safe_psql('shop_race',
				"SELECT slot FROM pgferry.migration WHERE phase <> 'init'");
			return $first ne '';
		}),
	'one task goes on to the copy');
my ($second) = grep { $_ ne $first } sort keys %race;
my $h = $race{$second}{harness};
ok(wait_until(sub { eval { $h->pump_nb }; !$h->pumpable }), 'the other task ends');
my $refused = stop_migrate($race{$second}, 'TERM');
is($refused->{rc}, 6, 'the other task is refused with exit 6');
like($refused->{stderr},
	qr/ERROR:  3 of this task's tables are already migrated by slot "$first": content\.attachments, content\.documents, content\.event_store\n/,
	'the refusal names the tables and the task that holds them');
is($target->safe_psql('shop_race', 'SELECT string_agg(slot, \' \') FROM pgferry.migration'),
	$first, 'the refused task left no state');
is($source->safe_psql('shop', "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$second'"),
	'0', 'the refused task dropped its slot');
stop_migrate($race{$first}, 'TERM');

done_testing();
