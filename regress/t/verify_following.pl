
# pgferry verify while pgferry follow applies a busy source into the target:
#   * under a write workload, rows the applier has not applied yet are not
#     reported as differences (exit 0, nothing DIFFERENT);
#   * a real difference made on the target behind the applier's back --
#     a row of a key range the workload does not touch, and a row of a
#     keyless table -- is found and named even while the workload runs;
#   * once the source is idle, verify is exact in one pass (its logical
#     message moves the applier past the source's point without any write),
#     finds the difference, and reports the pair equal once it is repaired.
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use PostgreSQL::Test::Utils;
use Test::More;

my $source = source_node('source');
my $target = target_node('target');

my $schema = q{
CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL);
CREATE TABLE history (id bigserial PRIMARY KEY, account int, delta int);
CREATE TABLE journal (account int, delta int);
};
psql_both($source, 'postgres', $target, 'postgres', $schema);
create_slot($source, 'postgres', 'ferry');
$source->safe_psql('postgres', q{
INSERT INTO accounts SELECT i, 0 FROM generate_series(1, 2000) i;
INSERT INTO history (account, delta) SELECT i % 2000 + 1, 1 FROM generate_series(1, 5000) i;
INSERT INTO journal SELECT i, -1 FROM generate_series(1, 100) i;
});
my $follow = start_follow($source, $target, slot => 'ferry', endpos => 'none',
	args => [ '--spool-dir', PostgreSQL::Test::Utils::tempdir() ]);

# The workload touches accounts 1..1000 only, appends to history and journal.
my $script = q{
\set aid random(1, 1000)
\set delta random(-100, 100)
BEGIN;
UPDATE accounts SET balance = balance + :delta WHERE id = :aid;
INSERT INTO history (account, delta) VALUES (:aid, :delta);
INSERT INTO journal VALUES (:aid, :delta);
END;
};
my $bench = start_pgbench_script($source, 'postgres', $script, '-c', '2',
	'-j', '2', '-T', '12');
ok( wait_until(
		sub {
			my ($rc, $applied) = $target->psql('postgres',
				'SELECT count(*) FROM history');
			return $rc == 0 && $applied > 6000;
		},
		30),
	'the applier follows the workload');

my @verify = (
	'verify',
	'--source' => $source->connstr('postgres'),
	'--target' => $target->connstr('postgres'),
	'--range-rows' => '500', '--lag-timeout' => '30');

my $res = run_pgferry(\@verify, 120);
is($res->{rc}, 0, 'under load: exit 0');
unlike($res->{stdout}, qr/DIFFERENT|missing on target|extra on target|changed:/,
	'under load: what the applier had not applied yet is not a difference');
like($res->{stdout}, qr/^verify: 3 tables, .* 0 different, .* 0 failed/m,
	'under load: summary');
my ($unsettled) = $res->{stdout} =~ /^verify: 3 tables, .* (\d+) not settled,/m;
if ($unsettled)
{
	like($res->{stdout}, qr/^verify: the $unsettled tables? not settled (?:was|were) not compared: .* run verify again once the writes stop/m,
		'under load: tables not settled are said not to be compared, and how to compare them');
}
else
{
	unlike($res->{stdout}, qr/not compared/, 'under load: every table settled, none is said not compared');
}

# Behind the applier's back: a row of a range the workload leaves alone.
$target->safe_psql('postgres', q{
UPDATE accounts SET balance = 999 WHERE id = 1500;
DELETE FROM journal WHERE ctid = (SELECT min(ctid) FROM journal WHERE account = 7 AND delta = -1);
});
$res = run_pgferry(\@verify, 120);
is($res->{rc}, 5, 'a real difference under load: exit 5');
like($res->{stdout}, qr/^  changed: \(id\)=\(1500\)$/m,
	'under load: the changed row is named');
# A keyless table that the workload appends to is compared by hash buckets,
# and under load its buckets may keep changing through every pass: then it
# must be reported as not settled, never as equal.
like($res->{stdout},
	qr/^  missing on target: \(7,-1\)$|^table public\.journal: NOT SETTLED/m,
	'under load: the row missing from the keyless table is printed, or the table is not settled');
unlike($res->{stdout}, qr/^  (?:missing on target|extra on target): \(id\)/m,
	'under load: no row of the appended tables is taken for a difference');

stop_pgbench($bench, 1);

# Idle: one exact pass, even though nothing is written after verify's point.
$res = run_pgferry([ @verify, '--passes', '1' ], 120);
is($res->{rc}, 5, 'idle source: exit 5');
like($res->{stdout}, qr/^table public\.accounts: DIFFERENT, source 2000 rows, target 2000 rows\n  changed: \(id\)=\(1500\)$/m,
	'idle source: the difference is named');
like($res->{stdout}, qr/^  missing on target: \(7,-1\)$/m,
	'idle source: the row missing from the keyless table is printed');
unlike($res->{stdout}, qr/NOT SETTLED/, 'idle source: everything settles in one pass');
unlike($res->{stderr}, qr/not yet/, 'idle source: the applier reached the point without a write');

$target->safe_psql('postgres',
	"UPDATE accounts SET balance = "
	  . $source->safe_psql('postgres', 'SELECT balance FROM accounts WHERE id = 1500')
	  . " WHERE id = 1500; INSERT INTO journal VALUES (7, -1)");
$res = run_pgferry([ @verify, '--passes', '1' ], 120);
is($res->{rc}, 0, 'repaired: exit 0');
like($res->{stdout}, qr/^verify: 3 tables, 3 equal, 0 different, 0 not settled, 0 failed \(1 pass/m,
	'repaired: every table equal');
tables_match($source, 'postgres', $target, 'postgres', 'repaired');

$res = finish_follow($follow, 'TERM');
is($res->{rc}, 0, 'pgferry follow stops on SIGTERM');

done_testing();
