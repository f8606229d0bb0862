
# Key changes and every replica identity:
#   DEFAULT       rows found by primary key; keys moved, chained and reused
#                 inside one transaction;
#   USING INDEX   rows found by the chosen unique index on a table with no
#                 primary key;
#   FULL          rows found by every column, NULL-safe, including a json
#                 column (json has no equality operator) and two identical
#                 rows of which only one is updated or deleted;
#   GENERATED ALWAYS identity changed by UPDATE ... SET id = DEFAULT: no
#                 UPDATE may write the column, so the row is moved (deleted
#                 and inserted with OVERRIDING SYSTEM VALUE), keeping an
#                 unchanged TOASTed value; by key and under FULL, including a
#                 table of nothing but the identity column;
#   NOTHING       inserts apply; an update stops the applier with exit 4, a
#                 message naming the table and the REPLICA IDENTITY fix, and
#                 the slot not past the update.
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use PostgreSQL::Test::Utils;
use Test::More;

my $source = source_node('source');
my $target = target_node('target');

my $schema = q{
CREATE TABLE ri_default (id int PRIMARY KEY, v text, n numeric);
CREATE TABLE ri_composite_key (a int, b text, v text, PRIMARY KEY (b, a));
CREATE TABLE ri_index (id int, a int NOT NULL, b text NOT NULL, v text);
CREATE UNIQUE INDEX ri_index_ab ON ri_index (a, b);
ALTER TABLE ri_index REPLICA IDENTITY USING INDEX ri_index_ab;
CREATE TABLE ri_full (a int, t text, j json, jb jsonb, f float8);
ALTER TABLE ri_full REPLICA IDENTITY FULL;
CREATE TABLE ri_always (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text, big text);
CREATE TABLE ri_always_full (id int GENERATED ALWAYS AS IDENTITY, v text);
ALTER TABLE ri_always_full REPLICA IDENTITY FULL;
CREATE TABLE ri_always_only (id int GENERATED ALWAYS AS IDENTITY);
ALTER TABLE ri_always_only REPLICA IDENTITY FULL;
CREATE TABLE ri_nothing (id int, v text);
ALTER TABLE ri_nothing REPLICA IDENTITY NOTHING;
};
psql_both($source, 'postgres', $target, 'postgres', $schema);
create_slot($source, 'postgres', 'ferry');

sub stage
{
	my ($name, $sql) = @_;
	follow_stage($source, $target, $name, $sql, slot => 'ferry');
}

stage(
	'inserts under every replica identity',
	q{
	INSERT INTO ri_default SELECT i, 'v' || i, i * 1.5 FROM generate_series(1, 20) i;
	INSERT INTO ri_composite_key SELECT i, 'k' || (i % 3), 'v' || i FROM generate_series(1, 20) i;
	INSERT INTO ri_index SELECT i, i % 5, 'b' || (i / 5), 'v' || i FROM generate_series(1, 20) i;
	INSERT INTO ri_full VALUES
		(1, 'one', '{"a": 1,  "b": [1, 2]}', '{"x": 1}', 1.5),
		(2, NULL, NULL, NULL, NULL),
		(3, 'dup', '{"same": true}', '{"same": true}', 'NaN'),
		(3, 'dup', '{"same": true}', '{"same": true}', 'NaN'),
		(4, 'neg zero', '[]', '[]', '-0'),
		(NULL, NULL, 'null', 'null', NULL);
	INSERT INTO ri_nothing SELECT i, 'v' || i FROM generate_series(1, 10) i;
	});

# Key changes, applied in source order: a delete frees a key that an update
# then takes; a moved row's old key is taken by a new insert; a chain of
# moves that only works front to back; a key changed twice in one
# transaction.
stage(
	'primary key changes',
	q{
	BEGIN;
	UPDATE ri_default SET id = id + 1000 WHERE id <= 5;
	INSERT INTO ri_default VALUES (1, 'new one at a moved key', 1);
	DELETE FROM ri_default WHERE id = 7;
	UPDATE ri_default SET id = 7 WHERE id = 6;
	UPDATE ri_default SET id = 6 WHERE id = 8;
	UPDATE ri_default SET id = 8 WHERE id = 9;
	UPDATE ri_default SET id = 500, v = 'moved twice' WHERE id = 10;
	UPDATE ri_default SET id = 501 WHERE id = 500;
	COMMIT;
	UPDATE ri_default SET v = 'in place' WHERE id = 11;
	UPDATE ri_composite_key SET b = 'moved' WHERE a IN (1, 2);
	UPDATE ri_composite_key SET a = a + 100 WHERE b = 'k0';
	DELETE FROM ri_composite_key WHERE a = 4;
	});

stage(
	'replica identity USING INDEX',
	q{
	UPDATE ri_index SET v = 'updated' WHERE a = 1;
	UPDATE ri_index SET a = a + 10 WHERE b = 'b1';
	UPDATE ri_index SET id = -id WHERE b = 'b2';
	DELETE FROM ri_index WHERE a = 3;
	});

# One of two identical rows: the target must change one row, not both.
stage(
	'replica identity FULL, NULLs, json and duplicate rows',
	q{
	UPDATE ri_full SET t = 'was null' WHERE a = 2;
	UPDATE ri_full SET jb = '{"x": 2}', j = '{"a": 2}' WHERE a = 1;
	UPDATE ri_full SET t = 'one of two' WHERE ctid = (SELECT min(ctid) FROM ri_full WHERE a = 3);
	UPDATE ri_full SET f = 0 WHERE a = 4;
	UPDATE ri_full SET a = 5 WHERE a IS NULL;
	INSERT INTO ri_full VALUES (6, 'dup', NULL, NULL, NULL), (6, 'dup', NULL, NULL, NULL);
	DELETE FROM ri_full WHERE ctid = (SELECT min(ctid) FROM ri_full WHERE a = 6);
	DELETE FROM ri_full WHERE a = 2;
	});

# The rows in a batch of their own: the updates then find them on the
# target, where alone their unchanged TOASTed values are.
stage(
	'identity GENERATED ALWAYS: rows',
	q{
	INSERT INTO ri_always (v, big)
		SELECT 'v' || i, (SELECT string_agg(md5(i::text || j::text), '') FROM generate_series(1, 300) j)
		FROM generate_series(1, 4) i;
	INSERT INTO ri_always_full (v) SELECT 'v' || i FROM generate_series(1, 4) i;
	INSERT INTO ri_always_only SELECT FROM generate_series(1, 3);
	});
stage(
	'identity GENERATED ALWAYS set to DEFAULT',
	q{
	UPDATE ri_always SET id = DEFAULT WHERE id = 2;
	UPDATE ri_always SET id = DEFAULT, v = 'moved, new value' WHERE id = 3;
	UPDATE ri_always SET v = 'in place' WHERE id = 4;
	UPDATE ri_always_full SET id = DEFAULT, v = 'moved' WHERE id = 1;
	UPDATE ri_always_full SET v = 'in place' WHERE id = 2;
	UPDATE ri_always_only SET id = DEFAULT WHERE id = 2;
	});
is( $target->safe_psql('postgres',
		"SELECT string_agg(id || ':' || v || ':' || length(big), ' ' ORDER BY id) FROM ri_always"),
	'1:v1:9600 4:in place:9600 5:v2:9600 6:moved, new value:9600',
	'identity GENERATED ALWAYS set to DEFAULT: rows moved with their untouched large value');

# NOTHING through pgoutput: a publication of updates makes the source itself
# refuse them on such a table, so none can reach the stream.
if (test_plugin() eq 'pgoutput')
{
	my ($rc, $out, $err) = $source->psql('postgres',
		"UPDATE ri_nothing SET v = 'changed' WHERE id = 1");
	like($err, qr/does not have a replica identity and publishes updates/,
		'update of a REPLICA IDENTITY NOTHING table: refused by the published source');
	done_testing();
	exit;
}

# NOTHING: an update cannot be applied (no way to find the row).
$source->safe_psql('postgres',
	"INSERT INTO ri_nothing VALUES (11, 'inserted'); INSERT INTO ri_default VALUES (900, 'before the update', 0)");
my $before_update = current_lsn($source);
$source->safe_psql('postgres', "UPDATE ri_nothing SET v = 'changed' WHERE id = 1");
$source->safe_psql('postgres', "INSERT INTO ri_default VALUES (901, 'after the update', 0)");
follow_fails(
	$source, $target,
	'update of a REPLICA IDENTITY NOTHING table',
	4, [ qr/ri_nothing/, qr/REPLICA IDENTITY/i, qr/HINT: .*--exclude-tables '"public"\."ri_nothing"'/ ],
	slot => 'ferry');
ok( lsn_int(slot_confirmed_flush($source, 'ferry')) <= lsn_int($before_update),
	'update of a REPLICA IDENTITY NOTHING table: slot not advanced past the update');
is($target->safe_psql('postgres', "SELECT v FROM ri_nothing WHERE id = 1"),
	'v1', 'update of a REPLICA IDENTITY NOTHING table: target row unchanged');
is($target->safe_psql('postgres', "SELECT count(*) FROM ri_default WHERE id = 901"),
	0, 'update of a REPLICA IDENTITY NOTHING table: nothing after it applied');

# The update can never be applied; as the hint says, the other tables go on
# once the table is left out.
follow_ok($source, $target, 'the table that cannot be applied left out',
	slot => 'ferry', args => [ '--exclude-tables', '"public"."ri_nothing"' ]);
is($target->safe_psql('postgres', "SELECT count(*) FROM ri_default WHERE id = 901"),
	1, 'the table that cannot be applied left out: the changes after it applied');

done_testing();
