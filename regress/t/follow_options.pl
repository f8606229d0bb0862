
# Options of pgferry follow, each proved by what lands on the target:
#   --include-tables / --exclude-tables  only the chosen tables are applied;
#                       an excluded table need not exist on the target;
#   --fire-triggers     target triggers fire only with it (the applier runs
#                       as session_replication_role = replica otherwise);
#   --create-slot       creates the slot, which then streams everything
#                       after it;
#   --batch-rows 1, --batch-time-ms 1, -v: same result, one row per batch;
#   --help              documents the exit codes.
# Table patterns are written as schema.table with * wildcards.
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use PostgreSQL::Test::Utils;
use Test::More;

my $source = source_node('source');
my $target = target_node('target');

my $res = run_pgferry([ 'follow', '--help' ]);
is($res->{rc}, 0, '--help: exit 0');
like($res->{stdout}, qr/exit/i, '--help: documents exit codes');
like($res->{stdout}, qr/--include-tables/, '--help: lists --include-tables');

my $app_schema = q{
CREATE SCHEMA app;
CREATE TABLE app.orders (id int PRIMARY KEY, v text);
CREATE TABLE app.items (id int PRIMARY KEY, order_id int, v text);
CREATE TABLE app.skip_me (id int PRIMARY KEY, v text);
CREATE TABLE public.misc (id int PRIMARY KEY, v text);
CREATE TABLE public.other (id int PRIMARY KEY, v text);
CREATE TABLE fired (id int PRIMARY KEY, v text);
};
my $audit_schema = q{
CREATE SCHEMA audit;
CREATE TABLE audit.log (id int PRIMARY KEY, v text);
};
# Target only: a trigger recording every row change of `fired`.  Its
# function names the schema: the applier's session (like PostgreSQL's own
# apply workers) runs with an empty search_path.
my $trigger = q{
CREATE TABLE trig_log (op text, id int);
CREATE FUNCTION log_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.trig_log VALUES (TG_OP, CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END);
	RETURN NULL;
END $$;
CREATE TRIGGER log_change AFTER INSERT OR UPDATE OR DELETE ON fired
	FOR EACH ROW EXECUTE FUNCTION log_change();
};

$source->safe_psql('postgres', $app_schema . $audit_schema);
# The filtered targets lack the audit schema: excluded tables need not exist.
foreach my $db (qw(filtered excluded trig_off trig_on created))
{
	create_database($target, $db);
	$target->safe_psql($db,
		$app_schema
		  . ($db =~ /^trig/ ? $trigger : '')
		  . ($db =~ /^(filtered|excluded)$/ ? '' : $audit_schema));
}
create_slot($source, 'postgres', $_) for qw(filtered excluded trig_off trig_on);

$res = follow($source, $target, slot => 'created', target_db => 'created',
	args => ['--create-slot']);
is($res->{rc}, 0, '--create-slot: exit 0') or diag($res->{stderr});
is( $source->safe_psql(
		'postgres',
		"SELECT plugin FROM pg_replication_slots WHERE slot_name = 'created'"),
	'pgferry',
	'--create-slot: slot created with the pgferry plugin');

$source->safe_psql(
	'postgres', q{
INSERT INTO app.orders SELECT i, 'o' || i FROM generate_series(1, 50) i;
INSERT INTO app.items SELECT i, i % 50 + 1, 'i' || i FROM generate_series(1, 200) i;
INSERT INTO app.skip_me SELECT i, 's' || i FROM generate_series(1, 50) i;
INSERT INTO misc SELECT i, 'm' || i FROM generate_series(1, 50) i;
INSERT INTO other SELECT i, 'x' || i FROM generate_series(1, 50) i;
INSERT INTO audit.log SELECT i, 'a' || i FROM generate_series(1, 50) i;
INSERT INTO fired SELECT i, 'f' || i FROM generate_series(1, 10) i;
BEGIN;
UPDATE app.orders SET v = 'updated' WHERE id % 2 = 0;
UPDATE app.skip_me SET v = 'updated' WHERE id % 2 = 0;
UPDATE audit.log SET v = 'updated';
UPDATE fired SET v = 'updated' WHERE id <= 3;
DELETE FROM app.items WHERE id % 3 = 0;
DELETE FROM fired WHERE id = 10;
COMMIT;
});
my $endpos = current_lsn($source);

follow_ok(
	$source, $target, 'include and exclude patterns',
	slot => 'filtered',
	target_db => 'filtered',
	endpos => $endpos,
	args => [
		'--include-tables', 'app.*', '--include-tables', 'public.misc',
		'--exclude-tables', 'app.skip*'
	]);
tables_match($source, 'postgres', $target, 'filtered',
	'include and exclude patterns',
	only => [qw(app.orders app.items public.misc)]);
is( $target->safe_psql(
		'filtered',
		'SELECT (SELECT count(*) FROM app.skip_me) + (SELECT count(*) FROM other) + (SELECT count(*) FROM fired)'
	),
	0,
	'include and exclude patterns: tables not included, or excluded, left alone');

follow_ok(
	$source, $target, 'exclude a schema missing on the target',
	slot => 'excluded',
	target_db => 'excluded',
	endpos => $endpos,
	args => [ '--exclude-tables', 'audit.*' ]);
tables_match($source, 'postgres', $target, 'excluded',
	'exclude a schema missing on the target',
	except => ['audit.log']);

follow_ok($source, $target, 'triggers off by default',
	slot => 'trig_off', target_db => 'trig_off', endpos => $endpos);
tables_match($source, 'postgres', $target, 'trig_off', 'triggers off by default');
is($target->safe_psql('trig_off', 'SELECT count(*) FROM trig_log'),
	0, 'triggers off by default: target trigger did not fire');

follow_ok(
	$source, $target, '--fire-triggers',
	slot => 'trig_on',
	target_db => 'trig_on',
	endpos => $endpos,
	args => ['--fire-triggers']);
tables_match($source, 'postgres', $target, 'trig_on', '--fire-triggers');
is( $target->safe_psql(
		'trig_on', 'SELECT string_agg(op, \',\' ORDER BY op) FROM (SELECT op FROM trig_log GROUP BY op) o'),
	'DELETE,INSERT,UPDATE',
	'--fire-triggers: target trigger fired for inserts, updates and deletes');
is( $target->safe_psql('trig_on',
		"SELECT count(*) FROM trig_log WHERE op = 'INSERT'"),
	10,
	'--fire-triggers: once per inserted row');

follow_ok(
	$source, $target, 'one row per batch',
	slot => 'created',
	target_db => 'created',
	endpos => $endpos,
	args => [ '--batch-rows', '1', '--batch-time-ms', '1', '-v' ]);
tables_match($source, 'postgres', $target, 'created', 'one row per batch');

# The markers pgferry verify and cutover write on the source are pgferry's
# own: nothing to apply, and nothing to report even with -v.  A pgferry
# message this version does not know is reported as such.
$source->safe_psql('postgres', q{
SELECT pg_logical_emit_message(true, 'pgferry.verify', '');
SELECT pg_logical_emit_message(true, 'pgferry.cutover', '0/1');
SELECT pg_logical_emit_message(true, 'pgferry.future', 'x');
});
my $marked = follow_ok($source, $target, 'markers of verify and cutover',
	slot => 'created', target_db => 'created', args => ['-v']);
unlike($marked->{stderr}, qr/pgferry\.(?:verify|cutover)/,
	'markers of verify and cutover: not reported');
like($marked->{stderr}, qr/ignored a logical message with prefix "pgferry\.future": no handler/,
	'a pgferry message of a later version: reported as unknown');

done_testing();
