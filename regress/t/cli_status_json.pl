# pgferry status --json: the fields of the text form, as one JSON document,
# checked against the text form and the state tables of a running
# migration (copy done, stream applying).
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use Ferry;
use FerryMigrate;
use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;

my $source = source_node('source');
my $target = target_node('target');
create_database($source, 'shop');
create_database($target, 'shop');
$source->safe_psql('shop', q{
CREATE TABLE accounts (id serial PRIMARY KEY, owner text NOT NULL);
CREATE TABLE notes (id serial PRIMARY KEY, body text);
INSERT INTO accounts (owner) SELECT 'owner ' || g FROM generate_series(1, 500) g;
});

my $run = start_migrate($source, 'shop', $target, 'shop', '--slot', 'js');
ok(wait_phase($target, 'shop', 'js', 'stream', $run), 'migrate reaches the stream phase');
$source->safe_psql('shop', "INSERT INTO notes (body) VALUES ('after the copy')");
my $lsn = $source->safe_psql('shop', 'SELECT pg_current_wal_lsn()');
ok(wait_applied($target, 'shop', 'js', $lsn), 'the write after the copy is applied');

my @conn = ('--target', conn($target, 'shop'), '--source', conn($source, 'shop'));
my $text = run_pgferry([ 'status', @conn ]);
my $res = run_pgferry([ 'status', @conn, '--json' ]);
is($res->{rc}, 0, 'status --json: exit 0');
my $doc = eval { decode_json($res->{stdout}) };
ok($doc, 'status --json: stdout is one JSON document') or diag($@);

my ($m) = @{ $doc->{migrations} // [] };
is($m->{slot}, 'js', 'json: the migration\'s slot');
is($m->{phase}, 'stream', 'json: its phase');
like($text->{stdout}, qr/^migration "js": phase stream; source database shop \(system \Q$m->{source_system_identifier}\E\)/m,
	'json: phase, source database and system as the text says');
is($m->{source_database}, 'shop', 'json: the source database');
is("$m->{copy}{tables_done}/$m->{copy}{tables}", '2/2', 'json: every table copied');
like($text->{stdout}, qr{copy:\s+2/2 tables \(\Q$m->{copy}{ranges_done}/$m->{copy}{ranges}\E ranges?\), \Q$m->{copy}{rows}\E rows},
	'json: ranges and rows as the text says');
is($m->{copy}{rows}, 500, 'json: the rows copied');
is_deeply($m->{copy}{to_copy}, [], 'json: nothing left to copy');
is($m->{post_data}{done}, $m->{post_data}{statements}, 'json: post-data done');
my $progress = $target->safe_psql('shop',
	"SELECT commit_lsn, end_lsn FROM pgferry.progress WHERE slot_name = 'js'");
is("$m->{apply}{commit_lsn}|$m->{apply}{end_lsn}", $progress,
	'json: the applied position of pgferry.progress');
like($text->{stdout}, qr/applied up to \Q$m->{apply}{commit_lsn}\E /,
	'json: the applied position the text shows');
like($m->{apply}{lag_bytes}, qr/^\d+$/, 'json: the lag in bytes');
ok(defined $m->{apply}{lag_seconds}, 'json: the lag in seconds');
is($m->{apply}{slot_active}, JSON::PP::true, 'json: the slot is in use');
is($m->{apply}{source_read_only}, JSON::PP::false, 'json: the source takes writes');
ok($m->{source_wal}{retained_bytes} > 0, 'json: the source WAL the slot holds');
is($m->{source_wal}{status}, $source->safe_psql('shop',
		"SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'js'"),
	'json: the slot\'s wal_status');
ok(defined $doc->{writes_per_second}, 'json: the target\'s writes per second');
is_deeply($doc->{follows}, [], 'json: no follow without a migration');

$res = run_pgferry([ 'status', '--target', conn($target, 'shop'), '--json' ]);
$doc = decode_json($res->{stdout});
ok(!exists $doc->{migrations}[0]{apply}{lag_bytes},
	'json without --source: no lag');
$res = run_pgferry([ 'status', '--target', conn($target, 'shop'), '--json', '--slot', 'nope' ]);
is($res->{rc}, 1, 'json, an unknown slot: exit 1');
like($res->{stderr}, qr/no migration or follow of slot "nope"/, 'json, an unknown slot: said on stderr');
is($res->{stdout}, '', 'json, an unknown slot: no document');

stop_migrate($run, 'TERM');
tables_match($source, 'shop', $target, 'shop', 'after status');
done_testing();
