
# Schema changes and sequences under pgferry migrate (issue 10), with a
# table filter (--exclude-tables):
#   * a DDL on a table of the task is replayed, one on a table the filter
#     leaves out is not, nor is a new table the filter leaves out created;
#     a new table the filter keeps is replicated from its first row;
#   * a table renamed out of the task's set is no longer followed, and its
#     rename is not replayed; one renamed into it (whose rows were never
#     copied) stops pgferry with the way on: keep it out, skip the rename;
#   * a new table the filter leaves out is neither created nor dropped (a
#     one-sided pair);
#   * a statement touching a table of the task and one left out (a foreign
#     key to it: a one-sided pair) is replayed, as the task's table needs
#     it (its rows travel, the left out table's never do), when the target
#     can run it; where the table left out has no key there yet (no task
#     copied it), the target refuses it, and migrate stops (exit 4) with the
#     command, its LSN and the ways on; the task's side applied by hand,
#     the next run with --skip-ddl LSN (passed on to follow) skips it;
#   * migrate passes --sequences-interval on: with 0, the source sends no
#     value while the stream runs.
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use FerryMigrate;
use PostgreSQL::Test::Utils;
use Test::More;

my $source = source_node('source');
my $target = target_node('target');
create_database($_, 'shop') for ($source, $target);
$source->safe_psql('shop', slurp_file('sql/pgferry_ddl.sql'));
$source->safe_psql('shop', q{
CREATE TABLE kept (id serial PRIMARY KEY, v text);
CREATE TABLE left_out (id int PRIMARY KEY, v text);
CREATE TABLE moving (id int PRIMARY KEY, v text);
CREATE TABLE left_renamed (id int PRIMARY KEY, v text);
INSERT INTO kept (v) SELECT 'row ' || g FROM generate_series(1, 10) g;
INSERT INTO left_out SELECT g, 'row ' || g FROM generate_series(1, 5) g;
INSERT INTO moving SELECT g, 'row ' || g FROM generate_series(1, 3) g;
INSERT INTO left_renamed SELECT g, 'row ' || g FROM generate_series(1, 3) g;
});
my @args = ('--slot', 'ddl_task', '--exclude-tables', 'public.left*',
	'--sequences-interval', '0');

my $res = migrate($source, 'shop', $target, 'shop', @args, '--endpos', current_lsn($source));
is($res->{rc}, 0, 'the copy: pgferry migrate exits 0') or diag($res->{stderr});
my $kept_sequence = $target->safe_psql('shop', q{SELECT last_value FROM kept_id_seq});

# The columns of a table, "name type" in order.
sub columns
{
	my ($node, $table) = @_;
	return $node->safe_psql('shop', qq{
		SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
		FROM pg_attribute WHERE attrelid = to_regclass('$table')
		AND attnum > 0 AND NOT attisdropped});
}

$source->safe_psql('shop', q{
ALTER TABLE kept ADD COLUMN c text DEFAULT 'c';
INSERT INTO kept (v, c) VALUES ('with c', 'cee');
ALTER TABLE left_out ADD COLUMN d int;
INSERT INTO left_out VALUES (6, 'row 6', 6);
ALTER TABLE kept ADD COLUMN l int REFERENCES left_out (id);
UPDATE kept SET l = id WHERE id <= 6;
BEGIN;
CREATE TABLE kept_new (id int PRIMARY KEY, v text);
INSERT INTO kept_new VALUES (1, 'first row');
COMMIT;
CREATE TABLE left_new (id int PRIMARY KEY);
INSERT INTO left_new VALUES (1);
DROP TABLE left_new;
INSERT INTO moving VALUES (4, 'before the rename');
ALTER TABLE moving RENAME TO left_moved;
INSERT INTO left_moved VALUES (5, 'after the rename');
});
# The one-sided pair: the table left out has no key on the target (no task
# copied it), so the target refuses the foreign key; pgferry stops, names
# it and the way on: the task's side by hand, then migrate --skip-ddl.
$res = migrate($source, 'shop', $target, 'shop', @args, '--endpos', current_lsn($source));
is($res->{rc}, 4, 'a foreign key to a table left out: pgferry migrate exits 4');
like($res->{stderr},
	qr/could not replay the source's ALTER TABLE at [0-9A-F]+\/[0-9A-F]+: there is no unique constraint matching given keys for referenced table "left_out"/,
	'a foreign key to a table left out: the error names the command and what is missing');
like($res->{stderr}, qr/the command: ALTER TABLE kept ADD COLUMN l int REFERENCES left_out \(id\)/,
	'a foreign key to a table left out: the command is shown');
my ($lsn) = $res->{stderr} =~ /--skip-ddl ([0-9A-F]+\/[0-9A-F]+)/;
ok(defined $lsn, 'a foreign key to a table left out: the way on names --skip-ddl LSN');
$target->safe_psql('shop', 'ALTER TABLE kept ADD COLUMN l int');
$res = migrate($source, 'shop', $target, 'shop', @args, '--skip-ddl', $lsn // '0/1',
	'--endpos', current_lsn($source));
is($res->{rc}, 0, 'migrate --skip-ddl: exits 0') or diag($res->{stderr});
like($res->{stderr}, qr/skipped the source's ALTER TABLE at \Q$lsn\E \(--skip-ddl\)/,
	'migrate --skip-ddl: says what it skipped') if defined $lsn;

tables_match($source, 'shop', $target, 'shop', 'DDL under a filter',
	only => [ 'public.kept', 'public.kept_new' ]);
is(columns($target, 'kept'), columns($source, 'kept'),
	'columns added to a table of the task are replayed');
is(columns($target, 'left_out'), 'id integer, v text',
	'a column added to a table left out is not replayed');
is($target->safe_psql('shop', 'SELECT count(*) FROM left_out'), '0',
	'the rows of a table left out do not travel');
is($target->safe_psql('shop', q{SELECT to_regclass('left_new') IS NULL}), 't',
	'a new table the filter leaves out is not created, nor dropped');
is($target->safe_psql('shop', q{SELECT string_agg(id::text, ',' ORDER BY id) FROM moving}), '1,2,3,4',
	'a table renamed out of the set: kept as it was, its rename not replayed');
is($target->safe_psql('shop', q{SELECT last_value FROM kept_id_seq}), $kept_sequence,
	'--sequences-interval 0: the target sequence was not sent while following');

# A table renamed into the task's set: its rows were never copied, so
# following it from there would leave it incomplete.  pgferry stops, names
# it and the way on: keep it out, skip the rename.
$source->safe_psql('shop', q{
ALTER TABLE left_renamed RENAME TO kept_renamed;
INSERT INTO kept_renamed VALUES (4, 'after the rename');
INSERT INTO kept (v) VALUES ('after the rename');
});
$res = migrate($source, 'shop', $target, 'shop', @args, '--endpos', current_lsn($source));
is($res->{rc}, 4, 'a table renamed into the set: pgferry migrate exits 4');
like($res->{stderr},
	qr/cannot replay the source's ALTER TABLE at [0-9A-F]+\/[0-9A-F]+: it renames a table the table filters leave out to public\.kept_renamed, which they keep, and the rows it had were never copied to the target/,
	'a table renamed into the set: the error names it and why');
($lsn) = $res->{stderr} =~ /resume with --skip-ddl ([0-9A-F]+\/[0-9A-F]+)/;
like($res->{stderr}, qr/add --exclude-tables 'public\.kept_renamed' to pgferry follow/,
	'a table renamed into the set: the way on keeps it out');
$res = follow_ok($source, $target, 'the renamed table kept out', slot => 'ddl_task',
	source_db => 'shop', target_db => 'shop',
	args => [ '--exclude-tables', 'public.left*', '--exclude-tables', 'public.kept_renamed',
		'--skip-ddl', $lsn // '0/1' ]);
tables_match($source, 'shop', $target, 'shop', 'the renamed table kept out',
	only => [ 'public.kept' ]);
is($target->safe_psql('shop', q{SELECT to_regclass('kept_renamed') IS NULL}), 't',
	'the rename into the set is not replayed');

done_testing();
