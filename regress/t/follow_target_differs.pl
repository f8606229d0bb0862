
# A target that differs from the source where PostgreSQL's own subscription
# suite (src/test/subscription) says a replica may:
#   * collations (012_collation): keys in a non-deterministic ICU collation
#     (case-insensitive) on both sides, and keys in "C" on the source but
#     in the ICU default on the target, matched by key on every update and
#     delete; a table of replica identity FULL whose rows are found by
#     their values under a non-deterministic collation;
#   * extra columns on the target (008_diff_schema): filled by their
#     defaults on insert, kept on update, and the changes still apply;
#   * triggers on the target (003_constraints): by default
#     (session_replication_role = replica) ordinary triggers do not fire,
#     ENABLE REPLICA and ENABLE ALWAYS ones do; with --fire-triggers
#     ordinary and ALWAYS ones fire, REPLICA ones do not (a trigger runs
#     under the applier's search_path, pg_catalog: its function names its
#     tables with their schema);
#   * conflicts (029_on_error): the source's row wins.  An insert of a key
#     the target already has (other values) fails as the batch's net effect
#     (a plain insert), and the batch written again in source order
#     replaces the target's row with the source's; an update of a row the
#     target lacks inserts the whole row; a delete of a row the target lacks
#     is counted and ignored.  (A change the target refuses outright stops
#     follow: follow_skip_lsn.)
#   * found by the audit of issue 16: --fire-triggers into a target that
#     keeps a GENERATED ALWAYS identity column must not turn an update into
#     a delete (the target's ON DELETE CASCADE); FULL rows equal under a
#     non-deterministic collation but not byte for byte are told apart.
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use PostgreSQL::Test::Utils;
use Test::More;

my $source = source_node('source');
my $target = target_node('target');
my $rows = sub {
	my ($node, $sql) = @_;
	return $node->safe_psql('postgres', $sql);
};

# --- collations ----------------------------------------------------------
psql_both($source, 'postgres', $target, 'postgres', q{
	CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
	CREATE TABLE ci_keys (k text COLLATE ci PRIMARY KEY, n int NOT NULL);
	CREATE TABLE ci_full (k text COLLATE ci NOT NULL, n int NOT NULL);
	ALTER TABLE ci_full REPLICA IDENTITY FULL;
});
$source->safe_psql('postgres', 'CREATE TABLE c_keys (k text COLLATE "C" PRIMARY KEY, n int NOT NULL)');
$target->safe_psql('postgres',
	'CREATE TABLE c_keys (k text COLLATE "und-x-icu" PRIMARY KEY, n int NOT NULL)');
create_slot($source, 'postgres', 'ferry');

follow_stage($source, $target, 'keys in other collations: inserts', q{
	INSERT INTO ci_keys VALUES ('Apple', 1), ('banana', 1), ('Cherry', 1);
	INSERT INTO ci_full VALUES ('Apple', 1), ('banana', 1);
	INSERT INTO c_keys VALUES ('a', 1), ('B', 1), ('_c', 1), ('é', 1);
}, slot => 'ferry');
follow_stage($source, $target, 'keys in other collations: updates and deletes', q{
	UPDATE ci_keys SET n = 2 WHERE k = 'apple';
	UPDATE ci_keys SET k = 'BANANA' WHERE k = 'banana';
	DELETE FROM ci_keys WHERE k = 'CHERRY';
	UPDATE ci_full SET n = 2 WHERE k = 'APPLE';
	DELETE FROM ci_full WHERE k = 'Banana';
	UPDATE c_keys SET n = 2 WHERE k IN ('a', '_c');
	UPDATE c_keys SET k = 'b' WHERE k = 'B';
	DELETE FROM c_keys WHERE k = 'é';
}, slot => 'ferry');
is($rows->($target, q{SELECT string_agg(k || ':' || n, ',' ORDER BY k COLLATE "C") FROM ci_keys}),
	'Apple:2,BANANA:1', 'a case-insensitive key: each change found its row');
is($rows->($target, q{SELECT string_agg(k || ':' || n, ',' ORDER BY k COLLATE "C") FROM ci_full}),
	'Apple:2', 'replica identity FULL under a case-insensitive collation: rows found by value');
is($rows->($target, q{SELECT string_agg(k || ':' || n, ',' ORDER BY k COLLATE "C") FROM c_keys}),
	'_c:2,a:2,b:1', '"C" keys on the source, ICU keys on the target');

# --- extra columns on the target -------------------------------------------
$source->safe_psql('postgres', 'CREATE TABLE extra (id int PRIMARY KEY, a text NOT NULL)');
$target->safe_psql('postgres', q{
	CREATE TABLE extra (id int PRIMARY KEY, a text NOT NULL,
		origin text NOT NULL DEFAULT 'migrated', seen int DEFAULT 7)});
follow_ok($source, $target, 'extra columns: before', slot => 'ferry');
$source->safe_psql('postgres', q{
	INSERT INTO extra SELECT g, 'v' || g FROM generate_series(1, 4) g;
	UPDATE extra SET a = 'changed' WHERE id = 2;
	DELETE FROM extra WHERE id = 3;
});
follow_ok($source, $target, 'extra columns on the target', slot => 'ferry');
is($rows->($target, q{SELECT string_agg(concat_ws(':', id, a, origin, seen), ',' ORDER BY id) FROM extra}),
	'1:v1:migrated:7,2:changed:migrated:7,4:v4:migrated:7',
	'the changes apply, the extra columns hold their defaults');
$target->safe_psql('postgres', q{UPDATE extra SET origin = 'kept' WHERE id = 4});
$source->safe_psql('postgres', q{UPDATE extra SET a = 'again' WHERE id = 4});
follow_ok($source, $target, 'an update after the target set an extra column', slot => 'ferry');
is($rows->($target, 'SELECT concat_ws(\':\', id, a, origin, seen) FROM extra WHERE id = 4'),
	'4:again:kept:7', 'an update leaves the extra columns as the target has them');

# --- triggers on the target --------------------------------------------------
$source->safe_psql('postgres', 'CREATE TABLE fired (id int PRIMARY KEY)');
$target->safe_psql('postgres', q{
	CREATE TABLE fired (id int PRIMARY KEY);
	CREATE TABLE fired_log (id int, kind text);
	CREATE FUNCTION log_fired() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN INSERT INTO public.fired_log VALUES (NEW.id, TG_ARGV[0]); RETURN NEW; END $$;
	CREATE TRIGGER t_origin AFTER INSERT ON fired FOR EACH ROW EXECUTE FUNCTION log_fired('origin');
	CREATE TRIGGER t_replica AFTER INSERT ON fired FOR EACH ROW EXECUTE FUNCTION log_fired('replica');
	CREATE TRIGGER t_always AFTER INSERT ON fired FOR EACH ROW EXECUTE FUNCTION log_fired('always');
	ALTER TABLE fired ENABLE REPLICA TRIGGER t_replica;
	ALTER TABLE fired ENABLE ALWAYS TRIGGER t_always;
});
follow_ok($source, $target, 'triggers: before', slot => 'ferry');
$source->safe_psql('postgres', 'INSERT INTO fired VALUES (1)');
follow_ok($source, $target, 'triggers, by default', slot => 'ferry');
$source->safe_psql('postgres', 'INSERT INTO fired VALUES (2)');
follow_ok($source, $target, 'triggers, --fire-triggers', slot => 'ferry', args => ['--fire-triggers']);
is($rows->($target, q{SELECT string_agg(id || ':' || kind, ',' ORDER BY id, kind) FROM fired_log}),
	'1:always,1:replica,2:always,2:origin',
	'by default REPLICA and ALWAYS triggers fire; with --fire-triggers ordinary and ALWAYS ones');

# --- conflicts ---------------------------------------------------------------
$source->safe_psql('postgres', 'CREATE TABLE c (id int PRIMARY KEY, v text NOT NULL)');
$target->safe_psql('postgres', 'CREATE TABLE c (id int PRIMARY KEY, v text NOT NULL)');
follow_stage($source, $target, 'conflicts: rows on both sides',
	q{INSERT INTO c SELECT g, 'source' FROM generate_series(1, 3) g}, slot => 'ferry');

# a row the target lacks: its update inserts the whole row, its delete is ignored
$target->safe_psql('postgres', 'DELETE FROM c WHERE id IN (1, 2)');
$source->safe_psql('postgres', q{UPDATE c SET v = 'updated' WHERE id = 1});
$source->safe_psql('postgres', 'DELETE FROM c WHERE id = 2');
my $res = follow_ok($source, $target, 'an update and a delete of rows the target lacks', slot => 'ferry');
like($res->{stderr}, qr/1 delete found no row on the target \(ignored\)/, '... the delete, counted');
is($rows->($target, q{SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM c}),
	'1:updated,3:source', '... and the target equals the source');

# a key the target already has, with other values: the source's row replaces it
$target->safe_psql('postgres', q{INSERT INTO c VALUES (4, 'target')});
$source->safe_psql('postgres', q{INSERT INTO c VALUES (4, 'source')});
$res = follow_ok($source, $target, 'an insert of a key the target has', slot => 'ferry');
like($res->{stderr}, qr/1 batch was written again in source order/,
	'... its net effect failed, source order wrote it');
is($rows->($target, 'SELECT v FROM c WHERE id = 4'), 'source', '... the source\'s row replaced the target\'s');
tables_match($source, 'postgres', $target, 'postgres', 'after the conflicts');

# --- found by the audit of issue 16 (each compares its own tables only) -------
# --fire-triggers into a target that keeps a GENERATED ALWAYS identity: an
# update that leaves the identity alone is an update for the target's foreign
# keys too, never a delete and an insert (ON DELETE CASCADE would take the
# child rows with it).
psql_both($source, 'postgres', $target, 'postgres', q{
	CREATE TABLE parent (k int PRIMARY KEY, gid bigint GENERATED ALWAYS AS IDENTITY, v int);
	CREATE TABLE child (id int PRIMARY KEY, k int REFERENCES parent ON DELETE CASCADE);
});
$source->safe_psql('postgres', q{
	INSERT INTO parent (k, v) VALUES (1, 0), (2, 0);
	INSERT INTO child VALUES (10, 1), (20, 2);
});
follow_ok($source, $target, 'an identity table and its child rows', slot => 'ferry');
$source->safe_psql('postgres', 'UPDATE parent SET v = 1 WHERE k = 1');
follow_ok($source, $target, 'an identity table updated, --fire-triggers',
	slot => 'ferry', args => ['--fire-triggers']);
tables_match($source, 'postgres', $target, 'postgres',
	'an identity table updated, --fire-triggers', only => [ 'public.parent', 'public.child' ]);

# Replica identity FULL under a non-deterministic collation: two rows equal
# under it ('Date' and 'date') are told apart by their bytes; the row the
# source changed is changed, not the first equal one.
$source->safe_psql('postgres', q{
	INSERT INTO ci_full VALUES ('Date', 3), ('date', 3);
	DELETE FROM ci_full WHERE ctid = (SELECT ctid FROM ci_full WHERE k COLLATE "C" = 'date');
	INSERT INTO ci_full VALUES ('Fig', 4), ('fig', 4);
	UPDATE ci_full SET n = 5 WHERE ctid = (SELECT ctid FROM ci_full WHERE k COLLATE "C" = 'fig');
});
follow_ok($source, $target, 'FULL rows equal under the collation, changed',
	slot => 'ferry');
is($rows->($target, q{SELECT string_agg(k || ':' || n, ',' ORDER BY k COLLATE "C") FROM ci_full}),
	'Apple:2,Date:3,Fig:4,fig:5',
	'replica identity FULL under a case-insensitive collation: the row the source changed, not an equal one');

done_testing();
