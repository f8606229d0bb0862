/*-------------------------------------------------------------------------
 *
 * roles.h
 *	  The roles the source's schema names, and the creation of those the
 *	  target lacks (pgferry migrate --roles).
 *
 * Roles are the server's, not the database's: pg_dump's script names them
 * (ALTER ... OWNER TO, GRANT, REVOKE, ALTER DEFAULT PRIVILEGES FOR ROLE,
 * CREATE POLICY ... TO, CREATE USER MAPPING FOR) but never creates them,
 * so each must exist on the target before the schema is restored.
 *
 * Promises:
 *	- schema_roles_read() lists every role pg_dump's script of the source
 *	  database names, predefined roles (pg_*) and PUBLIC left out, with
 *	  what names it, its attributes, the roles it is a member of, and how
 *	  it stands on the target.  Objects of extensions, system schemas and
 *	  the pgferry schema, which pg_dump does not restore, do not count.
 *	- schema_roles_create() creates those the target lacks, in the
 *	  caller's transaction (a failed restore leaves none behind), with the
 *	  source's attributes and memberships but never a password (the
 *	  source's cannot be read, and would not belong on the target
 *	  anyway): the operator sets them.  A role that exists on the target
 *	  is never changed.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_ROLES_H
#define PGFERRY_ROLES_H

#include <stdbool.h>

#include "migrate/schema.h"
#include "pg/pg.h"

/* What names a role in pg_dump's script (SchemaRole.named, a bit set). */
typedef enum RoleUse
{
	ROLE_OWNER = 1 << 0,	/* owns restored objects: ALTER ... OWNER TO */
	ROLE_GRANTEE = 1 << 1,	/* GRANT ... TO, REVOKE ... FROM */
	ROLE_GRANTOR = 1 << 2,	/* granted on objects it does not own: the
							 * script switches to it with SET SESSION
							 * AUTHORIZATION, which needs a superuser */
	ROLE_DEFAULTS = 1 << 3, /* ALTER DEFAULT PRIVILEGES FOR ROLE */
	ROLE_POLICY = 1 << 4	/* CREATE POLICY ... TO, USER MAPPING FOR */
} RoleUse;

/* A role that is a member of another on the source (GRANT granted TO). */
typedef struct RoleMembership
{
	char *granted;	   /* quoted */
	char *granted_raw; /* as the catalogs spell it */
	bool admin_option;
	bool granted_exists; /* on the target */
	bool can_grant;		 /* the target role may grant it */
} RoleMembership;

/*
 * A schema the role owns objects in without the CREATE there that the
 * source's privileges on the schema would give it: ALTER ... OWNER TO it
 * by a role that is not a superuser needs that CREATE.
 */
typedef struct RoleSchema
{
	char *quoted;
	bool granted_on_target; /* the target gives it (the role and the schema
							 * exist there) */
} RoleSchema;

typedef struct SchemaRole
{
	char *name;	  /* as the catalogs spell it */
	char *quoted; /* quote_ident */
	unsigned named;
	/* on the source */
	bool superuser, inherit, createrole, createdb, login, replication,
		bypassrls;
	int connection_limit; /* -1: none */
	char *valid_until;	  /* ISO 8601, or NULL */
	RoleMembership *memberships;
	int nmemberships;
	RoleSchema *schemas;
	int nschemas;
	/* on the target */
	bool exists;
	bool target_superuser; /* the role is a superuser there */
	bool member;		   /* the target role is a member of it */
} SchemaRole;

typedef struct SchemaRoles
{
	SchemaRole *roles;
	int count;
	/* the target role */
	bool superuser;
	bool createrole;
	bool createdb, replication, bypassrls; /* what it may pass on (16+) */
	int target_version;
} SchemaRoles;

/*
 * Reads the roles source's schema names (whatever the modes) and how they
 * stand on target.
 */
extern bool schema_roles_read(PgConn *source, PgConn *target,
							  SchemaRoles *roles);
extern void schema_roles_free(SchemaRoles *roles);

/* Whether the restore under modes needs the role to exist on the target. */
extern bool schema_role_needed(const SchemaRole *role,
							   const RestoreModes *modes);

/*
 * Whether the restore under modes acts for the role (ALTER ... OWNER TO
 * it, ALTER DEFAULT PRIVILEGES FOR ROLE it): the target role must then be
 * a superuser or a member of it.
 */
extern bool schema_role_acted_for(const SchemaRole *role,
								  const RestoreModes *modes);

/*
 * Whether the creation of its member grants m: the role it grants is on
 * the target, or created too.  (A role the schema does not name is not
 * created for a membership: it would hold no privilege here.)
 */
extern bool schema_membership_kept(const SchemaRoles *roles,
								   const RoleMembership *m,
								   const RestoreModes *modes);

/*
 * Why the target role may not create role (a static message), or NULL
 * when it may.
 */
extern const char *schema_role_uncreatable(const SchemaRoles *roles,
										   const SchemaRole *role);

/*
 * Creates the roles the restore under modes needs and the target lacks,
 * then their memberships, in the caller's transaction; when the target
 * role is not a superuser, makes it a member of those it acts for.
 */
extern bool schema_roles_create(PgConn *target, const SchemaRoles *roles,
								const RestoreModes *modes);

#endif /* PGFERRY_ROLES_H */
