/*-------------------------------------------------------------------------
 *
 * options.c
 *	  Parse the pgferry plugin's options (the list is in options.h).
 *
 * One table maps each option name to its parser and to the field of
 * PgferryOptions the parser fills; adding an option is adding a row.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "nodes/parsenodes.h"
#include "nodes/value.h"
#include "utils/builtins.h"

#include "options.h"
#include "pattern.h"

/* Parse the value of `elem` into the field at `field`. */
typedef void (*OptionParser)(DefElem *elem, void *field);

typedef struct OptionDef
{
	const char *name;
	OptionParser parse;
	size_t offset; /* of the field within PgferryOptions */
} OptionDef;

static void parse_proto_version(DefElem *elem, void *field);
static void parse_bool_option(DefElem *elem, void *field);
static void parse_patterns(DefElem *elem, void *field);
static void parse_origin(DefElem *elem, void *field);
static void parse_group_bytes(DefElem *elem, void *field);

static const OptionDef option_defs[] = {
	{"proto_version", parse_proto_version,
	 offsetof(PgferryOptions, proto_version)},
	{"binary", parse_bool_option, offsetof(PgferryOptions, binary)},
	{"include_tables", parse_patterns,
	 offsetof(PgferryOptions, include_tables)},
	{"exclude_tables", parse_patterns,
	 offsetof(PgferryOptions, exclude_tables)},
	{"skip_empty_xacts", parse_bool_option,
	 offsetof(PgferryOptions, skip_empty_xacts)},
	{"include_origin", parse_bool_option,
	 offsetof(PgferryOptions, include_origin)},
	{"skip_origin", parse_origin, offsetof(PgferryOptions, skip_origin)},
	{"stream", parse_bool_option, offsetof(PgferryOptions, stream)},
	{"group_bytes", parse_group_bytes, offsetof(PgferryOptions, group_bytes)},
};

#define NUM_OPTIONS lengthof(option_defs)

/* The value of an option that requires one. */
static const char *
required_value(DefElem *elem)
{
	if (elem->arg == NULL)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("pgferry option \"%s\" requires a value",
							   elem->defname),
						errhint("Give it as %s 'value'.", elem->defname)));
	return strVal(elem->arg);
}

/* Whether value is a whole decimal integer, set into *result. */
static bool
integer_value(const char *value, long *result)
{
	char *end;

	errno = 0;
	*result = strtol(value, &end, 10);
	return errno == 0 && end != value && *end == '\0';
}

static void
parse_proto_version(DefElem *elem, void *field)
{
	const char *value = required_value(elem);
	long version;

	if (!integer_value(value, &version))
		ereport(
			ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value \"%s\" for pgferry option \"%s\"", value,
					elem->defname),
			 errdetail("The option is an integer."),
			 errhint("Request proto_version '%d'.", PGFERRY_PROTO_VERSION)));
	if (version != PGFERRY_PROTO_VERSION)
		ereport(
			ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("pgferry protocol version %ld is not supported", version),
			 errdetail("This pgferry plugin writes protocol version %d "
					   "only.",
					   PGFERRY_PROTO_VERSION),
			 errhint("Request proto_version '%d'.", PGFERRY_PROTO_VERSION)));
	*(uint32 *) field = (uint32) version;
}

static void
parse_bool_option(DefElem *elem, void *field)
{
	/* a boolean option named without a value means on */
	if (elem->arg == NULL)
	{
		*(bool *) field = true;
		return;
	}
	if (!parse_bool(strVal(elem->arg), (bool *) field))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value \"%s\" for pgferry option \"%s\"",
						strVal(elem->arg), elem->defname),
				 errdetail("The option is a boolean."),
				 errhint("Use on, off, true, false, 1 or 0.")));
}

static void
parse_patterns(DefElem *elem, void *field)
{
	*(List **) field = pattern_list_parse(elem->defname, required_value(elem));
}

/* The origin name is resolved at startup, where catalog access is safe. */
static void
parse_origin(DefElem *elem, void *field)
{
	const char *value = required_value(elem);

	if (value[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pgferry option \"%s\" is empty", elem->defname),
				 errhint("Name a replication origin, or give '*' to skip "
						 "changes from every origin.")));
	*(char **) field = pstrdup(value);
}

/*
 * A group larger than this buys nothing (a send of 64 kB already costs the
 * walsender little per byte) and only holds the consumer back.
 */
#define MAX_GROUP_BYTES (16 * 1024 * 1024)

static void
parse_group_bytes(DefElem *elem, void *field)
{
	const char *value = required_value(elem);
	long bytes;

	if (!integer_value(value, &bytes) || bytes < 0 || bytes > MAX_GROUP_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value \"%s\" for pgferry option \"%s\"",
						value, elem->defname),
				 errdetail("The option is a number of bytes from 0 to %d.",
						   MAX_GROUP_BYTES),
				 errhint("Give 0 for one frame per message, or a size such "
						 "as 65536.")));
	*(uint32 *) field = (uint32) bytes;
}

static const OptionDef *
find_option(const char *name)
{
	for (int i = 0; i < NUM_OPTIONS; i++)
	{
		if (strcmp(option_defs[i].name, name) == 0)
			return &option_defs[i];
	}
	return NULL;
}

static void
unknown_option(const char *name)
{
	StringInfoData known;

	initStringInfo(&known);
	for (int i = 0; i < NUM_OPTIONS; i++)
		appendStringInfo(&known, "%s%s", i > 0 ? ", " : "",
						 option_defs[i].name);
	ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					errmsg("unrecognized pgferry option \"%s\"", name),
					errhint("The options are: %s.", known.data)));
}

void
options_parse(PgferryOptions *options, List *option_list)
{
	bool seen[NUM_OPTIONS] = {false};
	ListCell *lc;

	memset(options, 0, sizeof(PgferryOptions));
	options->proto_version = PGFERRY_PROTO_VERSION;
	options->skip_empty_xacts = true;

	foreach (lc, option_list)
	{
		DefElem *elem = lfirst(lc);
		const OptionDef *def = find_option(elem->defname);

		if (def == NULL)
			unknown_option(elem->defname);
		if (seen[def - option_defs])
			ereport(ERROR,
					(errcode(ERRCODE_SYNTAX_ERROR),
					 errmsg("conflicting or redundant options"),
					 errdetail("pgferry option \"%s\" is given more than "
							   "once.",
							   elem->defname)));
		seen[def - option_defs] = true;
		def->parse(elem, (char *) options + def->offset);
	}
}
