
# The read-only window of pgferry cutover, and what comes after it:
#   * two databases of one source server, one small and one 20 times
#     larger (its name needs sanitising), migrated at once with the default
#     flags: each gets its own slot, pgferry_<database>;
#   * finish refused before the cutover;
#   * cutover refused, the source never read-only, while the apply lag
#     stays above --max-lag: an applier stopped (SIGSTOP), and --max-lag 0;
#   * the cutover of each under writes: the report breaks the window into
#     the same steps at both sizes, none of which reads the tables (row
#     counts come after it), and names the LSN, the rows applied during the
#     window and the sequences set; the windows are noted, never asserted;
#   * finish refused while an applier runs; then finish leaves no pgferry
#     object on either server (catalog queries).
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use FerryMigrate;
use PostgreSQL::Test::Utils;
use Test::More;

my $source = source_node('source');
my $target = target_node('target');

my %rows = (small => 5_000, 'Large-DB' => 100_000);
my @databases = sort keys %rows;
foreach my $db (@databases)
{
	create_database($source, $db);
	create_database($target, $db);
	$source->safe_psql($db, qq{
CREATE TABLE accounts (id bigserial PRIMARY KEY, balance bigint NOT NULL,
	filler text NOT NULL);
CREATE TABLE history (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	account bigint NOT NULL, delta int NOT NULL,
	at timestamptz NOT NULL DEFAULT now());
CREATE SEQUENCE receipts;
INSERT INTO accounts (balance, filler)
	SELECT 0, repeat(md5(i::text), 3) FROM generate_series(1, $rows{$db}) i;
});
}

my %run;
$run{$_} = start_migrate($source, $_, $target, $_, '--jobs', '1') foreach @databases;

my %slot;
foreach my $db (@databases)
{
	ok( wait_until(
			sub {
				return 0 unless program_running($run{$db});
				my ($rc, $out) = $target->psql($db,
					'SELECT slot, phase FROM pgferry.migration');
				($slot{$db}) = split /\|/, $out if $rc == 0 && $out =~ /\|stream$/;
				return defined $slot{$db};
			}),
		"$db: migrated with the default flags, the slot followed");
}
is($slot{small}, 'pgferry_small', 'the default slot names the database');
like($slot{'Large-DB'}, qr/^pgferry_large_db_[0-9a-f]{8}$/,
	'a database name that is no slot name is made one, with a hash of it');
is($source->safe_psql('postgres',
		"SELECT string_agg(slot_name || ' ' || database, ', ' ORDER BY database)
		 FROM pg_replication_slots"),
	"$slot{'Large-DB'} Large-DB, pgferry_small small",
	'one slot per database of the source server');

my @conn_small = ('--source', conn($source, 'small'), '--target', conn($target, 'small'));

my $res = run_pgferry([ 'finish', @conn_small ], 60);
is($res->{rc}, 6, 'finish before the cutover: exit 6');
like($res->{stderr}, qr/no cutover from source database "small" .* is recorded here/,
	'finish before the cutover: says why');

my $workload = q{
\set aid random(1, :accounts)
\set delta random(-100, 100)
BEGIN;
UPDATE accounts SET balance = balance + :delta WHERE id = :aid;
INSERT INTO history (account, delta) VALUES (:aid, :delta);
SELECT nextval('receipts');
END;
};
my %bench;
$bench{$_} = start_pgbench_script($source, $_, $workload, '-c', '2', '-j', '2',
	'-R', '50', '-T', '300', '-D', "accounts=$rows{$_}")
  foreach @databases;
ok( wait_until(
		sub {
			$target->safe_psql('small', 'SELECT count(*) FROM history') > 20;
		}),
	'the writes reach the target');

sub source_read_only
{
	my ($db) = @_;
	return $source->safe_psql($db, q{
		SELECT count(*) FROM pg_db_role_setting d JOIN pg_database b ON b.oid = d.setdatabase
		WHERE b.datname = current_database()
		  AND 'default_transaction_read_only=on' = ANY (d.setconfig)}) eq '1';
}

# --- the gate -----------------------------------------------------------------------

my $applier = $run{small}{harness}{KIDS}[0]{PID};
kill 'STOP', $applier;
$res = run_pgferry([ 'cutover', @conn_small, '--timeout', '3' ], 60);
kill 'CONT', $applier;
is($res->{rc}, 6, 'an applier that does not apply: exit 6');
like($res->{stderr},
	qr/the appliers did not apply a write of the source within --timeout 3 s: the apply lag is above --max-lag 1 s; nothing was changed/,
	'an applier that does not apply: the lag is named');
unlike($res->{stderr}, qr/ALTER DATABASE/, 'an applier that does not apply: the source was never made read-only');
ok(!source_read_only('small'), 'an applier that does not apply: the source takes writes');

$res = run_pgferry([ 'cutover', @conn_small, '--max-lag', '0', '--timeout', '2' ], 60);
is($res->{rc}, 6, '--max-lag 0: exit 6');
like($res->{stderr},
	qr/the apply lag stayed above --max-lag 0 s for --timeout 2 s \(last measured: \d+\.\d+ s\)/,
	'--max-lag 0: the lag stays above it, and says so');
like($res->{stderr}, qr/HINT:  let the applier catch up/, '--max-lag 0: the fix is given');
ok(!source_read_only('small'), '--max-lag 0: the source takes writes');

# --- the window at two sizes ------------------------------------------------------

# The steps of the report's window: (name, seconds, detail) each.
sub window_steps
{
	my ($stdout) = @_;
	my ($block) = $stdout =~ /^  read-only window +[\d.]+ s\n((?:    .*\n)+)  after the window/m;
	return map { [/^    (\S.*?) +(\d+\.\d+) s  (.*)$/] } split /\n/, $block // '';
}

my %window;
foreach my $db (@databases)
{
	$res = run_pgferry(
		[ 'cutover', '--source', conn($source, $db), '--target', conn($target, $db) ], 120);
	is($res->{rc}, 0, "$db: cutover under writes: exit 0") or diag($res->{stderr});
	my @steps = window_steps($res->{stdout});
	is(join(', ', map { $_->[0] } @steps),
		'read-only, sessions, last LSN, applied, sequences, identity columns, target ready',
		"$db: the window's steps, none of which reads the tables");
	my %detail = map { $_->[0] => $_->[2] } @steps;
	like($detail{sessions}, qr/^2 sessions ended$/, "$db: pgbench's sessions ended");
	like($detail{'last LSN'}, qr{^[0-9A-F]+/[0-9A-F]+$}, "$db: the last LSN is reported");
	like($detail{applied},
		qr/^the target has applied the source up to \Q$detail{'last LSN'}\E; \d+ row changes? applied during the window$/,
		"$db: the rows applied during the window are reported");
	is($detail{sequences}, '3 sequences set', "$db: the sequences set are reported");
	like($res->{stdout}, qr/^  after the window.*\n    row counts +\d+\.\d+ s  equal$/m,
		"$db: the row counts come after the window, and are equal");
	($window{$db}) = $res->{stdout} =~ /^  read-only window +(\d+\.\d+) s$/m;
	note "$db ($rows{$db} accounts): read-only window $window{$db} s: "
	  . join(', ', map { "$_->[0] $_->[1] s" } @steps);
	ok(source_read_only($db), "$db: the source is read-only");
	stop_pgbench($bench{$db});
	tables_match($source, $db, $target, $db, "$db after cutover");
	is($target->safe_psql($db, "SELECT last_value FROM receipts"),
		$source->safe_psql($db, "SELECT last_value FROM receipts"),
		"$db: the sequence has the source's value");
}
note "read-only windows: small $window{small} s, Large-DB $window{'Large-DB'} s";

# --- finish ------------------------------------------------------------------------------

$res = run_pgferry([ 'finish', @conn_small ], 60);
is($res->{rc}, 6, 'finish while the applier runs: exit 6');
like($res->{stderr}, qr/replication slot "pgferry_small" is in use/,
	'finish while the applier runs: the slot is named');
is($source->safe_psql('small', "SELECT count(*) FROM pg_replication_slots WHERE database = 'small'"),
	'1', 'finish while the applier runs: the slot stays');

foreach my $db (@databases)
{
	$res = stop_migrate($run{$db}, 'TERM');
	is($res->{rc}, 0, "$db: pgferry migrate stops");
	$res = run_pgferry([ 'finish', '--source', conn($source, $db), '--target', conn($target, $db) ],
		60);
	is($res->{rc}, 0, "$db: finish: exit 0") or diag($res->{stderr});
	like($res->{stdout}, qr/^finish: dropped replication slot "\Q$slot{$db}\E" on the source$/m,
		"$db: finish says it dropped the slot");
	like($res->{stdout},
		qr/^finish: dropped schema pgferry from the target, with its state: .*table pgferry\.handover.*table pgferry\.progress.*view pgferry\.table_sync/m,
		"$db: finish lists the state it dropped");
	is($target->safe_psql($db, q{
		SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = 'pgferry')
		     + (SELECT count(*) FROM pg_class WHERE relname LIKE '%pgferry%')
		     + (SELECT count(*) FROM pg_extension WHERE extname = 'pgferry')
		     + (SELECT count(*) FROM pg_db_role_setting d JOIN pg_database b ON b.oid = d.setdatabase
		        WHERE b.datname = current_database())}),
		'0', "$db: no pgferry schema, table, extension or setting is left on the target");
	is($source->safe_psql($db, q{
		SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = 'pgferry')
		     + (SELECT count(*) FROM pg_extension WHERE extname = 'pgferry')
		     + (SELECT count(*) FROM pg_publication)}),
		'0', "$db: no pgferry schema, extension or publication on the source");
}
is($source->safe_psql('postgres', 'SELECT count(*) FROM pg_replication_slots'),
	'0', 'no replication slot is left on the source server');
ok(source_read_only('small'), 'the source stays read-only after finish');

done_testing();
