/*-------------------------------------------------------------------------
 *
 * preflight_target.c
 *	  What the target role needs: its state schema, the restore of the
 *	  source's schema (schemas, extensions, roles, owners, privileges,
 *	  objects only a superuser creates), the apply.
 *
 * The restore runs pg_dump's script as the target role, in one
 * transaction: the first statement it may not run stops the migration
 * half-way through its start, so each is checked here, with the
 * --no-owner, --no-privileges and --roles modes migrate will use.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "migrate/preflight_internal.h"
#include "migrate/roles.h"

/*
 * The source's schemas (those of extensions left out: CREATE EXTENSION
 * makes them) and whether the restore creates objects in them.
 */
static const char source_schemas_sql[] =
	"SELECT n.nspname,\n"
	"  EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = n.oid)\n"
	"  OR EXISTS (SELECT 1 FROM pg_proc p WHERE p.pronamespace = n.oid)\n"
	"  OR EXISTS (SELECT 1 FROM pg_type t WHERE t.typnamespace = n.oid)\n"
	"FROM pg_namespace n\n"
	"WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgferry')\n"
	"  AND n.nspname NOT LIKE 'pg\\_%'\n"
	"  AND NOT EXISTS (SELECT 1 FROM pg_depend d\n"
	"    WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid\n"
	"      AND d.deptype = 'e')\n"
	"ORDER BY 1";

/* Those of them (and pgferry) on the target: may the role create there? */
static const char target_schemas_sql[] =
	"SELECT nspname, quote_ident(nspname), has_schema_privilege(oid, "
	"'CREATE')\n"
	"FROM pg_namespace WHERE nspname = ANY ($1::text[]) ORDER BY 1";

/* Whether another task of a migration restored the schema already. */
static bool
schema_restored(Check *c)
{
	PgResult *res;
	bool restored;

	res = query(c, c->target,
				"SELECT to_regclass('pgferry.schema_restore') IS NOT NULL", 0,
				NULL, "look for pgferry.schema_restore");
	restored = res && pg_result_bool(res, 0, 0);
	pg_result_free(res);
	if (!restored)
		return false;
	res =
		query(c, c->target, "SELECT count(*) > 0 FROM pgferry.schema_restore",
			  0, NULL, "read pgferry.schema_restore");
	restored = res && pg_result_bool(res, 0, 0);
	pg_result_free(res);
	return restored;
}

/*
 * Schemas: the role creates pgferry's and those the restore creates
 * (CREATE on the database), and objects in those that exist (CREATE on
 * them).
 */
static void
check_schemas(Check *c, const char *role, const char *database,
			  bool may_create_schemas)
{
	PgResult *source = query(c, c->source, source_schemas_sql, 0, NULL,
							 "list the source's schemas");
	PgResult *target;
	const char **names;
	const char *params[1];
	Buf missing = BUF_INIT;
	int nsource, nmissing = 0, denied = 0;

	if (source == NULL)
		return;
	nsource = pg_result_rows(source);
	names = xcalloc(nsource + 1, sizeof(char *));
	for (int i = 0; i < nsource; i++)
		names[i] = pg_result_value(source, i, 0);
	names[nsource] = "pgferry";
	params[0] = pg_text_array(names, nsource + 1);
	target =
		query(c, c->target, target_schemas_sql, 1, params, "list schemas");
	free((char *) params[0]);
	if (target == NULL)
	{
		free(names);
		pg_result_free(source);
		return;
	}
	for (int i = 0; i <= nsource; i++)
	{
		bool found = false;

		for (int j = 0; j < pg_result_rows(target) && !found; j++)
			found = strcmp(names[i], pg_result_value(target, j, 0)) == 0;
		if (!found)
			buf_printf(&missing, "%s%s", nmissing++ ? ", " : "", names[i]);
	}
	if (nmissing == 0)
		verdict(c, VERDICT_OK,
				"the target has every schema the restore and pgferry use");
	else if (may_create_schemas)
		verdict(c, VERDICT_OK,
				"target role %s may create schemas in database %s (%s)", role,
				database, missing.data);
	else
	{
		verdict(c, VERDICT_BLOCK,
				"target role %s may not create schemas in database %s, and "
				"the restore and pgferry create %s",
				role, database, missing.data);
		line(c, "fix: GRANT CREATE ON DATABASE %s TO %s;", database, role);
	}

	/* objects go into the schemas that exist: pgferry's tables too */
	for (int j = 0; j < pg_result_rows(target); j++)
	{
		const char *name = pg_result_value(target, j, 0);
		bool used = strcmp(name, "pgferry") == 0;

		for (int i = 0; i < nsource && !used; i++)
			used = strcmp(name, names[i]) == 0 && pg_result_bool(source, i, 1);
		if (!used || pg_result_bool(target, j, 2))
			continue;
		if (denied++ == 0)
			verdict(c, VERDICT_BLOCK,
					"target role %s may not create objects in schemas the "
					"restore fills",
					role);
		line(c, "fix: GRANT CREATE ON SCHEMA %s TO %s;  -- as its owner",
			 pg_result_value(target, j, 1), role);
	}
	buf_free(&missing);
	free(names);
	pg_result_free(source);
	pg_result_free(target);
}

void
check_target(Check *c)
{
	PgResult *res;
	const char *role = c->target_role;
	int relations;

	res = query(
		c, c->target,
		"SELECT has_database_privilege(current_database(), 'CREATE'),\n"
		"  r.rolsuper OR has_parameter_privilege("
		"'session_replication_role', 'SET'),\n"
		"  quote_ident(current_database()),\n"
		"  (SELECT count(*) FROM pg_class c\n"
		"   JOIN pg_namespace n ON n.oid = c.relnamespace\n"
		"   WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')\n"
		"   AND n.nspname NOT IN ('pg_catalog', 'information_schema',\n"
		"     'pgferry') AND n.nspname NOT LIKE 'pg\\_%'),\n"
		"  (SELECT min(format('%I.%I', n.nspname, c.relname))\n"
		"   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace\n"
		"   WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN\n"
		"     ('pg_catalog', 'information_schema', 'pgferry')\n"
		"   AND n.nspname NOT LIKE 'pg\\_%')\n"
		"FROM pg_roles r WHERE r.rolname = current_user",
		0, NULL, "read the target's privileges");
	if (res == NULL)
		return;
	c->restore_pending = !schema_restored(c);
	if (c->restore_pending)
		check_schemas(c, role, pg_result_value(res, 0, 2),
					  pg_result_bool(res, 0, 0));
	if (pg_result_bool(res, 0, 1))
		verdict(c, VERDICT_OK,
				"target role %s may set "
				"session_replication_role",
				role);
	else
	{
		verdict(c, VERDICT_WARN,
				"target role %s may not set "
				"session_replication_role: the target's triggers and "
				"foreign key checks fire while changes are applied",
				role);
		line(c,
			 "fix (as a superuser of the target): GRANT SET ON PARAMETER "
			 "session_replication_role TO %s;",
			 role);
	}

	/* pgferry restores the schema: into an empty database, or a task's */
	relations = atoi(pg_result_value(res, 0, 3));
	if (c->restore_pending && relations > 0)
	{
		verdict(c, VERDICT_BLOCK,
				"the target database already has %d %s (e.g. %s): pgferry "
				"restores the schema itself",
				relations, plural(relations, "relation", "relations"),
				pg_result_value(res, 0, 4) ? pg_result_value(res, 0, 4) : "-");
		line(c, "fix: migrate into an empty database (createdb -T template0 "
				"NAME on the target server), or drop those objects");
	}
	pg_result_free(res);
}

/*
 * The source's extensions: each must be available on the target, and a
 * role that is not a superuser creates only trusted ones and comments
 * only on its own (pg_dump's script has COMMENT ON EXTENSION).
 */
void
check_extensions(Check *c)
{
	PgResult *wanted;
	PgResult *present;
	const char **names;
	const char *params[1];
	int problems = 0;

	if (!c->restore_pending)
		return;
	wanted = query(c, c->source,
				   "SELECT extname, quote_ident(extname) FROM pg_extension "
				   "WHERE extname NOT IN ('plpgsql', 'pgferry') ORDER BY 1",
				   0, NULL, "list the source's extensions");
	if (wanted == NULL)
		return;
	names = xcalloc(pg_result_rows(wanted) + 1, sizeof(char *));
	for (int i = 0; i < pg_result_rows(wanted); i++)
		names[i] = pg_result_value(wanted, i, 0);
	params[0] = pg_text_array(names, pg_result_rows(wanted));
	free(names);
	present =
		query(c, c->target,
			  "SELECT a.name, x.extname IS NOT NULL,\n"
			  "  r.rolsuper OR (x.extname IS NULL AND NOT v.superuser)\n"
			  "    OR (x.extname IS NULL AND v.trusted AND\n"
			  "        has_database_privilege(current_database(), "
			  "'CREATE'))\n"
			  "    OR (x.extname IS NOT NULL AND pg_has_role(x.extowner, "
			  "'USAGE')),\n"
			  "  v.trusted, quote_ident(current_database())\n"
			  "FROM pg_available_extensions a\n"
			  "JOIN pg_roles r ON r.rolname = current_user\n"
			  "LEFT JOIN pg_extension x ON x.extname = a.name\n"
			  "LEFT JOIN pg_available_extension_versions v\n"
			  "  ON v.name = a.name AND v.version = a.default_version\n"
			  "WHERE a.name = ANY ($1::text[])",
			  1, params, "look for the extensions on the target");
	free((char *) params[0]);
	if (present == NULL)
	{
		pg_result_free(wanted);
		return;
	}
	for (int i = 0; i < pg_result_rows(wanted); i++)
	{
		const char *name = pg_result_value(wanted, i, 0);
		const char *quoted = pg_result_value(wanted, i, 1);
		int row = -1;

		for (int j = 0; j < pg_result_rows(present) && row < 0; j++)
			if (strcmp(name, pg_result_value(present, j, 0)) == 0)
				row = j;
		if (row >= 0 && pg_result_bool(present, row, 2))
			continue;
		if (problems++ == 0)
			verdict(c, VERDICT_BLOCK,
					"the schema has extensions the target role may not "
					"create");
		if (row < 0)
			line(c,
				 "%s is not installed on the target server: install its "
				 "package (e.g. postgresql-NN-%s, or contrib)",
				 quoted, name);
		else if (pg_result_bool(present, row, 1))
			line(c,
				 "%s exists on the target and belongs to another role: drop "
				 "it there (the restore creates it), or migrate as a "
				 "superuser of the target",
				 quoted);
		else if (pg_result_bool(present, row, 3))
			line(c,
				 "%s is trusted: the target role creates it with CREATE on "
				 "the database: GRANT CREATE ON DATABASE %s TO %s;",
				 quoted, pg_result_value(present, row, 4), c->target_role);
		else
			line(c,
				 "%s is not trusted: only a superuser creates it; migrate as "
				 "a superuser of the target",
				 quoted);
	}
	if (pg_result_rows(wanted) == 0)
		verdict(c, VERDICT_OK, "the schema uses no extension");
	else if (problems == 0)
		verdict(c, VERDICT_OK,
				"the target role may create the %d %s of the schema",
				pg_result_rows(wanted),
				plural(pg_result_rows(wanted), "extension", "extensions"));
	pg_result_free(wanted);
	pg_result_free(present);
}

/* --- roles ------------------------------------------------------------------ */

/* "owner, grantee" for what names a role. */
static void
describe_uses(unsigned named, Buf *out)
{
	static const struct
	{
		RoleUse use;
		const char *what;
	} uses[] = {{ROLE_OWNER, "owns objects"},
				{ROLE_GRANTEE, "has privileges"},
				{ROLE_GRANTOR, "granted privileges"},
				{ROLE_DEFAULTS, "has default privileges"},
				{ROLE_POLICY, "named by policies or user mappings"}};
	int n = 0;

	for (size_t i = 0; i < sizeof(uses) / sizeof(uses[0]); i++)
		if (named & uses[i].use)
			buf_printf(out, "%s%s", n++ ? ", " : "", uses[i].what);
}

/* The memberships of a role to create that its creator may not grant. */
static int
ungrantable(const SchemaRoles *roles, const SchemaRole *r,
			const RestoreModes *modes)
{
	int count = 0;

	for (int j = 0; j < r->nmemberships; j++)
		count += schema_membership_kept(roles, &r->memberships[j], modes) &&
				 !r->memberships[j].can_grant;
	return count;
}

/* A role the target lacks, and what --roles would do for it. */
static void
missing_role(Check *c, const SchemaRoles *roles, const SchemaRole *r)
{
	const RestoreModes *modes = &c->options->modes;
	const char *why = schema_role_uncreatable(roles, r);
	Buf uses = BUF_INIT;

	describe_uses(r->named, &uses);
	line(c, "  %s (%s)%s%s", r->quoted, uses.data,
		 modes->create_roles && why ? ": cannot be created: " : "",
		 modes->create_roles && why ? why : "");
	buf_free(&uses);
	for (int j = 0; modes->create_roles && j < r->nmemberships; j++)
	{
		const RoleMembership *m = &r->memberships[j];

		if (!schema_membership_kept(roles, m, modes))
			line(c,
				 "    member of %s on the source: not granted (%s is not on "
				 "the target)",
				 m->granted, m->granted);
		else if (!m->can_grant)
			line(c,
				 "    GRANT %s TO %s%s: the target role may not; as a "
				 "superuser: GRANT %s TO %s WITH ADMIN OPTION;",
				 m->granted, r->quoted,
				 m->admin_option ? " WITH ADMIN OPTION" : "", m->granted,
				 c->target_role);
		else
			line(c, "    GRANT %s TO %s%s;", m->granted, r->quoted,
				 m->admin_option ? " WITH ADMIN OPTION" : "");
	}
}

/* The roles the target lacks: created by migrate --roles, or a fix each. */
static void
check_missing_roles(Check *c, const SchemaRoles *roles)
{
	const RestoreModes *modes = &c->options->modes;
	int missing = 0, impossible = 0;
	bool only_droppable = true;

	for (int i = 0; i < roles->count; i++)
	{
		const SchemaRole *r = &roles->roles[i];

		if (r->exists || !schema_role_needed(r, modes))
			continue;
		missing++;
		only_droppable &= (r->named & ROLE_POLICY) == 0;
		impossible += (schema_role_uncreatable(roles, r) != NULL) +
					  ungrantable(roles, r, modes);
	}
	if (missing == 0)
	{
		verdict(c, VERDICT_OK,
				"the target has the %d %s the schema names (owners, "
				"grantees, policies)",
				roles->count, plural(roles->count, "role", "roles"));
		return;
	}
	if (modes->create_roles && impossible == 0)
		verdict(c, VERDICT_INFO,
				"migrate --roles creates %d %s the schema names, with the "
				"source's attributes and memberships; no password (set "
				"them: ALTER ROLE ... PASSWORD on the target)",
				missing, plural(missing, "role", "roles"));
	else
		verdict(c, VERDICT_BLOCK, "the schema names %d %s the target lacks",
				missing, plural(missing, "role", "roles"));
	for (int i = 0, shown = 0; i < roles->count; i++)
	{
		const SchemaRole *r = &roles->roles[i];

		if (!r->exists && schema_role_needed(r, modes) && shown++ < LIST_MAX)
			missing_role(c, roles, r);
	}
	list_rest(c, missing);
	if (modes->create_roles && impossible > 0)
		line(c, "fix: create them as a superuser of the target, or give "
				"the target role what it lacks (above)");
	else if (!modes->create_roles)
	{
		line(c, "fix: pgferry migrate --roles (creates them from the "
				"source's catalog, without passwords), or create them "
				"yourself (pg_dumpall --roles-only on the source lists them)");
		if (only_droppable)
			line(c, "     or leave owners out with --no-owner and "
					"privileges with --no-privileges");
	}
}

/*
 * Owners and default privileges: the restore acts for their roles, which
 * a role that is not a superuser may do only for roles it is a member of.
 */
static void
check_acted_for(Check *c, const SchemaRoles *roles)
{
	const RestoreModes *modes = &c->options->modes;
	const char *role = c->target_role;
	Buf owners = BUF_INIT;
	int count = 0, denied = 0;

	for (int i = 0; i < roles->count; i++)
		if (roles->roles[i].named & ROLE_OWNER)
			buf_printf(&owners, "%s%s", count++ ? ", " : "",
					   roles->roles[i].quoted);
	if (modes->no_owner)
		verdict(c, VERDICT_INFO,
				"--no-owner: the restored objects belong to role %s "
				"(on the source: %s)",
				role, count ? owners.data : "-");
	else if (roles->superuser)
		verdict(c, VERDICT_OK, "the restored objects keep their owners (%s)",
				count ? owners.data : "-");
	buf_free(&owners);
	if (roles->superuser)
		return;
	for (int i = 0; i < roles->count; i++)
	{
		const SchemaRole *r = &roles->roles[i];

		/* migrate --roles makes the target role a member of its roles */
		if (!schema_role_acted_for(r, modes) || r->member ||
			(!r->exists && modes->create_roles))
			continue;
		if (denied++ == 0)
		{
			verdict(c, VERDICT_BLOCK,
					"target role %s may not act for the roles that own "
					"the objects or have default privileges",
					role);
			line(c, "(ALTER ... OWNER TO and ALTER DEFAULT PRIVILEGES FOR "
					"ROLE need a superuser or a member of the role)");
		}
		if (r->target_superuser)
			line(c,
				 "%s is a superuser on the target: only a superuser may "
				 "give it objects",
				 r->quoted);
		else
			line(c, "fix: GRANT %s TO %s;", r->quoted, role);
	}
	if (denied > 0 && !modes->no_owner)
		line(c,
			 "or: pgferry migrate --no-owner (the objects then belong "
			 "to %s; REASSIGN OWNED after the migration)",
			 role);
	else if (!modes->no_owner && denied == 0)
		verdict(c, VERDICT_OK,
				"target role %s may give the restored objects their "
				"owners",
				role);
}

/* Privileges granted by a role that does not own the object. */
static void
check_grantors(Check *c, const SchemaRoles *roles)
{
	Buf names = BUF_INIT;
	int count = 0;

	if (roles->superuser || c->options->modes.no_privileges)
		return;
	for (int i = 0; i < roles->count; i++)
		if (roles->roles[i].named & ROLE_GRANTOR)
			buf_printf(&names, "%s%s", count++ ? ", " : "",
					   roles->roles[i].quoted);
	if (count > 0)
	{
		verdict(c, VERDICT_BLOCK,
				"privileges granted by roles that do not own the objects "
				"(%s): pg_dump's script grants them after SET SESSION "
				"AUTHORIZATION, which only a superuser may run",
				names.data);
		line(c, "fix: pgferry migrate --no-privileges, or migrate as a "
				"superuser of the target, or grant them again on the source "
				"as the objects' owners");
	}
	buf_free(&names);
}

/*
 * ALTER ... OWNER TO a role by a role that is not a superuser needs the
 * new owner's CREATE on the object's schema.
 */
static void
check_owners_create(Check *c, const SchemaRoles *roles)
{
	int denied = 0;

	if (roles->superuser || c->options->modes.no_owner)
		return;
	for (int i = 0; i < roles->count; i++)
	{
		const SchemaRole *r = &roles->roles[i];

		for (int j = 0; j < r->nschemas; j++)
		{
			if (r->schemas[j].granted_on_target)
				continue;
			if (denied++ == 0)
				verdict(c, VERDICT_BLOCK,
						"roles that own objects may not create in their "
						"schemas: the target role may not give them those "
						"objects");
			if (denied <= LIST_MAX)
				line(c,
					 "fix: GRANT CREATE ON SCHEMA %s TO %s;  -- on the "
					 "source (the restore copies it), or on the target once "
					 "both exist",
					 r->schemas[j].quoted, r->quoted);
		}
	}
	list_rest(c, denied);
	if (denied > 0)
		line(c, "or: pgferry migrate --no-owner, or migrate as a superuser "
				"of the target");
}

/* Objects only a superuser may create (outside extensions). */
static const char superuser_objects_sql[] =
	"SELECT what FROM (\n"
	"  SELECT format('function %s (language %s)', p.oid::regprocedure,\n"
	"    l.lanname), p.oid, 'pg_proc'::regclass\n"
	"  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang\n"
	"  WHERE NOT l.lanpltrusted AND p.oid >= 16384\n"
	"  UNION ALL SELECT format('event trigger %I', evtname), oid,\n"
	"    'pg_event_trigger'::regclass FROM pg_event_trigger\n"
	"  UNION ALL SELECT format('foreign-data wrapper %I', fdwname), oid,\n"
	"    'pg_foreign_data_wrapper'::regclass FROM pg_foreign_data_wrapper\n"
	"  UNION ALL SELECT format('publication %I (FOR ALL TABLES)', pubname),\n"
	"    oid, 'pg_publication'::regclass FROM pg_publication\n"
	"    WHERE puballtables) o(what, oid, catalog)\n"
	"WHERE NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = "
	"o.catalog\n"
	"  AND d.objid = o.oid AND d.deptype = 'e')\n"
	"ORDER BY 1";

static void
check_superuser_objects(Check *c, const SchemaRoles *roles)
{
	PgResult *res;
	int count;

	if (roles->superuser)
		return;
	res = query(c, c->source, superuser_objects_sql, 0, NULL,
				"look for objects only a superuser creates");
	if (res == NULL)
		return;
	count = pg_result_rows(res);
	if (count > 0)
	{
		verdict(c, VERDICT_BLOCK,
				"the schema has %d %s only a superuser may create", count,
				plural(count, "object", "objects"));
		for (int i = 0; i < count && i < LIST_MAX; i++)
			line(c, "  %s", pg_result_value(res, i, 0));
		list_rest(c, count);
		line(c, "fix: migrate as a superuser of the target");
	}
	pg_result_free(res);
}

void
check_schema_roles(Check *c)
{
	SchemaRoles roles;

	if (!c->restore_pending)
		return;
	if (!schema_roles_read(c->source, c->target, &roles))
	{
		c->failed = true;
		return;
	}
	check_missing_roles(c, &roles);
	check_acted_for(c, &roles);
	check_grantors(c, &roles);
	check_owners_create(c, &roles);
	check_superuser_objects(c, &roles);
	schema_roles_free(&roles);
}
