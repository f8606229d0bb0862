
# The roles a schema names (owners, grantees, grantors, default privileges,
# policies) that exist only on the source:
#   * preflight lists them, each with what names it, and blocks;
#   * pgferry migrate --roles creates them on the target before it restores
#     the schema, with the source's attributes and memberships and no
#     password, whether the target role is a superuser or only has
#     CREATEROLE (it then becomes a member of the roles it gives objects
#     to); a role the target has is left as it is, and a role the schema
#     does not name is not created;
#   * `pg_dump --schema-only` of the source and of the target are then the
#     same, ownership and privileges included (the target's dump without
#     schema pgferry, both without pg_dump's random \restrict key);
#   * privileges granted by a role that does not own the object need a
#     superuser to restore (SET SESSION AUTHORIZATION): preflight says so
#     to a role that is not one, and a superuser's migration keeps them;
#   * owners kept (no --no-owner) by a target role that is no superuser:
#     preflight names the membership in each owner and the CREATE on the
#     schemas an owner lacks, each with its GRANT; given them, migrate
#     restores every object to its owner; a target role that does not own
#     its database is told the CREATE it lacks there and on its schemas.
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use FerryMigrate;
use PostgreSQL::Test::Utils;
use Test::More;

my $source = source_node('source');
my $target = target_node('target');

$source->safe_psql('postgres', q{
	CREATE ROLE app_owner NOLOGIN CREATEDB;
	CREATE ROLE app_rw LOGIN PASSWORD 'secret' CONNECTION LIMIT 5
		VALID UNTIL '2031-01-01 00:00:00+00';
	CREATE ROLE app_ro NOLOGIN NOINHERIT;
	CREATE ROLE auditor NOLOGIN;
	CREATE ROLE tenant NOLOGIN;
	CREATE ROLE shared NOLOGIN CREATEDB;
	CREATE ROLE unrelated NOLOGIN;
	GRANT app_ro TO app_rw;
	GRANT pg_read_all_stats TO app_rw;
	GRANT unrelated TO app_ro;
	CREATE DATABASE app OWNER app_owner;
});
$source->safe_psql('app', q{
	CREATE SCHEMA store AUTHORIZATION app_owner;
	SET ROLE app_owner;
	CREATE TABLE store.items (id int PRIMARY KEY, tenant_name text, price numeric);
	ALTER TABLE store.items ENABLE ROW LEVEL SECURITY;
	CREATE POLICY own_rows ON store.items TO tenant USING (tenant_name = current_user);
	CREATE SEQUENCE store.ticket;
	CREATE FUNCTION store.total() RETURNS numeric LANGUAGE sql
		AS 'SELECT sum(price) FROM store.items';
	REVOKE EXECUTE ON FUNCTION store.total() FROM PUBLIC;
	GRANT EXECUTE ON FUNCTION store.total() TO app_rw;
	GRANT USAGE ON SCHEMA store TO app_ro, app_rw, shared;
	GRANT SELECT ON store.items TO app_ro, shared;
	GRANT SELECT, INSERT, UPDATE (price) ON store.items TO app_rw;
	GRANT USAGE ON SEQUENCE store.ticket TO app_rw;
	ALTER DEFAULT PRIVILEGES IN SCHEMA store GRANT SELECT ON TABLES TO auditor;
	INSERT INTO store.items VALUES (1, 'tenant', 9.5), (2, 'other', 3);
});

# the target: a role that only has CREATEROLE, owning its database; and a
# role named "shared" of its own, with other attributes than the source's
$target->safe_psql('postgres', q{
	CREATE ROLE mig LOGIN CREATEROLE;
	CREATE DATABASE app OWNER mig;
	GRANT SET ON PARAMETER session_replication_role TO mig;
	CREATE ROLE shared LOGIN;
});
my $created = q{'app_owner', 'app_rw', 'app_ro', 'auditor', 'tenant'};

# The roles' attributes and memberships, one line each (but the membership
# in "unrelated", which the schema does not name and which is not created).
sub roles
{
	my ($node) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb,
			rolcanlogin, rolreplication, rolbypassrls, rolconnlimit,
			rolvaliduntil, (SELECT string_agg(g.rolname || CASE WHEN m.admin_option
					THEN ' with admin' ELSE '' END, ', ' ORDER BY g.rolname)
				FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
				WHERE m.member = r.oid AND g.rolname <> 'unrelated')
		FROM pg_roles r WHERE rolname IN ($created) ORDER BY 1});
}

my $res = preflight($source, 'app', $target, [ 'app', 'mig' ]);
is($res->{rc}, 6, 'preflight exits 6: roles are missing');
like($res->{stdout}, qr/^BLOCK the schema names 5 roles the target lacks\n/m,
	'the missing roles counted');
like($res->{stdout}, qr/^\s+app_owner \(owns objects, has privileges, has default privileges\)$/m,
	'the owner, with what names it');
like($res->{stdout}, qr/^\s+auditor \(has privileges\)$/m, 'a role of default privileges');
like($res->{stdout}, qr/^\s+tenant \(named by policies or user mappings\)$/m, 'a role of a policy');
unlike($res->{stdout}, qr/^\s+(shared|unrelated) \(/m,
	'neither a role the target has nor one the schema does not name');
like($res->{stdout}, qr/fix: pgferry migrate --roles \(creates them from the source's catalog, without passwords\)/,
	'the fix: --roles');

$res = preflight($source, 'app', $target, [ 'app', 'mig' ], '--roles');
is($res->{rc}, 0, 'preflight --roles: nothing blocks');
like($res->{stdout},
	qr/^\s+migrate --roles creates 5 roles the schema names, with the source's attributes and memberships; no password/m,
	'preflight --roles: what migrate will create');
like($res->{stdout}, qr/^\s+GRANT app_ro TO app_rw;\n\s+GRANT pg_read_all_stats TO app_rw;$/m,
	'preflight --roles: the memberships');
like($res->{stdout}, qr/^\s+member of unrelated on the source: not granted \(unrelated is not on the target\)$/m,
	'preflight --roles: a membership in a role the schema does not name');

$res = migrate($source, 'app', $target, [ 'app', 'mig' ], '--roles', '--endpos',
	current_lsn($source));
is($res->{rc}, 0, 'migrate --roles as a role with CREATEROLE');
like($res->{stderr}, qr/CREATE ROLE app_rw WITH .* LOGIN .* CONNECTION LIMIT 5 VALID UNTIL .*\(no password: set one with ALTER ROLE/,
	'a login role is created without password, and the log says so');
like($res->{stderr}, qr/target: GRANT app_owner TO "mig"/,
	'the target role becomes a member of the owner it gives objects to');
is(roles($target), roles($source), 'the roles have the source\'s attributes and memberships');
is($target->safe_psql('postgres', "SELECT count(*) FROM pg_authid WHERE rolname IN ($created) AND rolpassword IS NOT NULL"),
	'0', 'no role has a password');
is($target->safe_psql('postgres', q{SELECT rolcanlogin::text || rolcreatedb::text FROM pg_roles WHERE rolname = 'shared'}),
	'truefalse', 'a role the target had is unchanged');
is($target->safe_psql('postgres', q{SELECT count(*) FROM pg_roles WHERE rolname = 'unrelated'}),
	'0', 'a role the schema does not name is not created');
is(schema_dump($target, 'app'), schema_dump($source, 'app'),
	'pg_dump --schema-only: the same on both sides');
tables_match($source, 'app', $target, 'app', 'migrate --roles');

# --- privileges granted by a role that does not own the object ---------------
$source->safe_psql('app', q{
	SET ROLE app_owner;
	GRANT SELECT ON store.items TO app_rw WITH GRANT OPTION;
	SET ROLE app_rw;
	GRANT SELECT ON store.items TO auditor;
});
$target->safe_psql('postgres', 'CREATE DATABASE app_again OWNER mig');
$res = preflight($source, 'app', $target, [ 'app_again', 'mig' ], '--slot', 'again', '--roles');
is($res->{rc}, 6, 'a grant by a role that does not own the object: preflight blocks');
like($res->{stdout},
	qr/^BLOCK privileges granted by roles that do not own the objects \(app_rw\): pg_dump's script grants them after SET SESSION AUTHORIZATION, which only a superuser may run\n\s+fix: pgferry migrate --no-privileges, or migrate as a superuser of the target/m,
	'... naming the grantor and the fixes');

my $super = target_node('super');
create_database($super, 'app');
$res = migrate($source, 'app', $super, 'app', '--roles', '--slot', 'super', '--endpos',
	current_lsn($source));
is($res->{rc}, 0, 'migrate --roles as a superuser');
is(roles($super), roles($source), 'as a superuser: the roles have the source\'s attributes and memberships');
is(schema_dump($super, 'app'), schema_dump($source, 'app'),
	'as a superuser: pg_dump --schema-only the same, the grant by a grantor included');

# --- owners kept by a target role that is no superuser ----------------------
# Objects owned by app_owner in schema public, where app_owner may not
# create (a superuser gave them to it on the source), and in a schema of
# its own; the target role owns the target database and nothing else.
create_database($source, 'kept');
$source->safe_psql('kept', q{
	CREATE TABLE plain (id int PRIMARY KEY, note text);
	ALTER TABLE plain OWNER TO app_owner;
	CREATE SCHEMA sales AUTHORIZATION app_owner;
	CREATE TABLE sales.orders (id int PRIMARY KEY, qty int);
	ALTER TABLE sales.orders OWNER TO app_owner;
	INSERT INTO plain VALUES (1, 'one'), (2, 'two');
	INSERT INTO sales.orders VALUES (1, 10);
});
$target->safe_psql('postgres', q{
	CREATE ROLE keeper LOGIN;
	CREATE DATABASE kept OWNER keeper;
	GRANT SET ON PARAMETER session_replication_role TO keeper;
});
my $keeper = [ 'kept', 'keeper' ];
$res = preflight($source, 'kept', $target, $keeper, '--slot', 'kept');
is($res->{rc}, 6, 'owners kept by a role that is no superuser: preflight blocks');
like($res->{stdout},
	qr/^BLOCK target role "?keeper"? may not act for the roles that own the objects or have default privileges\n.*\n\s+fix: GRANT app_owner TO "?keeper"?;\n\s+or: pgferry migrate --no-owner/m,
	'... the membership in the owner, with its GRANT');
like($res->{stdout},
	qr/^BLOCK roles that own objects may not create in their schemas: the target role may not give them those objects\n\s+fix: GRANT CREATE ON SCHEMA public TO app_owner;  -- on the source \(the restore copies it\), or on the target once both exist\n\s+or: pgferry migrate --no-owner/m,
	'... CREATE on the schema the owner lacks, with its GRANT');
unlike($res->{stdout}, qr/ON SCHEMA sales/, '... but not on the schema the owner owns');

# a target role that does not own its database: CREATE there, and on the
# schemas the restore fills, each with its GRANT
$target->safe_psql('postgres', 'CREATE ROLE outsider LOGIN; CREATE DATABASE outside');
$res = preflight($source, 'kept', $target, [ 'outside', 'outsider' ], '--slot', 'outside', '--no-owner');
is($res->{rc}, 6, 'a target role that does not own its database: preflight blocks');
like($res->{stdout},
	qr/^BLOCK target role "?outsider"? may not create schemas in database outside, and the restore and pgferry create sales, pgferry\n\s+fix: GRANT CREATE ON DATABASE outside TO "?outsider"?;$/m,
	'... CREATE on the database, with its GRANT');
like($res->{stdout},
	qr/^BLOCK target role "?outsider"? may not create objects in schemas the restore fills\n\s+fix: GRANT CREATE ON SCHEMA public TO "?outsider"?;  -- as its owner$/m,
	'... CREATE on schema public, with its GRANT');

# fixed as preflight said, on the target
$target->safe_psql('postgres', 'GRANT app_owner TO keeper');
$target->safe_psql('kept', 'GRANT CREATE ON SCHEMA public TO app_owner');
$res = preflight($source, 'kept', $target, $keeper, '--slot', 'kept');
is($res->{rc}, 0, 'owners kept, the GRANTs given: preflight exits 0');
like($res->{stdout}, qr/^OK    target role "?keeper"? may give the restored objects their owners/m,
	'... the owners may be given their objects');
$res = migrate($source, 'kept', $target, $keeper, '--slot', 'kept', '--endpos',
	current_lsn($source));
is($res->{rc}, 0, 'migrate keeps the owners as a role that is no superuser')
  or diag($res->{stderr});
is($target->safe_psql('kept', q{SELECT string_agg(relname || ' ' || relowner::regrole, ', ' ORDER BY relname)
	FROM pg_class WHERE relname IN ('plain', 'orders')}),
	'orders app_owner, plain app_owner', '... every restored table owned as on the source');
tables_match($source, 'kept', $target, 'kept', 'owners kept');

done_testing();
