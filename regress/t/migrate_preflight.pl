
# pgferry preflight on a badly configured pair, then on the same pair fixed:
# each problem is reported with the exact command that fixes it, the exit
# code says whether anything blocks, and pgferry migrate refuses to start
# (exit 6) without changing anything on either server.
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use FerryMigrate;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $source = PostgreSQL::Test::Cluster->new('source');
$source->init;
$source->append_conf('postgresql.conf',
	"wal_level = replica\nmax_wal_senders = 4\nmax_prepared_transactions = 2\n");
$source->start;
my $has_setting = $source->safe_psql('postgres',
	"SELECT count(*) FROM pg_settings WHERE name = 'output_plugin_libraries'") eq '1';
# a list setting: one element each (a single quoted string would be one name)
$source->safe_psql('postgres', "ALTER SYSTEM SET output_plugin_libraries = pgoutput, test_decoding")
  if $has_setting;
$source->restart;
my $target = target_node('target');

# the tables belong to a role that may not replicate and that the target lacks
$source->safe_psql('postgres', q{
	CREATE ROLE app LOGIN;
	CREATE DATABASE app OWNER app;
});
$source->safe_psql('app', q{
	SET ROLE app;
	CREATE TABLE orders (id int PRIMARY KEY, note text);
	CREATE TABLE nokey (a int, b text);
	CREATE UNLOGGED TABLE scratch (id int PRIMARY KEY);
	SELECT lo_from_bytea(0, 'a large object');
	BEGIN;
	INSERT INTO orders VALUES (1, 'prepared, not committed');
	PREPARE TRANSACTION 'stuck';
});
create_database($target, 'app');
$target->safe_psql('app', 'CREATE TABLE leftover (id int)');

# FerryMigrate's preflight as role app (or, with $as_superuser, as the
# test's superuser): its exit code and stdout.
sub run_preflight
{
	my ($as_superuser) = @_;
	my $res = preflight($source, $as_superuser ? 'app' : [ 'app', 'app' ], $target, 'app');
	return ($res->{rc}, $res->{stdout});
}

my ($rc, $out) = run_preflight();
is($rc, 6, 'preflight exits 6 when something blocks');
like($out, qr/^BLOCK wal_level = replica.*\n.*fix: ALTER SYSTEM SET wal_level = logical; then restart/m,
	'wal_level reported with its fix');
SKIP:
{
	skip 'this server has no output_plugin_libraries', 3 unless $has_setting;
	like($out, qr/^WARN  output_plugin_libraries cannot be read by role app: it must list pgferry\n.*SHOW output_plugin_libraries;/m,
		'output_plugin_libraries, unreadable by a role that is not superuser: how to check it');
	# as a superuser, the value is known
	my ($rc_super, $out_super) = run_preflight(1);
	like($out_super, qr/^BLOCK output_plugin_libraries = 'pgoutput, test_decoding' does not allow/m,
		'output_plugin_libraries without pgferry reported');
	like($out_super,
		qr/fix: ALTER SYSTEM SET output_plugin_libraries = 'pgoutput', 'test_decoding', 'pgferry';\n\s+SELECT pg_reload_conf\(\);/,
		'... with the exact command that fixes it');
}
like($out, qr/^BLOCK source role "app" may not create or read replication slots\n\s+fix: ALTER ROLE "app" REPLICATION;/m,
	'a role without REPLICATION reported with its fix');
like($out, qr/^WARN  tables without a primary key.*stops the stream.*\n.*\n\s+ALTER TABLE public\.nokey REPLICA IDENTITY FULL;/m,
	'a table without key: what happens, and the fix');
like($out, qr/^WARN  unlogged tables: .*not streamed\n\s+fix:\n\s+ALTER TABLE public\.scratch SET LOGGED;/m,
	'an unlogged table with its fix');
like($out, qr/^WARN  1 large object \(.*not in the logical stream\n\s+fix: /m,
	'large objects: their later changes do not stream');
like($out, qr/^WARN  1 prepared transaction on the source: creating the slot waits until it is committed or rolled back\n.*\n\s+COMMIT PREPARED 'stuck';  -- or ROLLBACK PREPARED \(database app, /m,
	'a prepared transaction: the slot would wait for it, and how to end it');
$source->safe_psql('app', "COMMIT PREPARED 'stuck'");
like($out, qr/^BLOCK the target database already has 1 relation \(e\.g\. public\.leftover\)/m,
	'a target database that is not empty');
like($out, qr/^BLOCK the schema names 1 role the target lacks\n\s+app \(owns objects\)\n\s+fix: pgferry migrate --roles .*, or create them yourself/m,
	'a role the target lacks, with its fixes');
like($out, qr/^OK    max_replication_slots/m, 'the settings that are fine say so');
like($out, qr/database size .*; 3 tables to copy/, 'the size and the tables to copy');

# migrate checks first and changes nothing
my $res = migrate($source, 'app', $target, 'app', '--endpos', '0/1');
is($res->{rc}, 6, 'pgferry migrate exits 6 on a blocking problem');
like($res->{stdout}, qr/^BLOCK wal_level/m, '... after printing the problems');
unlike($res->{stdout}, qr/^OK/m, '... and only the problems');
is($source->safe_psql('postgres', 'SELECT count(*) FROM pg_replication_slots'), '0',
	'no slot was created on the source');
is($target->safe_psql('app', "SELECT to_regnamespace('pgferry') IS NULL"), 't',
	'nothing was created on the target');

# fixed as the messages said
$source->safe_psql('postgres', 'ALTER SYSTEM SET wal_level = logical; ALTER ROLE app REPLICATION');
# exactly the command preflight printed
$source->safe_psql('postgres',
	"ALTER SYSTEM SET output_plugin_libraries = 'pgoutput', 'test_decoding', 'pgferry'")
  if $has_setting;
$source->restart;
$target->safe_psql('app', 'DROP TABLE leftover; CREATE ROLE app');
($rc, $out) = run_preflight();
is($rc, 0, 'preflight exits 0 once the blocking problems are fixed');
unlike($out, qr/^BLOCK/m, 'nothing blocks');
like($out, qr/^OK    wal_level = logical/m, 'wal_level is fine');
like($out, qr/^WARN  unlogged tables/m, 'the warnings remain');
like($out, qr/Nothing blocks the migration/, 'and the verdict says so');

done_testing();
