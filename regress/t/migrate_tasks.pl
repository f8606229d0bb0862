
# Tasks: one database moved by two pgferry migrate processes at once, each
# with its own slot and table filters (the LOB-heavy tables apart from the
# rest, as an operator would split them), under a write workload.  The
# schema is restored once; each task copies, indexes and streams its own
# tables; together they leave the target equal to the source.
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

# A second run of a task while the first goes on would share its directory
# (and delete its files): it is refused, naming the directory.
my $again = migrate($source, 'shop', $target, 'shop', '--slot', 'task_lobs',
	'--include-tables', 'content.*');
isnt($again->{rc}, 0, 'a second run of the same task is refused');
like($again->{stderr}, qr/directory ".*pgferry-\d+-task_lobs" is in use by another pgferry process \(pid \d+\).*\n.*HINT:.*--dir/,
	'the refusal names the directory, the process and --dir');

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

sleep 2;
stop_pgbench($pgbench);
ok(wait_source_applied($source, 'shop', $target, 'shop', 'task_lobs'), 'the LOB task catches up');
ok(wait_source_applied($source, 'shop', $target, 'shop', 'task_rest'), 'the other task catches up');
is(stop_migrate($lobs, 'TERM')->{rc}, 0, 'the LOB task stops with exit 0');
is(stop_migrate($rest, 'TERM')->{rc}, 0, 'the other task stops with exit 0');

tables_match($source, 'shop', $target, 'shop', 'two tasks');
schema_matches($source, 'shop', $target, 'shop', 'two tasks', no_sequences => 1);

done_testing();
