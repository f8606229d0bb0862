
# A row the target lacks: an update of it that the source sends without
# its unchanged TOASTed values (so it cannot be inserted instead) stops
# follow with exit 4, naming the table, the key and the source transaction's
# commit LSN.  The batch is written again one source transaction at a time:
# the transaction before the failing one commits, nothing of the failing
# one does, its position included: once the operator has put the row back,
# follow applies the update it stopped at, and every change after it.
# The same for a row whose GENERATED ALWAYS identity is set to DEFAULT (a
# move: deleted, then inserted with the target's untouched large value)
# that the target lacks: exit 4, nothing dropped.
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use PostgreSQL::Test::Utils;
use Test::More;

my $source = source_node('source');
my $target = target_node('target');
psql_both($source, 'postgres', $target, 'postgres',
	'CREATE TABLE t (id int PRIMARY KEY, n int NOT NULL, big text NOT NULL)');
$source->safe_psql('postgres',
	'ALTER TABLE t ALTER COLUMN big SET STORAGE EXTERNAL');
create_slot($source, 'postgres', 'ferry');

follow_stage($source, $target, 'rows with TOASTed values',
	"INSERT INTO t SELECT g, 0, repeat(md5(g::text), 300) FROM generate_series(1, 3) AS g",
	slot => 'ferry');

$target->safe_psql('postgres', 'DELETE FROM t WHERE id = 2');
my $before = $target->safe_psql('postgres',
	'SELECT commit_lsn FROM pgferry.progress');
$source->safe_psql('postgres', 'UPDATE t SET n = 1 WHERE id = 1');
my $first_end = current_lsn($source);
$source->safe_psql('postgres', 'UPDATE t SET n = 1 WHERE id = 2');
$source->safe_psql('postgres', 'UPDATE t SET n = 1 WHERE id = 3');

follow_fails($source, $target, 'an update of a row the target lacks', 4,
	[
		qr/conflict: an update of table "public"\."t" finds no row with key \(id=2\)/,
		qr/HINT:  the target lacks a row the source has: insert that row/,
		qr/HINT:  this is the source transaction committed at \S+; pgferry follow --skip-lsn/
	],
	slot => 'ferry');
my $position = $target->safe_psql('postgres', 'SELECT commit_lsn FROM pgferry.progress');
ok( lsn_int($position) > lsn_int($before) && lsn_int($position) < lsn_int($first_end),
	'the position on the target is the commit of the transaction before the failing one');
is( $target->safe_psql('postgres',
		q{SELECT string_agg(id || ':' || n, ',' ORDER BY id) FROM t}),
	'1:1,3:0', 'the transaction before it committed, nothing of the failing one');
ok( lsn_int(slot_confirmed_flush($source, 'ferry')) <= lsn_int($first_end),
	'the slot is not confirmed past the failing transaction');

# The operator puts the row back as the source had it before the update.
$target->safe_psql('postgres',
	"INSERT INTO t VALUES (2, 0, repeat(md5('2'), 300))");
follow_stage($source, $target, 'after the row is put back', undef,
	slot => 'ferry');

# A GENERATED ALWAYS identity set to DEFAULT on a row the target lacks.
psql_both($source, 'postgres', $target, 'postgres', q{
CREATE TABLE ident (k int PRIMARY KEY, gid bigint GENERATED ALWAYS AS IDENTITY,
	v int, big text);
ALTER TABLE ident ALTER COLUMN big SET STORAGE EXTERNAL;
});
follow_stage($source, $target, 'identity rows with TOASTed values',
	"INSERT INTO ident (k, v, big) SELECT g, 0, repeat(md5(g::text), 300) FROM generate_series(1, 2) AS g",
	slot => 'ferry');
$target->safe_psql('postgres', 'DELETE FROM ident WHERE k = 2');
$source->safe_psql('postgres', 'UPDATE ident SET gid = DEFAULT, v = 1 WHERE k = 2');
follow_fails($source, $target, 'an identity set to DEFAULT on a row the target lacks', 4,
	[
		qr/conflict: an update of table "public"\."ident" finds no row with key \(k=2\)/,
		qr/HINT:  the target lacks a row the source has: insert that row/
	],
	slot => 'ferry');
is($target->safe_psql('postgres', q{SELECT string_agg(k || ':' || v, ',' ORDER BY k) FROM ident}),
	'1:0', 'nothing of the failing transaction is applied');
$target->safe_psql('postgres',
	"INSERT INTO ident OVERRIDING SYSTEM VALUE VALUES (2, 2, 0, repeat(md5('2'), 300))");
follow_stage($source, $target, 'after the identity row is put back', undef,
	slot => 'ferry');

done_testing();
