
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

done_testing();
