# A migration in the stream phase with no write on the source since its
# copy has recorded no progress yet: it is caught up, and pgferry cutover
# (without --slot) finds its slot by the migration and hands over, the
# target equal to the source row for row.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use Ferry;
use FerryMigrate;
use PostgreSQL::Test::Utils;
use Test::More;

my $source = source_node('source');
my $target = target_node('target');
create_database($source, 'shop');
create_database($target, 'shop');
$source->safe_psql('shop', q{
CREATE TABLE accounts (id serial PRIMARY KEY, owner text NOT NULL);
INSERT INTO accounts (owner) SELECT 'owner ' || g FROM generate_series(1, 500) g;
});

my $run = start_migrate($source, 'shop', $target, 'shop', '--slot', 'idle');
ok(wait_phase($target, 'shop', 'idle', 'stream', $run), 'migrate reaches the stream phase');
is($target->safe_psql('shop',
		"SELECT count(*) FROM pgferry.progress WHERE slot_name = 'idle'"),
	'0', 'no write since the copy: no progress recorded yet');

my $res = run_pgferry(
	[ 'cutover', '--source', conn($source, 'shop'), '--target', conn($target, 'shop') ],
	120);
is($res->{rc}, 0, 'cutover of an idle migration: exit 0')
  or diag($res->{stderr});
unlike($res->{stderr}, qr/no pgferry applier has recorded progress/,
	'cutover finds the migration\'s slot without progress');
like($res->{stdout} . $res->{stderr}, qr/the target is ready for writes/,
	'cutover hands over');
my ($rc) = $source->psql('shop', "INSERT INTO accounts (owner) VALUES ('late')");
isnt($rc, 0, 'the source is read-only after the cutover');
stop_migrate($run, 'TERM');
tables_match($source, 'shop', $target, 'shop', 'after cutover');

done_testing();
