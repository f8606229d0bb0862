
# pgferry migrate under a live write workload, end to end: the demo's
# sample database (41 tables: foreign keys, triggers, identity columns, a
# partitioned table, enums, domains, multi-megabyte jsonb, bytea and text)
# is migrated while pgbench writes to it through the copy and the stream;
# then pgferry cutover; then every table is compared row for row, and the
# indexes, constraints, triggers and sequences by name and definition.
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
sleep 1;

# small split size: the biggest tables are copied in several ranges
my $run = start_migrate($source, 'shop', $target, 'shop', '--slot', 'demo',
	'--jobs', '2', '--split-tables-larger-than', '2MB');
ok(wait_phase($target, 'shop', 'demo', 'stream', $run),
	'the copy ends and the slot is followed');
is($target->safe_psql('shop',
		"SELECT count(*) FILTER (WHERE snapshot_lsn IS NULL), max(ranges) > 1 FROM pgferry.copy_ranges"),
	'0|t', 'every range is copied, and some table was split in ranges');
is($target->safe_psql('shop',
		'SELECT count(*) FILTER (WHERE done_at IS NULL) FROM pgferry.post_data'),
	'0', 'every post-data statement ran');

# the stream under writes, then the switch
sleep 3;
my @cutover_cmd = ($ENV{PGFERRY} // 'pgferry', 'cutover', '--source', conn($source, 'shop'),
	'--target', conn($target, 'shop'), '--slot', 'demo');
my ($out, $err) = ('', '');

# A target still without some of its post-data is not ready: cutover
# refuses before the source stops taking writes.
$target->safe_psql('shop', 'UPDATE pgferry.post_data SET done_at = NULL WHERE position = 1');
my $refused = IPC::Run::run(\@cutover_cmd, '>', \$out, '2>', \$err);
note "pgferry cutover (post-data pending):\n$out\n$err";
is($? >> 8, 6, 'cutover with post-data not run exits 6');
like($err, qr/1 post-data statement of the migration has not run yet \(.+\).*\n.*HINT:.*pgferry status/,
	'cutover names the statement not run and what to do');
is($source->safe_psql('shop', 'SHOW default_transaction_read_only'), 'off',
	'the source still takes writes');
$target->safe_psql('shop', 'UPDATE pgferry.post_data SET done_at = now() WHERE position = 1');

($out, $err) = ('', '');
my $cutover = IPC::Run::run(\@cutover_cmd, '>', \$out, '2>', \$err);
note "pgferry cutover:\n$out\n$err";
ok($cutover, 'pgferry cutover succeeds');
like("$out$err", qr/read-only window [0-9.]+ s/, 'cutover reports the read-only window');
($out, $err) = ('', '');
IPC::Run::run([ $ENV{PGFERRY} // 'pgferry', 'status', '--source', conn($source, 'shop'),
		'--target', conn($target, 'shop'), '--slot', 'demo' ],
	'>', \$out, '2>', \$err);
like($out, qr/cutover: +the source database is read-only/, 'status shows the cutover');
my $transactions = stop_pgbench($pgbench);
my $stopped = stop_migrate($run, 'TERM');
is($stopped->{rc}, 0, 'pgferry migrate stops on SIGTERM with exit 0');
unlike($stopped->{stderr}, qr/ERROR/, 'pgferry migrate logged no error');

cmp_ok($source->safe_psql('shop', "SELECT count(*) FROM shop.orders WHERE status = 'paid' AND created_at > now() - interval '1 hour'"),
	'>', 0, 'the workload wrote during the migration');
tables_match($source, 'shop', $target, 'shop', 'after cutover');
schema_matches($source, 'shop', $target, 'shop', 'after cutover');

# the multi-megabyte values came through whole
is($target->safe_psql('shop',
		'SELECT count(*), min(octet_length(data)) > 2000000 FROM content.attachments'),
	$source->safe_psql('shop',
		'SELECT count(*), min(octet_length(data)) > 2000000 FROM content.attachments'),
	'LOB-heavy rows intact');

done_testing();
