
# Sequences' values follow the stream (issue 10), not only at cutover: every
# --sequences-interval pgferry follow has the source send them
# (pgferry.send_sequences(), sql/pgferry_ddl.sql) in order with the rows.
#   * serial, identity, standalone and descending sequences, and one
#     created during the stream, become equal on the target at several
#     points while pgferry follow runs; the rows too;
#   * a target sequence already past the source's value is never moved
#     back;
#   * without the function on the source, follow says so once (--verbose)
#     and goes on;
#   * cutover sets every sequence to the source's last value, those the
#     stream never sent (and one created by DDL during the stream) too, so
#     the target's next values are past its rows.
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use PostgreSQL::Test::Utils;
use Test::More;

my $source = source_node('source');
my $target = target_node('target');
$_->safe_psql('postgres', slurp_file('sql/pgferry_ddl.sql')) for ($source, $target);
psql_both($source, 'postgres', $target, 'postgres', q{
CREATE TABLE serial_t (id serial PRIMARY KEY, v text);
CREATE TABLE ident_t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text);
CREATE SEQUENCE standalone;
CREATE SEQUENCE down INCREMENT -1 MAXVALUE -1 START -1;
CREATE SEQUENCE ahead;
});
create_slot($source, 'postgres', 'ferry');

# Every sequence of a node with the value it last handed out.
sub sequence_values
{
	my ($node) = @_;
	return $node->safe_psql('postgres', q{
		SELECT string_agg(format('%s=%s', c.relname,
			pg_sequence_last_value(c.oid)), ' ' ORDER BY c.relname)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'S' AND n.nspname = 'public' AND c.relname <> 'ahead'});
}

# The sequences of the target become the source's (with the rows).
sub sequences_follow
{
	my ($name) = @_;
	my $want = sequence_values($source);
	ok(wait_until(sub { sequence_values($target) eq $want }),
		"$name: the target's sequences are the source's ($want)")
	  or diag('target: ' . sequence_values($target));
}

my $run = start_follow($source, $target, slot => 'ferry', endpos => 'none',
	args => [ '--sequences-interval', '1' ]);

$source->safe_psql('postgres', q{
INSERT INTO serial_t (v) SELECT 'row ' || g FROM generate_series(1, 30) g;
INSERT INTO ident_t (v) SELECT 'row ' || g FROM generate_series(1, 20) g;
SELECT nextval('standalone') FROM generate_series(1, 7);
SELECT nextval('down') FROM generate_series(1, 3);
});
sequences_follow('first point');

# Values handed out in a transaction that rolled back stay handed out.
$source->safe_psql('postgres', q{
BEGIN;
INSERT INTO serial_t (v) SELECT 'rolled back' FROM generate_series(1, 5);
ROLLBACK;
INSERT INTO ident_t (v) VALUES ('after');
CREATE SEQUENCE created_later START 100;
SELECT nextval('created_later');
SELECT setval('standalone', 500);
});
sequences_follow('second point');

# A target sequence ahead of the source's keeps its value.
$target->safe_psql('postgres', q{SELECT setval('ahead', 1000)});
$source->safe_psql('postgres', q{SELECT setval('ahead', 10); SELECT nextval('standalone')});
sequences_follow('third point');
is($target->safe_psql('postgres', q{SELECT last_value FROM ahead}), '1000',
	'a target sequence ahead of the source is not moved back');

my $res = finish_follow($run, 'TERM');
is($res->{rc}, 0, 'pgferry follow stops cleanly');
tables_match($source, 'postgres', $target, 'postgres', 'with the sequences');

# A source without pgferry.send_sequences(): said once, the rows still go.
$source->safe_psql('postgres', q{
DROP FUNCTION pgferry.send_sequences();
INSERT INTO serial_t (v) VALUES ('no sequences');
});
$res = follow_ok($source, $target, 'source without the function', slot => 'ferry',
	args => [ '--verbose' ]);
like($res->{stderr}, qr/no function pgferry\.send_sequences\(\) .*: sequences are set at cutover only/,
	'source without the function: says so');
tables_match($source, 'postgres', $target, 'postgres', 'source without the function');

# Cutover sets every sequence past the source's last value, those the
# stream never sent too (no function to send them now; one created by DDL
# during the stream): the target's next values follow its rows.
$run = start_follow($source, $target, slot => 'ferry', endpos => 'none',
	args => [ '--sequences-interval', '1' ]);
$source->safe_psql('postgres', q{
INSERT INTO serial_t (v) SELECT 'unsent ' || g FROM generate_series(1, 10) g;
INSERT INTO ident_t (v) VALUES ('unsent');
CREATE TABLE born_late (id serial PRIMARY KEY, v text);
INSERT INTO born_late (v) SELECT 'row ' || g FROM generate_series(1, 4) g;
SELECT nextval('down');
});
$res = run_pgferry([ 'cutover', '--source', $source->connstr('postgres'),
	'--target', $target->connstr('postgres'), '--slot', 'ferry', '--timeout', '60' ], 120);
is($res->{rc}, 0, 'cutover: exit 0') or diag($res->{stderr});
finish_follow($run, 'TERM');
tables_match($source, 'postgres', $target, 'postgres', 'after cutover');
is(sequence_values($target), sequence_values($source),
	"cutover: every sequence has the source's last value, those never sent too");
is($target->safe_psql('postgres', q{
	SELECT (SELECT nextval('serial_t_id_seq') > max(id) FROM serial_t)
	   AND (SELECT nextval('ident_t_id_seq') > max(id) FROM ident_t)
	   AND (SELECT nextval('born_late_id_seq') > max(id) FROM born_late)}), 't',
	'cutover: the next value of every key sequence on the target is past its rows');

done_testing();
