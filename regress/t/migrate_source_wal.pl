
# The source's WAL that the slot holds while the copy runs
# (docs/design.md, promise 1: nothing is lost, and the operator is warned
# before the source's disk or max_slot_wal_keep_size ends the migration):
#   * preflight estimates it (the source's WAL rate times the copy's time)
#     and warns, with the fix, when max_slot_wal_keep_size is smaller;
#   * a slot the source invalidated is reported as such, with the way on,
#     by follow (which stops instead of retrying) and by status;
#   * migrate warns when the slot passes --max-retained-wal, and status
#     shows what the slot holds.
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use FerryMigrate;
use PostgreSQL::Test::Utils;
use Test::More;

my $source = source_node('source');
my $target = target_node('target');

my $schema = q{
CREATE TABLE items (id int PRIMARY KEY, body text);
CREATE TABLE churn (id bigserial PRIMARY KEY, body text);
};
psql_both($source, 'postgres', $target, 'postgres', $schema);
$source->safe_psql('postgres', q{
INSERT INTO items SELECT i, repeat(md5(i::text), 30) FROM generate_series(1, 20000) i;
ALTER SYSTEM SET max_slot_wal_keep_size = '1MB';
SELECT pg_reload_conf();
});

# About 1 MB of WAL a transaction, ten a second.
my $writer = start_pgbench_script($source, 'postgres',
	"INSERT INTO churn (body) SELECT repeat('x', 1000) FROM generate_series(1, 1000);",
	'-c', '1', '-R', '10', '-T', '600');

my $res = preflight($source, 'postgres', $target, 'postgres', '--jobs', '1');
like($res->{stdout},
	qr/^WARN +the slot would hold about .+ of WAL by the end of the copy; max_slot_wal_keep_size = 1\.0 MB\n.*the source writes .+\/s of WAL .*--jobs 1 \(an estimate\)\n.*invalidates the slot.*\n.*fix: ALTER SYSTEM SET max_slot_wal_keep_size = '\d+MB'/m,
	'preflight: the WAL the slot would hold, against max_slot_wal_keep_size, with the fix');

# A slot the source invalidates.
create_slot($source, 'postgres', 'lost');
$source->safe_psql('postgres', "UPDATE items SET body = 'followed' WHERE id = 1");
follow_ok($source, $target, 'before the invalidation', slot => 'lost');
ok( wait_until(
		sub {
			sleep(1);
			$source->safe_psql('postgres', 'SELECT pg_switch_wal(); CHECKPOINT;');
			$source->safe_psql('postgres',
				"SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'lost'") eq
			  'lost';
		}),
	'the source invalidates the slot past max_slot_wal_keep_size');
follow_fails(
	$source, $target, 'an invalidated slot', 1,
	[
		qr/ERROR: +source: slot "lost" was invalidated: the source removed WAL it still held, past max_slot_wal_keep_size/,
		qr/HINT: +.*copy again\. Drop the slot on the source \(SELECT pg_drop_replication_slot\('lost'\);\)/
	],
	slot => 'lost');
$res = run_pgferry(
	[
		'status', '--target', conn($target, 'postgres'),
		'--source', conn($source, 'postgres')
	]);
like($res->{stdout},
	qr/^follow "lost":\n(?:.*\n)*  source WAL: slot invalidated: .*\n +fix: .*copy again/m,
	'status reports the invalidated slot and the way on');

# A migration under writes, warned past --max-retained-wal.
$source->safe_psql('postgres', q{
ALTER SYSTEM RESET max_slot_wal_keep_size;
SELECT pg_reload_conf();
SELECT pg_drop_replication_slot('lost');
});
create_database($target, 'moved');
my $run = start_migrate($source, 'postgres', $target, 'moved', '--slot', 'moved',
	'--max-retained-wal', '64kB');
ok(wait_phase($target, 'moved', 'moved', 'stream', $run), 'the migration streams');
$res = run_pgferry(
	[
		'status', '--target', conn($target, 'moved'),
		'--source', conn($source, 'postgres')
	]);
like($res->{stdout},
	qr/^  source WAL: [0-9.]+ [kMG]?B of WAL held \((?:reserved|extended); no max_slot_wal_keep_size\)$/m,
	'status shows the WAL the slot holds');
stop_pgbench($writer);
my $stopped = stop_migrate($run, 'TERM');
is($stopped->{rc}, 0, 'migrate stops on SIGTERM with exit 0');
like($stopped->{stderr},
	qr/WARNING: +slot "moved": [0-9.]+ [kMG]?B of WAL held \(.*\), past --max-retained-wal 64\.0 kB/,
	'migrate warns when the slot holds more than --max-retained-wal');

done_testing();
