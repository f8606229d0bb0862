
# A source transaction the target refuses (a constraint only the target
# has), left out by LSN, as ALTER SUBSCRIPTION ... SKIP (lsn) does:
#   * follow stops with exit 4; the batch that failed is written again one
#     source transaction at a time, so that the error names the commit LSN
#     of the one transaction that fails, and the transactions before it
#     are applied;
#   * --skip-lsn with an LSN that no transaction of the stream commits at
#     is refused (exit 2) and applies nothing past the failure;
#   * --skip-lsn with the LSN the error named drops exactly that
#     transaction, says so, and applies the ones after it; given again once
#     past it, it changes nothing;
#   * the same for a streamed transaction (larger than
#     logical_decoding_work_mem, spooled until its commit).
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use PostgreSQL::Test::Utils;
use Test::More;

my $source = source_node('source');
my $target = target_node('target');
$source->safe_psql('postgres', 'CREATE TABLE t (id int PRIMARY KEY, n int NOT NULL)');
$target->safe_psql('postgres',
	'CREATE TABLE t (id int PRIMARY KEY, n int NOT NULL CHECK (n < 100))');
create_slot($source, 'postgres', 'ferry');
follow_stage($source, $target, 'rows the target takes',
	'INSERT INTO t SELECT g, 0 FROM generate_series(1, 3) g', slot => 'ferry');

# three transactions: the second one the target refuses
$source->safe_psql('postgres', 'INSERT INTO t VALUES (4, 1)');
my $before_bad = current_lsn($source);
$source->safe_psql('postgres', 'UPDATE t SET n = 500 WHERE id = 2');
my $after_bad = current_lsn($source);
$source->safe_psql('postgres', 'INSERT INTO t VALUES (5, 1)');
my $end = current_lsn($source);

my $res = follow_fails($source, $target, 'a transaction the target refuses', 4,
	[
		qr/writing the source transactions up to \S+ again, one at a time/,
		qr/violates check constraint "t_n_check"/,
		qr/HINT:  this is the source transaction committed at (\S+); pgferry follow --skip-lsn \1 leaves it out/
	],
	slot => 'ferry');
my ($bad) = $res->{stderr} =~ /source transaction committed at (\S+);/;
ok(lsn_int($bad) > lsn_int($before_bad) && lsn_int($bad) < lsn_int($after_bad),
	"the LSN named ($bad) is the refused transaction's commit");
my $rows = q{SELECT string_agg(id || ':' || n, ',' ORDER BY id) FROM t};
is($target->safe_psql('postgres', $rows), '1:0,2:0,3:0,4:1',
	'the transaction before it is applied, nothing of it or after it');

# an LSN that is no transaction's commit
my $wrong = $source->safe_psql('postgres', "SELECT '$bad'::pg_lsn - 1");
follow_fails($source, $target, '--skip-lsn of an LSN that is no commit', 2,
	[
		qr/--skip-lsn \Q$wrong\E is not the commit of a source transaction of slot "ferry": the next one commits at \Q$bad\E/,
		qr/HINT:  give the LSN that the failed transaction's message names/
	],
	slot => 'ferry', endpos => $end, args => [ '--skip-lsn', $wrong ]);
is($target->safe_psql('postgres', $rows), '1:0,2:0,3:0,4:1', '... and applies nothing');

# the LSN named: that transaction, and only it, is left out
$res = follow_ok($source, $target, '--skip-lsn of the refused transaction',
	slot => 'ferry', endpos => $end, args => [ '--skip-lsn', $bad ]);
like($res->{stderr},
	qr/left out source transaction \d+ committed at \Q$bad\E \(--skip-lsn\): 1 change not applied/,
	'... says what it left out');
is($target->safe_psql('postgres', $rows), '1:0,2:0,3:0,4:1,5:1',
	'the transactions after it are applied');

# once the source holds values the target takes, the tables match again;
# the same --skip-lsn, now behind the target's position, changes nothing
follow_stage($source, $target, 'the option given again, past its transaction',
	'UPDATE t SET n = 2 WHERE id = 2', slot => 'ferry', args => [ '--skip-lsn', $bad ]);

# a streamed transaction (spooled until its commit), refused, then left out
$source->safe_psql('postgres', q{
	BEGIN;
	INSERT INTO t SELECT g, 1 FROM generate_series(100, 3099) g;
	UPDATE t SET n = 500 WHERE id = 3099;
	COMMIT;});
$source->safe_psql('postgres', 'INSERT INTO t VALUES (6, 1)');
$end = current_lsn($source);
$res = follow_fails($source, $target, 'a streamed transaction the target refuses', 4,
	[ qr/HINT:  this is the source transaction committed at (\S+); pgferry follow --skip-lsn \1/ ],
	slot => 'ferry');
($bad) = $res->{stderr} =~ /source transaction committed at (\S+);/;
$res = follow_ok($source, $target, '--skip-lsn of the streamed transaction',
	slot => 'ferry', endpos => $end, args => [ '--skip-lsn', $bad ]);
like($res->{stderr},
	qr/left out source transaction \d+ committed at \Q$bad\E \(--skip-lsn\): \d+ bytes of streamed changes not applied/,
	'... says what it left out');
is($target->safe_psql('postgres', $rows), '1:0,2:2,3:0,4:1,5:1,6:1',
	'the streamed transaction is left out, the one after it applied');

done_testing();
