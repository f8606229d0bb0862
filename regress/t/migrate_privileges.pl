
# A migration with the least privileges, the README's list of them tested
# end to end:
#   * with roles that have none of them, pgferry preflight names each
#     missing privilege with the GRANT (or ALTER) that gives it, and
#     pgferry migrate refuses (exit 6) before anything changes;
#   * with exactly the README's minimum (a source role with REPLICATION,
#     USAGE and SELECT on every schema, table and sequence and SELECT on
#     the large objects; a target role that owns the target database, is
#     no superuser and may set session_replication_role; for the cutover,
#     membership in the source database's owner, pg_signal_backend and
#     pg_read_all_stats), and the application's role created on the target
#     as an operator does, preflight finds nothing that blocks, and
#     migrate --no-owner, verify and cutover run under a write workload of
#     the application's role;
#   * the target is then equal to the source, row for row, and so are its
#     indexes, constraints, triggers, sequences and large objects, every
#     restored object owned by the target role;
#   * pgferry finish, as the same roles, drops the slot on the source and
#     the pgferry schema on the target.
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use FerryMigrate;
use PostgreSQL::Test::Utils;
use Test::More;

my $source = source_node('source');
my $target = target_node('target');
my ($customers, $products) = load_sample($source, 'shop', 0.1);

# the application: owns the source database (not its objects, loaded by
# a superuser) and writes to every table
$source->safe_psql('postgres', 'CREATE ROLE app LOGIN; ALTER DATABASE shop OWNER TO app');
$source->safe_psql('shop', q{
	GRANT USAGE ON SCHEMA shop, hr, content TO app;
	GRANT ALL ON ALL TABLES IN SCHEMA shop, hr, content TO app;
	GRANT ALL ON ALL SEQUENCES IN SCHEMA shop, hr, content TO app;
});
my $lo = $source->safe_psql('shop', "SELECT lo_from_bytea(0, 'a large object')");

# the migration's roles, with nothing but LOGIN yet
$source->safe_psql('postgres', 'CREATE ROLE ferry LOGIN');
$target->safe_psql('postgres', 'CREATE ROLE ferry LOGIN; CREATE DATABASE shop OWNER ferry');
my $src = [ 'shop', 'ferry' ];
my $tgt = [ 'shop', 'ferry' ];

# --- every missing privilege named, with its fix ---------------------------
my $res = preflight($source, $src, $target, $tgt, '--no-owner');
my $out = $res->{stdout};
is($res->{rc}, 6, 'preflight exits 6: privileges are missing');
like($out, qr/^BLOCK source role "ferry" may not create or read replication slots\n\s+fix: ALTER ROLE "ferry" REPLICATION;/m,
	'replication: the ALTER ROLE');
like($out, qr/^BLOCK source role "ferry" may not read \d+ tables and \d+ sequences: pg_dump locks every table and reads every sequence/m,
	'tables and sequences: pg_dump reads them all');
foreach my $schema (qw(content hr shop))
{
	like($out, qr/^\s+fix: GRANT USAGE ON SCHEMA $schema TO "ferry";$/m, "USAGE on schema $schema");
	like($out, qr/^\s+fix: GRANT SELECT ON ALL TABLES IN SCHEMA $schema TO "ferry";  -- \d+ tables?, e\.g\. $schema\./m,
		"SELECT on the tables of schema $schema");
	like($out, qr/^\s+fix: GRANT SELECT ON ALL SEQUENCES IN SCHEMA $schema TO "ferry";  -- \d+ sequences?, e\.g\. $schema\./m,
		"SELECT on the sequences of schema $schema");
}
like($out, qr/^BLOCK source role "ferry" may not read 1 large object, which the copy reads\n\s+fix: GRANT SELECT ON LARGE OBJECT $lo TO "ferry";/m,
	'a large object: its GRANT');
like($out, qr/^WARN  1 large object \(size unknown: pg_largeobject is for superusers\)/m,
	'large objects counted though their size cannot be read');
unlike($out, qr/ERROR|OK    no large objects/, 'no error, and no "no large objects" either');
like($out, qr/^WARN  pgferry cutover as role "ferry" lacks privileges on the source: it makes database shop read-only/m,
	'the cutover warned about before the migration');
like($out, qr/default_transaction_read_only needs its owner: GRANT app TO "ferry";/,
	'... the database owner');
like($out, qr/GRANT pg_signal_backend TO "ferry";/, '... pg_signal_backend');
like($out, qr/GRANT pg_read_all_stats TO "ferry";/, '... pg_read_all_stats');
like($out, qr/^WARN  target role "ferry" may not set session_replication_role.*\n\s+fix \(as a superuser of the target\): GRANT SET ON PARAMETER session_replication_role TO "ferry";/m,
	'session_replication_role on the target');
like($out, qr/^BLOCK the schema names 1 role the target lacks\n\s+app \(has privileges\)\n\s+fix: pgferry migrate --roles/m,
	'the application role, which has privileges, is missing on the target');
like($out, qr/^\s+--no-owner: the restored objects belong to role "ferry" \(on the source: postgres\)$/m,
	'--no-owner: who owns what the restore creates');

# without --no-owner: the owner of the objects, a superuser, is in the way
$res = preflight($source, $src, $target, $tgt);
like($res->{stdout},
	qr/^BLOCK target role "ferry" may not act for the roles that own the objects.*\n.*\n\s+postgres is a superuser on the target: only a superuser may give it objects\n\s+or: pgferry migrate --no-owner/m,
	'keeping the owners needs a superuser: --no-owner is the way');

$res = migrate($source, $src, $target, $tgt, '--no-owner', '--endpos', '0/1');
is($res->{rc}, 6, 'migrate refuses (exit 6)');
like($res->{stdout}, qr/^BLOCK source role "ferry" may not read/m, '... saying why');
is($source->safe_psql('postgres', 'SELECT count(*) FROM pg_replication_slots'), '0',
	'... with no slot created');
is($target->safe_psql('shop', "SELECT to_regnamespace('pgferry') IS NULL"), 't',
	'... and nothing on the target');

# --- the README's minimum ----------------------------------------------------
$source->safe_psql('postgres', 'ALTER ROLE ferry REPLICATION');
$source->safe_psql('shop', qq{
	GRANT USAGE ON SCHEMA shop, hr, content TO ferry;
	GRANT SELECT ON ALL TABLES IN SCHEMA shop, hr, content TO ferry;
	GRANT SELECT ON ALL SEQUENCES IN SCHEMA shop, hr, content TO ferry;
	GRANT SELECT ON LARGE OBJECT $lo TO ferry;
	GRANT app TO ferry;
	GRANT pg_signal_backend TO ferry;
	GRANT pg_read_all_stats TO ferry;
});
$target->safe_psql('postgres', 'GRANT SET ON PARAMETER session_replication_role TO ferry');
$target->safe_psql('postgres', 'CREATE ROLE app LOGIN');
is($source->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'ferry'})
	  . $target->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'ferry'}),
	'ff', 'neither role is a superuser');

$res = preflight($source, $src, $target, $tgt, '--no-owner');
is($res->{rc}, 0, 'preflight exits 0 with the minimum');
unlike($res->{stdout}, qr/^BLOCK/m, 'nothing blocks');
unlike($res->{stdout}, qr/cutover as role/, 'the cutover has what it needs');

my $pgbench = start_pgbench($source, [ 'shop', 'app' ], $customers, $products, rate => 100);
my $run = start_migrate($source, $src, $target, $tgt, '--no-owner', '--slot', 'least',
	'--jobs', '2');
ok(wait_phase($target, 'shop', 'least', 'stream', $run), 'migrate copies and follows');
sleep 2;

$res = run_pgferry([ 'verify', '--source', conn($source, $src), '--target', conn($target, $tgt) ]);
is($res->{rc}, 0, 'verify as the migration roles: equal')
  or diag($res->{stderr});
$res = run_pgferry(
	[ 'cutover', '--source', conn($source, $src), '--target', conn($target, $tgt), '--slot', 'least' ]);
is($res->{rc}, 0, 'cutover as the migration roles')
  or diag($res->{stderr});
like($res->{stderr}, qr/ended session \d+ \(user app/, 'cutover ended the application\'s sessions');
is($source->safe_psql('shop', 'SHOW default_transaction_read_only'), 'on', 'the source is read-only');
stop_pgbench($pgbench);
my $stopped = stop_migrate($run, 'TERM');
is($stopped->{rc}, 0, 'migrate stops on SIGTERM with exit 0');
unlike($stopped->{stderr}, qr/ERROR/, 'migrate logged no error');

cmp_ok($source->safe_psql('shop',
		"SELECT count(*) FROM shop.orders WHERE created_at > now() - interval '1 hour'"),
	'>', 0, 'the workload wrote during the migration');
tables_match($source, 'shop', $target, 'shop', 'least privilege');
schema_matches($source, 'shop', $target, 'shop', 'least privilege');
is($target->safe_psql('shop', "SELECT encode(lo_get($lo), 'escape')"), 'a large object',
	'the large object was copied');
is($target->safe_psql('shop', q{
	SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE n.nspname IN ('shop', 'hr', 'content') AND c.relowner <> 'ferry'::regrole}),
	'0', '--no-owner: every restored relation belongs to the target role');

$res = run_pgferry([ 'finish', '--source', conn($source, $src), '--target', conn($target, $tgt) ]);
is($res->{rc}, 0, 'finish as the migration roles')
  or diag($res->{stderr});
is($source->safe_psql('postgres', 'SELECT count(*) FROM pg_replication_slots'), '0',
	'finish: no slot left on the source');
is($target->safe_psql('shop', "SELECT to_regnamespace('pgferry') IS NULL"), 't',
	'finish: no pgferry schema left on the target');

done_testing();
