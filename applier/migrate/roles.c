/*-------------------------------------------------------------------------
 *
 * roles.c
 *	  Find the roles the source's schema names; create on the target those
 *	  it lacks.
 *
 * The source's catalogs say which roles pg_dump's script will name: the
 * owners of the objects it restores, the grantees and grantors of their
 * privileges (the part of them pg_init_privs does not already hold), the
 * roles of default privileges, policies and user mappings.  pg_roles and
 * pg_auth_members, which every role may read, give their attributes and
 * memberships; pg_authid, which holds passwords, is never read.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "migrate/roles.h"

/*
 * Every object pg_dump restores with an owner or privileges, as (catalog,
 * oid, owner, acl, schema); user objects only (FirstNormalObjectId is
 * 16384), and the public schema, whose owner and privileges pg_dump
 * restores when they changed.
 */
#define DUMPED_OBJECTS                                                        \
	"objects(catalog, oid, owner, acl, nsp) AS (\n"                           \
	"  SELECT 'pg_class'::regclass, oid, relowner, relacl, relnamespace\n"    \
	"    FROM pg_class WHERE relkind NOT IN ('i', 'I', 't')\n"                \
	"  UNION ALL SELECT 'pg_namespace'::regclass, oid, nspowner, nspacl, "    \
	"oid\n"                                                                   \
	"    FROM pg_namespace\n"                                                 \
	"  UNION ALL SELECT 'pg_proc'::regclass, oid, proowner, proacl,\n"        \
	"    pronamespace FROM pg_proc\n"                                         \
	"  UNION ALL SELECT 'pg_type'::regclass, oid, typowner, typacl,\n"        \
	"    typnamespace FROM pg_type\n"                                         \
	"  UNION ALL SELECT 'pg_largeobject'::regclass, oid, lomowner, lomacl,\n" \
	"    NULL FROM pg_largeobject_metadata\n"                                 \
	"  UNION ALL SELECT 'pg_language'::regclass, oid, lanowner, lanacl, "     \
	"NULL\n"                                                                  \
	"    FROM pg_language\n"                                                  \
	"  UNION ALL SELECT 'pg_foreign_data_wrapper'::regclass, oid, "           \
	"fdwowner,\n"                                                             \
	"    fdwacl, NULL FROM pg_foreign_data_wrapper\n"                         \
	"  UNION ALL SELECT 'pg_foreign_server'::regclass, oid, srvowner,\n"      \
	"    srvacl, NULL FROM pg_foreign_server\n"                               \
	"  UNION ALL SELECT 'pg_collation'::regclass, oid, collowner, NULL,\n"    \
	"    collnamespace FROM pg_collation\n"                                   \
	"  UNION ALL SELECT 'pg_conversion'::regclass, oid, conowner, NULL,\n"    \
	"    connamespace FROM pg_conversion\n"                                   \
	"  UNION ALL SELECT 'pg_operator'::regclass, oid, oprowner, NULL,\n"      \
	"    oprnamespace FROM pg_operator\n"                                     \
	"  UNION ALL SELECT 'pg_opclass'::regclass, oid, opcowner, NULL,\n"       \
	"    opcnamespace FROM pg_opclass\n"                                      \
	"  UNION ALL SELECT 'pg_opfamily'::regclass, oid, opfowner, NULL,\n"      \
	"    opfnamespace FROM pg_opfamily\n"                                     \
	"  UNION ALL SELECT 'pg_ts_config'::regclass, oid, cfgowner, NULL,\n"     \
	"    cfgnamespace FROM pg_ts_config\n"                                    \
	"  UNION ALL SELECT 'pg_ts_dict'::regclass, oid, dictowner, NULL,\n"      \
	"    dictnamespace FROM pg_ts_dict\n"                                     \
	"  UNION ALL SELECT 'pg_statistic_ext'::regclass, oid, stxowner, NULL,\n" \
	"    stxnamespace FROM pg_statistic_ext\n"                                \
	"  UNION ALL SELECT 'pg_event_trigger'::regclass, oid, evtowner, NULL,\n" \
	"    NULL FROM pg_event_trigger\n"                                        \
	"  UNION ALL SELECT 'pg_publication'::regclass, oid, pubowner, NULL,\n"   \
	"    NULL FROM pg_publication),\n"                                        \
	"dumped AS (\n"                                                           \
	"  SELECT o.* FROM objects o LEFT JOIN pg_namespace n ON n.oid = o.nsp\n" \
	"  WHERE (o.oid >= 16384 OR o.catalog = 'pg_largeobject'::regclass\n"     \
	"      OR (o.catalog = 'pg_namespace'::regclass\n"                        \
	"          AND n.nspname = 'public'))\n"                                  \
	"    AND coalesce(n.nspname NOT IN\n"                                     \
	"      ('pg_catalog', 'information_schema', 'pgferry')\n"                 \
	"      AND n.nspname NOT LIKE 'pg\\_toast%'\n"                            \
	"      AND n.nspname NOT LIKE 'pg\\_temp\\_%', true)\n"                   \
	"    AND NOT EXISTS (SELECT 1 FROM pg_depend d\n"                         \
	"      WHERE d.classid = o.catalog AND d.objid = o.oid\n"                 \
	"        AND d.deptype = 'e'))"

/*
 * The roles the script names and what names them; the privileges that
 * pg_init_privs holds (the public schema's initial ones) are not restored.
 */
static const char roles_sql[] =
	"WITH " DUMPED_OBJECTS ",\n"
	"privileges(owner, grantor, grantee) AS (\n"
	"  SELECT o.owner, a.grantor, a.grantee FROM dumped o\n"
	"  CROSS JOIN LATERAL aclexplode(o.acl) a\n"
	"  WHERE NOT EXISTS (SELECT 1 FROM pg_init_privs i,\n"
	"      LATERAL aclexplode(i.initprivs) ia\n"
	"    WHERE i.objoid = o.oid AND i.classoid = o.catalog\n"
	"      AND i.objsubid = 0 AND ia = a)\n"
	"  UNION ALL SELECT o.owner, a.grantor, a.grantee FROM dumped o\n"
	"  JOIN pg_attribute att ON att.attrelid = o.oid\n"
	"    AND o.catalog = 'pg_class'::regclass AND att.attacl IS NOT NULL\n"
	"  CROSS JOIN LATERAL aclexplode(att.attacl) a),\n"
	"uses(role, use) AS (\n"
	"  SELECT owner, 1 FROM dumped\n"
	"  UNION ALL SELECT grantee, 2 FROM privileges\n"
	"  UNION ALL SELECT grantor, 4 FROM privileges WHERE grantor <> owner\n"
	"  UNION ALL SELECT defaclrole, 8 FROM pg_default_acl\n"
	"  UNION ALL SELECT (aclexplode(defaclacl)).grantee, 2\n"
	"    FROM pg_default_acl\n"
	"  UNION ALL SELECT unnest(p.polroles), 16 FROM pg_policy p\n"
	"    JOIN dumped o ON o.oid = p.polrelid\n"
	"      AND o.catalog = 'pg_class'::regclass\n"
	"  UNION ALL SELECT umuser, 16 FROM pg_user_mappings)\n"
	"SELECT r.rolname, quote_ident(r.rolname), bit_or(u.use),\n"
	"  r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb,\n"
	"  r.rolcanlogin, r.rolreplication, r.rolbypassrls, r.rolconnlimit,\n"
	"  to_json(r.rolvaliduntil) #>> '{}'\n"
	"FROM uses u JOIN pg_roles r ON r.oid = u.role\n"
	"WHERE r.rolname NOT LIKE 'pg\\_%'\n"
	"GROUP BY r.oid, r.rolname, r.rolsuper, r.rolinherit, r.rolcreaterole,\n"
	"  r.rolcreatedb, r.rolcanlogin, r.rolreplication, r.rolbypassrls,\n"
	"  r.rolconnlimit, r.rolvaliduntil\n"
	"ORDER BY r.rolname";

/*
 * The schemas their objects are in where the source's privileges on the
 * schema do not give them CREATE (a schema of pg_database_owner is the
 * target database owner's there).  The restore runs the schemas'
 * privileges first (schema.h), so the source's grants count.
 */
static const char schemas_sql[] =
	"WITH " DUMPED_OBJECTS "\n"
	"SELECT DISTINCT r.rolname, n.nspname, quote_ident(n.nspname)\n"
	"FROM dumped o JOIN pg_namespace n ON n.oid = o.nsp\n"
	"JOIN pg_roles r ON r.oid = o.owner\n"
	"WHERE o.catalog <> 'pg_namespace'::regclass\n"
	"  AND (o.owner <> n.nspowner\n"
	"       OR n.nspowner = 'pg_database_owner'::regrole)\n"
	"  AND NOT EXISTS (SELECT 1 FROM aclexplode(n.nspacl) a\n"
	"    WHERE a.privilege_type = 'CREATE'\n"
	"      AND (a.grantee = 0\n"
	"           OR (a.grantee <> 'pg_database_owner'::regrole\n"
	"               AND pg_has_role(o.owner, a.grantee, 'USAGE'))))\n"
	"ORDER BY 1, 2";

static const char target_schema_sql[] =
	"SELECT has_schema_privilege(r.oid, n.oid, 'CREATE')\n"
	"FROM pg_roles r, pg_namespace n\n"
	"WHERE r.rolname = $1 AND n.nspname = $2";

/* The roles each of them is a member of, on the source. */
static const char memberships_sql[] =
	"SELECT m.rolname, g.rolname, quote_ident(g.rolname), am.admin_option\n"
	"FROM pg_auth_members am\n"
	"JOIN pg_roles g ON g.oid = am.roleid\n"
	"JOIN pg_roles m ON m.oid = am.member\n"
	"WHERE m.rolname = ANY ($1::text[])\n"
	"ORDER BY m.rolname, g.rolname";

/*
 * How the names stand on the target, and whether its role may grant
 * each (ADMIN OPTION; PostgreSQL 15's CREATEROLE grants any role but a
 * superuser's).
 */
static const char target_sql[] =
	"SELECT r.rolname, r.rolsuper, pg_has_role(r.oid, 'MEMBER'),\n"
	"  pg_has_role(r.oid, 'MEMBER WITH ADMIN OPTION')\n"
	"  OR (current_setting('server_version_num')::int < 160000\n"
	"      AND NOT r.rolsuper AND (SELECT rolcreaterole FROM pg_roles\n"
	"                              WHERE rolname = current_user))\n"
	"FROM pg_roles r WHERE r.rolname = ANY ($1::text[])";

static const char target_role_sql[] =
	"SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication,\n"
	"  rolbypassrls FROM pg_roles WHERE rolname = current_user";

static SchemaRole *
find_role(const SchemaRoles *roles, const char *name)
{
	for (int i = 0; i < roles->count; i++)
		if (strcmp(roles->roles[i].name, name) == 0)
			return &roles->roles[i];
	return NULL;
}

static void
read_role(PgResult *res, int row, SchemaRole *role)
{
	const char *valid_until = pg_result_value(res, row, 11);

	role->name = xstrdup(pg_result_value(res, row, 0));
	role->quoted = xstrdup(pg_result_value(res, row, 1));
	role->named = (unsigned) atoi(pg_result_value(res, row, 2));
	role->superuser = pg_result_bool(res, row, 3);
	role->inherit = pg_result_bool(res, row, 4);
	role->createrole = pg_result_bool(res, row, 5);
	role->createdb = pg_result_bool(res, row, 6);
	role->login = pg_result_bool(res, row, 7);
	role->replication = pg_result_bool(res, row, 8);
	role->bypassrls = pg_result_bool(res, row, 9);
	role->connection_limit = atoi(pg_result_value(res, row, 10));
	role->valid_until = valid_until ? xstrdup(valid_until) : NULL;
}

static bool
read_memberships(PgConn *source, SchemaRoles *roles, const char *array)
{
	const char *params[1] = {array};
	PgResult *res =
		pg_query_or_report(source, memberships_sql, 1, params,
						   "read the memberships of the schema's roles");

	if (res == NULL)
		return false;
	for (int i = 0; i < pg_result_rows(res); i++)
	{
		SchemaRole *role = find_role(roles, pg_result_value(res, i, 0));
		RoleMembership *m;

		role->memberships =
			xrealloc(role->memberships,
					 (role->nmemberships + 1) * sizeof(RoleMembership));
		m = &role->memberships[role->nmemberships++];
		memset(m, 0, sizeof(RoleMembership));
		m->granted_raw = xstrdup(pg_result_value(res, i, 1));
		m->granted = xstrdup(pg_result_value(res, i, 2));
		m->admin_option = pg_result_bool(res, i, 3);
	}
	pg_result_free(res);
	return true;
}

/* Reads the schemas each role lacks CREATE in, and whether the target
 * gives it. */
static bool
read_schemas(PgConn *source, PgConn *target, SchemaRoles *roles)
{
	PgResult *res =
		pg_query_or_report(source, schemas_sql, 0, NULL,
						   "check the owners' privileges on their schemas");

	if (res == NULL)
		return false;
	for (int i = 0; i < pg_result_rows(res); i++)
	{
		SchemaRole *role = find_role(roles, pg_result_value(res, i, 0));
		const char *params[2] = {role->name, pg_result_value(res, i, 1)};
		PgResult *there;
		RoleSchema *schema;

		role->schemas =
			xrealloc(role->schemas, (role->nschemas + 1) * sizeof(RoleSchema));
		schema = &role->schemas[role->nschemas++];
		schema->quoted = xstrdup(pg_result_value(res, i, 2));
		there = pg_query_or_report(target, target_schema_sql, 2, params,
								   "check the privileges of role %s",
								   role->quoted);
		if (there == NULL)
		{
			pg_result_free(res);
			return false;
		}
		schema->granted_on_target =
			pg_result_rows(there) == 1 && pg_result_bool(there, 0, 0);
		pg_result_free(there);
	}
	pg_result_free(res);
	return true;
}

/*
 * Marks what the target has: the target role's attributes, the roles, the
 * roles their memberships grant and whether the target role may grant
 * those (a role it creates with their member: when it may create roles).
 */
static bool
read_target(PgConn *target, SchemaRoles *roles)
{
	const char **names = NULL;
	int count = 0;
	const char *params[1];
	PgResult *res;
	bool ok = false;

	res = pg_query_or_report(target, target_role_sql, 0, NULL,
							 "read the target role's attributes");
	if (res == NULL)
		return false;
	roles->superuser = pg_result_bool(res, 0, 0);
	roles->createrole = pg_result_bool(res, 0, 1);
	roles->createdb = pg_result_bool(res, 0, 2);
	roles->replication = pg_result_bool(res, 0, 3);
	roles->bypassrls = pg_result_bool(res, 0, 4);
	roles->target_version = pg_server_version(target);
	pg_result_free(res);

	for (int i = 0; i < roles->count; i++)
	{
		const SchemaRole *role = &roles->roles[i];

		names =
			xrealloc(names, (count + role->nmemberships + 1) * sizeof(char *));
		names[count++] = role->name;
		for (int j = 0; j < role->nmemberships; j++)
			names[count++] = role->memberships[j].granted_raw;
	}
	params[0] = pg_text_array(names, count);
	res = pg_query_or_report(target, target_sql, 1, params,
							 "look for the schema's roles");
	free((char *) params[0]);
	if (res == NULL)
		goto done;
	for (int i = 0; i < roles->count; i++)
	{
		SchemaRole *role = &roles->roles[i];

		for (int r = 0; r < pg_result_rows(res); r++)
		{
			if (strcmp(pg_result_value(res, r, 0), role->name) != 0)
				continue;
			role->exists = true;
			role->target_superuser = pg_result_bool(res, r, 1);
			role->member = pg_result_bool(res, r, 2);
		}
		for (int j = 0; j < role->nmemberships; j++)
		{
			RoleMembership *m = &role->memberships[j];

			/* a role created with its member: ours to grant */
			m->can_grant = roles->superuser || roles->createrole;
			for (int r = 0; r < pg_result_rows(res); r++)
			{
				if (strcmp(pg_result_value(res, r, 0), m->granted_raw) != 0)
					continue;
				m->granted_exists = true;
				m->can_grant = roles->superuser || pg_result_bool(res, r, 3);
			}
		}
	}
	pg_result_free(res);
	ok = true;
done:
	free(names);
	return ok;
}

bool
schema_roles_read(PgConn *source, PgConn *target, SchemaRoles *roles)
{
	PgResult *res;
	const char **names;
	char *array;
	bool ok;

	memset(roles, 0, sizeof(SchemaRoles));
	res = pg_query_or_report(source, roles_sql, 0, NULL,
							 "list the roles the schema names");
	if (res == NULL)
		return false;
	roles->count = pg_result_rows(res);
	roles->roles = xcalloc(roles->count + 1, sizeof(SchemaRole));
	names = xcalloc(roles->count + 1, sizeof(char *));
	for (int i = 0; i < roles->count; i++)
	{
		read_role(res, i, &roles->roles[i]);
		names[i] = roles->roles[i].name;
	}
	pg_result_free(res);
	array = pg_text_array(names, roles->count);
	free(names);
	ok = read_memberships(source, roles, array) &&
		 read_target(target, roles) && read_schemas(source, target, roles);
	free(array);
	return ok;
}

void
schema_roles_free(SchemaRoles *roles)
{
	for (int i = 0; i < roles->count; i++)
	{
		SchemaRole *role = &roles->roles[i];

		free(role->name);
		free(role->quoted);
		free(role->valid_until);
		for (int j = 0; j < role->nmemberships; j++)
		{
			free(role->memberships[j].granted);
			free(role->memberships[j].granted_raw);
		}
		free(role->memberships);
		for (int j = 0; j < role->nschemas; j++)
			free(role->schemas[j].quoted);
		free(role->schemas);
	}
	free(roles->roles);
	memset(roles, 0, sizeof(SchemaRoles));
}

bool
schema_role_needed(const SchemaRole *role, const RestoreModes *modes)
{
	unsigned uses = ROLE_POLICY;

	if (!modes->no_owner)
		uses |= ROLE_OWNER;
	if (!modes->no_privileges)
		uses |= ROLE_GRANTEE | ROLE_GRANTOR | ROLE_DEFAULTS;
	return (role->named & uses) != 0;
}

bool
schema_role_acted_for(const SchemaRole *role, const RestoreModes *modes)
{
	return (!modes->no_owner && (role->named & ROLE_OWNER)) ||
		   (!modes->no_privileges && (role->named & ROLE_DEFAULTS));
}

bool
schema_membership_kept(const SchemaRoles *roles, const RoleMembership *m,
					   const RestoreModes *modes)
{
	const SchemaRole *granted = find_role(roles, m->granted_raw);

	return m->granted_exists ||
		   (granted && !granted->exists && schema_role_needed(granted, modes));
}

const char *
schema_role_uncreatable(const SchemaRoles *roles, const SchemaRole *role)
{
	bool newer = roles->target_version >= 160000;

	if (roles->superuser)
		return NULL;
	if (!roles->createrole)
		return "the target role has no CREATEROLE";
	if (role->superuser)
		return "only a superuser may create a superuser";
	/* 15 keeps these to superusers; 16 to the roles that have them */
	if (role->replication && (!newer || !roles->replication))
		return "REPLICATION needs a superuser (or, from PostgreSQL 16, a "
			   "creator that has it)";
	if (role->bypassrls && (!newer || !roles->bypassrls))
		return "BYPASSRLS needs a superuser (or, from PostgreSQL 16, a "
			   "creator that has it)";
	if (role->createdb && newer && !roles->createdb)
		return "CREATEDB needs a creator that has it (PostgreSQL 16 and "
			   "later)";
	return NULL;
}

/* CREATE ROLE with the source's attributes (no password). */
static bool
create_role(PgConn *target, const SchemaRole *role)
{
	Buf sql = BUF_INIT;
	bool ok;

	buf_printf(&sql, "CREATE ROLE %s WITH %s %s %s %s %s %s %s", role->quoted,
			   role->superuser ? "SUPERUSER" : "NOSUPERUSER",
			   role->inherit ? "INHERIT" : "NOINHERIT",
			   role->createrole ? "CREATEROLE" : "NOCREATEROLE",
			   role->createdb ? "CREATEDB" : "NOCREATEDB",
			   role->login ? "LOGIN" : "NOLOGIN",
			   role->replication ? "REPLICATION" : "NOREPLICATION",
			   role->bypassrls ? "BYPASSRLS" : "NOBYPASSRLS");
	if (role->connection_limit >= 0)
		buf_printf(&sql, " CONNECTION LIMIT %d", role->connection_limit);
	if (role->valid_until)
	{
		char *literal = pg_quote_literal(role->valid_until);

		buf_printf(&sql, " VALID UNTIL %s", literal);
		free(literal);
	}
	ok = pg_exec(target, sql.data);
	if (ok)
		log_info("target: %s%s", sql.data,
				 role->login ? " (no password: set one with ALTER ROLE ... "
							   "PASSWORD)"
							 : "");
	else
		pg_report(target, "create role %s", role->quoted);
	buf_free(&sql);
	return ok;
}

static bool
grant_role(PgConn *target, const char *granted, const char *member,
		   bool admin_option)
{
	Buf sql = BUF_INIT;
	bool ok;

	buf_printf(&sql, "GRANT %s TO %s%s", granted, member,
			   admin_option ? " WITH ADMIN OPTION" : "");
	ok = pg_exec(target, sql.data);
	if (ok)
		log_info("target: %s", sql.data);
	else
		pg_report(target, "grant role %s to %s", granted, member);
	buf_free(&sql);
	return ok;
}

bool
schema_roles_create(PgConn *target, const SchemaRoles *roles,
					const RestoreModes *modes)
{
	char *self = pg_quote_ident(pg_user(target));
	bool ok = true;

	for (int i = 0; ok && i < roles->count; i++)
	{
		const SchemaRole *role = &roles->roles[i];

		if (!role->exists && schema_role_needed(role, modes))
			ok = create_role(target, role);
	}
	for (int i = 0; ok && i < roles->count; i++)
	{
		const SchemaRole *role = &roles->roles[i];

		if (role->exists || !schema_role_needed(role, modes))
			continue;
		for (int j = 0; ok && j < role->nmemberships; j++)
		{
			const RoleMembership *m = &role->memberships[j];

			if (schema_membership_kept(roles, m, modes))
				ok = grant_role(target, m->granted, role->quoted,
								m->admin_option);
		}
		/* ALTER ... OWNER TO a role needs membership in it */
		if (ok && !roles->superuser && schema_role_acted_for(role, modes))
			ok = grant_role(target, role->quoted, self, false);
	}
	free(self);
	return ok;
}
