
# Transactions in every shape the source produces them:
#   * larger than logical_decoding_work_mem (64kB) and committed, with a
#     rolled-back savepoint and a released one inside; and one aborted;
#   * prepared transactions, committed and rolled back;
#   * two sessions interleaved, the one that began first (and is streamed
#     first, being large) committing last and deleting a row the other
#     inserted: applying in begin order instead of commit order shows;
#   * concurrent clients (pgbench, 4 clients, 3 s) and many small
#     transactions (pgbench, 5,000 transactions).
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use PostgreSQL::Test::Utils;
use Test::More;

my $source = source_node('source');
my $target = target_node('target');

my $schema = q{
CREATE TABLE big (id int PRIMARY KEY, v text);
CREATE TABLE interleaved (id int PRIMARY KEY, v text);
CREATE TABLE acct (id int PRIMARY KEY, bal int NOT NULL, note text);
CREATE TABLE hist (id bigserial PRIMARY KEY, aid int NOT NULL, delta int, at timestamptz);
CREATE INDEX ON hist (aid);
CREATE TABLE kv (k int PRIMARY KEY, v bigint);
};
psql_both($source, 'postgres', $target, 'postgres', $schema);
create_slot($source, 'postgres', 'ferry');

my $spool = PostgreSQL::Test::Utils::tempdir();

sub follow_and_compare
{
	my ($name) = @_;
	follow_stage($source, $target, $name, undef, slot => 'ferry',
		args => [ '--spool-dir', $spool ]);
}

$source->safe_psql(
	'postgres', q{
BEGIN;
INSERT INTO big SELECT i, repeat('x', 100) || i FROM generate_series(1, 3000) i;
SAVEPOINT rolled_back;
INSERT INTO big SELECT i, 'rolled back insert' FROM generate_series(100001, 103000) i;
UPDATE big SET v = 'rolled back update' WHERE id <= 1000;
ROLLBACK TO rolled_back;
SAVEPOINT released;
UPDATE big SET v = 'kept update ' || id WHERE id % 3 = 0;
RELEASE released;
DELETE FROM big WHERE id % 10 = 0;
COMMIT;
});
$source->safe_psql(
	'postgres', q{
BEGIN;
INSERT INTO big SELECT i, repeat('aborted ', 20) FROM generate_series(200001, 203000) i;
UPDATE big SET v = 'aborted update';
DELETE FROM big WHERE id < 100;
ROLLBACK;
});
follow_and_compare('transactions over logical_decoding_work_mem, committed and aborted');
is($target->safe_psql('postgres', 'SELECT count(*) FROM big'),
	2700, 'large transactions: committed rows only, rolled-back savepoint absent');
my @left = glob("$spool/*");
is(scalar(@left), 0, 'large transactions: nothing left in --spool-dir after a clean exit')
  or diag("left in $spool: @left");

$source->safe_psql(
	'postgres', q{
BEGIN;
INSERT INTO big SELECT i, 'prepared, committed' FROM generate_series(300001, 300100) i;
PREPARE TRANSACTION 'ferry_commit';
BEGIN;
INSERT INTO big SELECT i, 'prepared, rolled back' FROM generate_series(400001, 400100) i;
PREPARE TRANSACTION 'ferry_rollback';
INSERT INTO big VALUES (500000, 'committed between PREPARE and COMMIT PREPARED');
COMMIT PREPARED 'ferry_commit';
ROLLBACK PREPARED 'ferry_rollback';
});
follow_and_compare('prepared transactions');

# A prepared transaction still open when a follow ends, larger than
# logical_decoding_work_mem (streamed with pgoutput), committed after: it is
# decoded at COMMIT PREPARED (two-phase decoding is not asked for), so it
# is applied then, once; one rolled back after a follow never arrives.
$source->safe_psql(
	'postgres', q{
BEGIN;
INSERT INTO big SELECT i, repeat('prepared, open ', 10) FROM generate_series(600001, 603000) i;
PREPARE TRANSACTION 'ferry_open';
BEGIN;
INSERT INTO big VALUES (700000, 'prepared, rolled back later');
PREPARE TRANSACTION 'ferry_open_rollback';
INSERT INTO big VALUES (700001, 'committed while two are prepared');
});
follow_and_compare('prepared transactions still open');
is($target->safe_psql('postgres', 'SELECT count(*) FROM big WHERE id > 600000'),
	1, 'prepared transactions still open: not applied before their commit');
$source->safe_psql('postgres',
	"COMMIT PREPARED 'ferry_open'; ROLLBACK PREPARED 'ferry_open_rollback'");
follow_and_compare('prepared transactions committed and rolled back later');
is($target->safe_psql('postgres', 'SELECT count(*) FROM big WHERE id > 600000'),
	3001, 'prepared transactions committed later: applied once, at COMMIT PREPARED');

# Changes the source itself received by replication carry a replication
# origin: a migration moves every row of the source, so they travel too
# (pgoutput's origin 'any', the default; the pgferry plugin filters none).
$source->safe_psql(
	'postgres', q{
SELECT pg_replication_origin_create('upstream');
SELECT pg_replication_origin_session_setup('upstream');
INSERT INTO big VALUES (800000, 'received by replication from upstream');
});
follow_and_compare('changes with a replication origin');
is($target->safe_psql('postgres', 'SELECT v FROM big WHERE id = 800000'),
	'received by replication from upstream',
	'changes with a replication origin: applied');

# s1 begins first and writes more than logical_decoding_work_mem, s2
# commits an insert, s1 deletes that row, s2 starts another transaction
# that commits after s1 and updates a row s1 updated.
my $s1 = $source->background_psql('postgres');
my $s2 = $source->background_psql('postgres');
$s1->query_safe(
	"BEGIN; INSERT INTO interleaved SELECT i, repeat('s1 ', 50) FROM generate_series(1, 3000) i");
$s2->query_safe("BEGIN; INSERT INTO interleaved VALUES (5000, 's2 first'); COMMIT");
$s1->query_safe(
	"DELETE FROM interleaved WHERE id = 5000; UPDATE interleaved SET v = 's1 after s2' WHERE id = 1"
);
$s2->query_safe("BEGIN; INSERT INTO interleaved VALUES (5001, 's2 second')");
$s1->query_safe("COMMIT");
$s2->query_safe(
	"UPDATE interleaved SET v = 's2 after s1' WHERE id = 1; COMMIT");
$s1->quit;
$s2->quit;
follow_and_compare('interleaved transactions');
is( $target->safe_psql(
		'postgres',
		"SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM interleaved WHERE id IN (1, 5000, 5001)"
	),
	'1:s2 after s1,5001:s2 second',
	'interleaved transactions: applied in commit order');

# pgbench: each transaction updates an account, appends to its history,
# upserts a shared counter and sometimes deletes the account's oldest
# history row.  Row locks are always taken in the same order: no deadlocks.
my $script = q{
\set aid random(1, 1000)
\set delta random(-500, 500)
BEGIN;
UPDATE acct SET bal = bal + :delta WHERE id = :aid;
INSERT INTO hist (aid, delta, at) VALUES (:aid, :delta, clock_timestamp());
INSERT INTO kv VALUES (:aid % 50, :delta) ON CONFLICT (k) DO UPDATE SET v = kv.v + excluded.v;
DELETE FROM hist WHERE id = (SELECT min(id) FROM hist WHERE aid = :aid) AND :delta > 400;
END;
};
$source->safe_psql('postgres',
	"INSERT INTO acct SELECT i, 0, 'account ' || i FROM generate_series(1, 1000) i");

sub pgbench
{
	my ($name, @opts) = @_;
	my $res = pgbench_script($source, 'postgres', $script, @opts);
	is($res->{rc}, 0, "$name: pgbench ran") or diag($res->{stderr});
	return $res->{stdout};
}

pgbench('concurrent clients', '-c', '4', '-j', '2', '-T', '3');
follow_and_compare('concurrent clients');

my $out = pgbench('many small transactions', '-c', '2', '-j', '2', '-t', '2500');
like($out, qr/number of transactions actually processed: 5000/,
	'many small transactions: 5000 transactions ran');
follow_and_compare('many small transactions');

done_testing();
