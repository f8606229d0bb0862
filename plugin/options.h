/*-------------------------------------------------------------------------
 *
 * options.h
 *	  The options a consumer passes to the pgferry plugin.
 *
 * Options are parsed once, when a decoding session starts, into a
 * PgferryOptions; callbacks read only the struct.  Every unknown name or bad
 * value is refused with an error that names the option and the fix.
 *
 *	  proto_version		 1 (the only version this plugin speaks; default 1)
 *	  binary			 send built-in types in send/recv format (default off)
 *	  include_tables	 only decode tables matching these patterns (pattern.h)
 *	  exclude_tables	 never decode tables matching these patterns
 *	  skip_empty_xacts	 send nothing for a transaction without changes
 *						 (default on)
 *	  include_origin	 put the origin name and LSN on Begin (default off)
 *	  skip_origin		 skip changes from this replication origin, or from
 *						 every origin with '*'
 *	  stream			 stream transactions larger than
 *						 logical_decoding_work_mem before they commit
 *						 (default off)
 *	  group_bytes		 gather frames into groups of about this many bytes,
 *						 one group per message (see proto/pgferry.proto);
 *						 0, the default: one frame per message
 *
 * A boolean option given without a value means on.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGFERRY_OPTIONS_H
#define PGFERRY_OPTIONS_H

#include "nodes/pg_list.h"

/* The protocol version of proto/pgferry.proto this plugin writes. */
#define PGFERRY_PROTO_VERSION 1

/* In a group (group_bytes), each frame's length before it, in network order. */
#define PGFERRY_FRAME_LENGTH_BYTES 4

typedef struct PgferryOptions
{
	uint32 proto_version;
	bool binary;
	List *include_tables; /* of patterns; NIL: every table */
	List *exclude_tables; /* of patterns */
	bool skip_empty_xacts;
	bool include_origin;
	char *skip_origin; /* origin name, "*" for any, NULL for none */
	bool stream;
	uint32 group_bytes; /* 0: frames are not grouped */
} PgferryOptions;

/* Fill *options from the session's option list (a List of DefElem). */
extern void options_parse(PgferryOptions *options, List *option_list);

#endif /* PGFERRY_OPTIONS_H */
