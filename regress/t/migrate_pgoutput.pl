
# pgferry migrate through the built-in pgoutput (a managed source's plugin):
#   * preflight names the plugin and why; with pgoutput it blocks on a table
#     without a replica identity, whose updates a publication would make the
#     source refuse, and names it;
#   * migrate --plugin pgoutput creates the publication (marked as pgferry's
#     for the slot) before the slot, copies, and the slot follows through it:
#     the changes after the copy arrive, compared row for row.
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use FerryMigrate;
use PostgreSQL::Test::Utils;
use Test::More;

my $source = source_node('source');
my $target = target_node('target');
$source->safe_psql('postgres', q{
CREATE TABLE items (id int PRIMARY KEY, v text);
CREATE TABLE keyless (n int, v text);
INSERT INTO items SELECT i, 'item ' || i FROM generate_series(1, 500) i;
INSERT INTO keyless SELECT i, 'row ' || i FROM generate_series(1, 50) i;
});

my $res = preflight($source, 'postgres', $target, 'postgres');
like($res->{stdout}, qr/output plugin: pgferry \(installed on the source\)/,
	'preflight: pgferry where it is installed on the source');

$res = preflight($source, 'postgres', $target, 'postgres', '--plugin', 'pgoutput');
is($res->{rc}, 6, 'preflight --plugin pgoutput with a table without replica identity: blocked');
like($res->{stdout}, qr/BLOCK 1 table has no replica identity: .*public\.keyless/,
	'preflight --plugin pgoutput: the table without replica identity is named');
like($res->{stdout}, qr/REPLICA IDENTITY FULL/, 'preflight --plugin pgoutput: the fix is given');
unlike($res->{stdout}, qr/pgferry plugin is not installed|output_plugin_libraries/,
	'preflight --plugin pgoutput: no check of the pgferry plugin');
like($res->{stdout},
	qr/^WARN  DDL will not travel: the source database has no pgferry DDL capture.*\n.*\n\s+fix: CREATE EXTENSION pgferry; or, .* run sql\/pgferry_ddl\.sql/m,
	'preflight --plugin pgoutput without DDL capture: says DDL will not travel, and the fix');

$source->safe_psql('postgres', 'ALTER TABLE keyless REPLICA IDENTITY FULL');
$res = migrate($source, 'postgres', $target, 'postgres', '--slot', 'ferry',
	'--plugin', 'pgoutput', '--endpos', current_lsn($source));
is($res->{rc}, 0, 'migrate --plugin pgoutput: exit 0') or diag($res->{stderr});
like($res->{stderr}, qr/created publication "ferry" for 2 tables/,
	'migrate --plugin pgoutput: the publication is created for the tables');
is($source->safe_psql('postgres',
		q{SELECT p.plugin, obj_description(b.oid, 'pg_publication')
		  FROM pg_replication_slots p, pg_publication b WHERE p.slot_name = 'ferry'}),
	'pgoutput|pgferry: for slot ferry',
	'migrate --plugin pgoutput: a pgoutput slot, the publication marked for it');
tables_match($source, 'postgres', $target, 'postgres', 'migrate --plugin pgoutput, copy');

$source->safe_psql('postgres', q{
UPDATE items SET v = v || ' changed' WHERE id % 7 = 0;
DELETE FROM items WHERE id > 450;
UPDATE keyless SET v = 'changed' WHERE n <= 10;
DELETE FROM keyless WHERE n > 40;
});
# the slot's plugin is read from the slot: no --plugin needed to go on
$res = migrate($source, 'postgres', $target, 'postgres', '--slot', 'ferry',
	'--endpos', current_lsn($source));
is($res->{rc}, 0, 'migrate again: follows the pgoutput slot') or diag($res->{stderr});
tables_match($source, 'postgres', $target, 'postgres', 'migrate --plugin pgoutput, changes');

# finish drops the publication pgferry created for its slot, and no other:
# not one the user made (nor one marked for another slot)
$source->safe_psql('postgres', q{
CREATE PUBLICATION users_own FOR TABLE items;
CREATE PUBLICATION other_slot FOR TABLE items;
COMMENT ON PUBLICATION other_slot IS 'pgferry: for slot elsewhere';
});
my $run = start_migrate($source, 'postgres', $target, 'postgres', '--slot', 'ferry');
ok(wait_source_applied($source, 'postgres', $target, 'postgres', 'ferry'),
	'migrate in the background: following the slot');
my @conn = ('--source', conn($source, 'postgres'), '--target', conn($target, 'postgres'));
$res = run_pgferry([ 'cutover', @conn, '--slot', 'ferry' ], 120);
is($res->{rc}, 0, 'cutover of a pgoutput migration: exit 0') or diag($res->{stderr});
stop_migrate($run, 'TERM');
tables_match($source, 'postgres', $target, 'postgres', 'migrate --plugin pgoutput, after cutover');
$res = run_pgferry([ 'finish', @conn ], 60);
is($res->{rc}, 0, 'finish: exit 0') or diag($res->{stderr});
like($res->{stdout}, qr/dropped the publication pgferry made for slot "ferry"/,
	'finish: says it dropped the publication it made');
is($source->safe_psql('postgres', 'SELECT string_agg(pubname, \',\' ORDER BY pubname) FROM pg_publication'),
	'other_slot,users_own', 'finish: the publication of the slot is gone, the others stay');
$source->safe_psql('postgres',
	'SET default_transaction_read_only = off; ALTER DATABASE postgres RESET default_transaction_read_only');

# the capture installed by the SQL script alone (no C library): DDL travels
$source->safe_psql('postgres', slurp_file('sql/pgferry_ddl.sql'));
$res = preflight($source, 'postgres', $target, 'postgres', '--plugin', 'pgoutput');
like($res->{stdout}, qr/^OK    DDL travels: pgferry's event triggers capture it/m,
	'preflight --plugin pgoutput with sql/pgferry_ddl.sql installed: DDL travels');
unlike($res->{stdout}, qr/DDL will not travel/,
	'preflight --plugin pgoutput with sql/pgferry_ddl.sql installed: no warning about DDL');

done_testing();
