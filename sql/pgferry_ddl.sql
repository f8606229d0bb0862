-- pgferry DDL capture: schema changes travel in the logical decoding
-- stream, in commit order with the rows.
--
-- Event triggers send each DDL statement as a transactional logical message
-- (prefix 'pgferry.ddl', JSON content): it goes away with a rollback and
-- arrives inside its transaction, where the applier replays it.  Part of
-- the pgferry extension; where CREATE EXTENSION of a C library is
-- impossible (a managed source), this script alone installs the same
-- objects: psql -f pgferry_ddl.sql, as a superuser (event triggers need
-- one), instead of the extension, never besides it.
--
-- Capture is on wherever these triggers exist; it is off for a database
-- (ALTER DATABASE ... SET pgferry.capture_ddl = off) or a session
-- (SET pgferry.capture_ddl = off) that must not send its changes.
--
-- The message: {"tag", "command", "search_path", "role", "objects":
-- [{"type", "schema", "identity", "table"}], "concurrently", "refused"}.
-- "command" is the one statement that fired, as the target replays it;
-- "refused" (null when the command can be replayed) says why it cannot.

CREATE SCHEMA IF NOT EXISTS pgferry;

-- The statements of a query string: split at the semicolons outside
-- quotes, comments and dollar quotes, each from its first token, empty
-- ones left out.  A query string of one statement is the usual case; one
-- of several is read a character at a time, in a single pass.
CREATE FUNCTION pgferry.ddl_statements(query text)
RETURNS text[]
LANGUAGE plpgsql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
	statements text[] := '{}';
	state text := 'sql';	-- sql, quote, ident, line, block, dollar_tag, dollar
	depth int := 0;			-- of nested block comments
	tag text := '';
	closing text := '';
	tail text := '';
	prev text := '';
	sig int;				-- where the statement's first token starts
	i int := 0;
	c text;
BEGIN
	FOR c IN SELECT string_to_table(query, NULL) LOOP
		i := i + 1;
		IF state = 'dollar_tag' THEN
			IF c ~ '[A-Za-z0-9_]' THEN
				tag := tag || c;
				CONTINUE;
			ELSIF c = '$' THEN
				state := 'dollar';
				closing := '$' || tag || '$';
				tail := '';
				CONTINUE;
			END IF;
			state := 'sql';	-- not a dollar quote ($1): c is plain SQL
		END IF;
		CASE state
		WHEN 'sql' THEN
			IF sig IS NULL AND c !~ '[\s;]' THEN
				sig := i;
			END IF;
			IF c = '''' THEN
				state := 'quote';
			ELSIF c = '"' THEN
				state := 'ident';
			ELSIF c = '-' AND prev = '-' THEN
				state := 'line';
				sig := CASE WHEN sig = i - 1 THEN NULL ELSE sig END;
			ELSIF c = '*' AND prev = '/' THEN
				state := 'block';
				depth := 1;
				c := '';
				sig := CASE WHEN sig = i - 1 THEN NULL ELSE sig END;
			ELSIF c = '$' AND prev !~ '[A-Za-z0-9_$]' THEN
				state := 'dollar_tag';
				tag := '';
			ELSIF c = ';' THEN
				statements := statements || rtrim(substr(query, sig, i - sig), E' \t\r\n');
				sig := NULL;
			END IF;
		WHEN 'quote' THEN
			IF c = '''' THEN
				state := 'sql';
				c := '';
			END IF;
		WHEN 'ident' THEN
			IF c = '"' THEN
				state := 'sql';
				c := '';
			END IF;
		WHEN 'line' THEN
			IF c = E'\n' THEN
				state := 'sql';
			END IF;
		WHEN 'block' THEN
			IF c = '/' AND prev = '*' THEN
				depth := depth - 1;
				IF depth = 0 THEN
					state := 'sql';
				END IF;
				c := '';
			ELSIF c = '*' AND prev = '/' THEN
				depth := depth + 1;
				c := '';
			END IF;
		WHEN 'dollar' THEN
			tail := right(tail || c, length(closing));
			IF tail = closing THEN
				state := 'sql';
				c := '';
			END IF;
		END CASE;
		prev := c;
	END LOOP;
	IF sig IS NOT NULL THEN
		statements := statements || rtrim(substr(query, sig), E' \t\r\n;');
	END IF;
	RETURN array_remove(statements, NULL);
END
$fn$;

-- Whether statement is one that fires an event trigger with tag: its
-- first word is the tag's first, its other words among the statement's
-- first six (CREATE UNIQUE INDEX, CREATE OR REPLACE FUNCTION...).
CREATE FUNCTION pgferry.ddl_statement_has_tag(statement text, tag text)
RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $fn$
	SELECT w[1] = t[1] AND t[2:] <@ (w[1:6] || ARRAY['AS', 'INTO'])
	FROM regexp_split_to_array(upper(statement), '[^A-Z_]+') AS w,
		regexp_split_to_array(upper(tag), ' ') AS t
$fn$;

-- The capture itself, at ddl_command_end; at ddl_command_start for CREATE
-- TABLE AS and SELECT INTO, whose rows are decoded before the end.
CREATE FUNCTION pgferry.ddl_capture(tag text, search_path text, at_start boolean)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
	query text := current_query();
	context text;
	caller text;			-- the context below the event trigger
	nested boolean := false;
	nstatements int;
	i int;
	statements text[];
	position_key text;
	last_used int := 0;
	statement text;
	command text;
	refused text;
	objects jsonb := '[]';
	dropped jsonb := coalesce(nullif(current_setting('pgferry.ddl_dropped', true), ''), '[]')::jsonb;
	rewritten text := nullif(current_setting('pgferry.ddl_rewritten', true), '');
	temporary boolean := false;
	was_concurrent boolean;
	detached text;
	role text := CASE current_setting('role') WHEN 'none' THEN session_user
		ELSE current_setting('role') END;
BEGIN
	PERFORM set_config('pgferry.ddl_dropped', '', true);
	PERFORM set_config('pgferry.ddl_rewritten', '', true);
	IF coalesce(current_setting('pgferry.capture_ddl', true), 'on') IN ('off', 'false', 'no', '0') THEN
		RETURN;
	END IF;

	IF at_start THEN
		NULL;	-- the objects do not exist yet
	ELSIF tag IN ('CREATE TABLE AS', 'SELECT INTO') THEN
		RETURN;	-- sent at the start
	ELSE
	SELECT coalesce(jsonb_agg(DISTINCT jsonb_build_object(
			'type', c.object_type, 'schema', c.schema_name,
			'identity', c.object_identity,
			'table', (SELECT jsonb_build_array(n.nspname, r.relname)
				FROM pg_class AS r JOIN pg_namespace AS n ON n.oid = r.relnamespace
				WHERE r.oid = coalesce(i.indrelid, c.objid)
					AND c.classid = 'pg_class'::regclass AND r.relkind IN ('r', 'p', 'f', 'v', 'm')))),
			'[]'),
		bool_and(c.schema_name ~ '^pg_temp' OR c.schema_name = 'pgferry')
	INTO objects, temporary
	FROM pg_event_trigger_ddl_commands() AS c
		LEFT JOIN pg_index AS i ON c.classid = 'pg_class'::regclass AND i.indexrelid = c.objid
	WHERE NOT c.in_extension;
	objects := objects || dropped;
	-- nothing that lasts changed: temporary objects, pgferry's own, an
	-- extension's members, a DROP ... IF EXISTS that found nothing
	IF objects = '[]' OR temporary THEN
		RETURN;
	END IF;
	END IF;

	-- Run by a function, procedure or DO block, the query string is the
	-- call; the context tells the command: PL/pgSQL (and every caller
	-- through SPI) names the statement it runs, a LANGUAGE sql function its
	-- name and the statement's number in its body.
	GET DIAGNOSTICS context = PG_CONTEXT;
	caller := substring(context from
		'ddl_command_(?:start|end)_trigger\(\) line \d+ at PERFORM\n(.*)$');
	IF caller LIKE 'SQL statement "%' THEN
		caller := substr(caller, length('SQL statement "') + 1);
		query := CASE WHEN position(E'"\nPL/' IN caller) > 0
			THEN left(caller, position(E'"\nPL/' IN caller) - 1)
			WHEN right(caller, 1) = '"' THEN left(caller, -1) END;
		nested := true;
	ELSIF caller ~ '^SQL function "[^"]*" statement \d+(\n|$)' THEN
		SELECT (pgferry.ddl_statements(min(p.prosrc)))[
				substring(caller from '^SQL function "[^"]*" statement (\d+)')::int]
		INTO query
		FROM pg_proc AS p JOIN pg_language AS l ON l.oid = p.prolang
		WHERE l.lanname = 'sql'
			AND p.proname = substring(caller from '^SQL function "([^"]*)"')
		HAVING count(*) = 1;
		nested := true;
	ELSIF caller IS NOT NULL THEN
		query := NULL;
	END IF;

	IF query IS NULL THEN
		refused := format('it ran inside a function whose command the '
			'capture cannot read (%s): the source''s query string holds the '
			'call, not the command', split_part(caller, E'\n', 1));
		statement := current_query();
	ELSE
		-- the statement that fired, in a query string of several: the next
		-- of this tag after the one the last firing of the same query took
		-- (a function's, in a loop, may start over)
		statements := pgferry.ddl_statements(query);
		position_key := md5(query) || ' ' || statement_timestamp();
		IF split_part(current_setting('pgferry.ddl_position', true), '|', 1) = position_key THEN
			last_used := split_part(current_setting('pgferry.ddl_position'), '|', 2)::int;
		END IF;
		nstatements := coalesce(array_length(statements, 1), 0);
		FOR i IN SELECT (g - 1) % nstatements + 1 FROM generate_series(last_used + 1,
				CASE WHEN nested THEN last_used + nstatements ELSE nstatements END) AS g LOOP
			IF pgferry.ddl_statement_has_tag(statements[i], tag) THEN
				statement := statements[i];
				PERFORM set_config('pgferry.ddl_position', position_key || '|' || i, false);
				EXIT;
			END IF;
		END LOOP;
		IF statement IS NULL THEN
			refused := format('no statement of its query string is a %s', tag);
			statement := query;
		END IF;
	END IF;

	-- CONCURRENTLY cannot run in the applier's transaction, and the
	-- target has no writers to spare from the lock (its readers are not
	-- blocked by a CREATE INDEX); a detach FINALIZE ends a concurrent one
	-- the target never began
	command := regexp_replace(statement,
		'^((CREATE\s+(UNIQUE\s+)?|DROP\s+)INDEX\s+)CONCURRENTLY\s+', '\1', 'i');
	-- what a CREATE INDEX CONCURRENTLY that failed left (an invalid index,
	-- never sent) is dropped where it is not
	command := regexp_replace(command, '^(DROP\s+INDEX\s+)(?!IF\s+EXISTS\s)', '\1IF EXISTS ', 'i');
	detached := substring(statement from
		'(?i)^ALTER\s+TABLE\s.*\mDETACH\s+PARTITION\s+(.*\S)\s+(?:CONCURRENTLY|FINALIZE)\s*$');
	IF detached IS NOT NULL THEN
		-- the partition a concurrent detach leaves keeps its bound as a
		-- CHECK constraint, which a plain one does not add: the target adds
		-- it, named as the source did
		command := format('DO $pgferry$ DECLARE bound text := '
			'pg_catalog.pg_get_partition_constraintdef(%L::pg_catalog.regclass); '
			'BEGIN EXECUTE %L; IF bound IS NOT NULL THEN EXECUTE pg_catalog.format('
			'''ALTER TABLE %%s ADD CHECK (%%s)'', %L::pg_catalog.regclass, bound); '
			'END IF; END $pgferry$', detached,
			regexp_replace(statement, '\s+(CONCURRENTLY|FINALIZE)\s*$', '', 'i'),
			detached);
	END IF;
	was_concurrent := statement ~* '^(CREATE\s+(UNIQUE\s+)?|DROP\s+)INDEX\s+CONCURRENTLY\s'
		OR detached IS NOT NULL;
	IF at_start AND statement ~* '^CREATE\s+((GLOBAL|LOCAL)\s+)?TEMP(ORARY)?\s|\mINTO\s+((GLOBAL|LOCAL)\s+)?TEMP(ORARY)?\s' THEN
		RETURN;
	END IF;
	IF refused IS NULL AND tag = 'CREATE TABLE AS' THEN
		-- its rows arrive as inserts: the definition alone
		command := regexp_replace(command, '\s+WITH\s+(NO\s+)?DATA\s*$', '', 'i')
			|| ' WITH NO DATA';
	ELSIF refused IS NULL AND tag = 'SELECT INTO' THEN
		refused := 'SELECT INTO sends its rows before its definition, and the '
			'target cannot run it without its data: CREATE TABLE AS can';
	END IF;
	IF refused IS NULL AND rewritten IS NOT NULL THEN
		refused := format('it gave table %s a volatile default: the source '
			'wrote its values into the existing rows without decoding them, '
			'and the target would compute others', rewritten);
	END IF;

	PERFORM pg_logical_emit_message(true, 'pgferry.ddl', jsonb_build_object(
		'tag', tag,
		'command', command,
		'search_path', search_path,
		'role', role,
		'objects', objects,
		'concurrently', was_concurrent,
		'refused', refused)::text);
END
$fn$;

-- sql_drop comes before ddl_command_end for the same statement: it keeps
-- the objects dropped (pg_event_trigger_dropped_objects() is only there)
-- for ddl_capture.
CREATE FUNCTION pgferry.ddl_dropped()
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
	PERFORM set_config('pgferry.ddl_dropped', coalesce((
		SELECT jsonb_agg(jsonb_build_object(
			'type', d.object_type, 'schema', d.schema_name,
			'identity', d.object_identity,
			'table', CASE WHEN d.object_type IN ('table', 'view', 'materialized view', 'foreign table')
				THEN jsonb_build_array(d.schema_name, d.object_name) END))
		FROM pg_event_trigger_dropped_objects() AS d
		WHERE d.original AND NOT d.is_temporary AND d.schema_name IS DISTINCT FROM 'pgferry'
	), '[]')::text, true);
END
$fn$;

-- table_rewrite: a volatile default written into existing rows (the new
-- values are not decoded).
CREATE FUNCTION pgferry.ddl_rewrite()
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
	has_rows boolean;
BEGIN
	-- 2: AT_REWRITE_DEFAULT_VAL
	IF pg_event_trigger_table_rewrite_reason() & 2 = 0 THEN
		RETURN;
	END IF;
	EXECUTE format('SELECT EXISTS (SELECT FROM %s)', pg_event_trigger_table_rewrite_oid()::regclass)
		INTO has_rows;
	IF has_rows THEN
		PERFORM set_config('pgferry.ddl_rewritten',
			pg_event_trigger_table_rewrite_oid()::regclass::text, true);
	END IF;
END
$fn$;

-- Sequences' values travel too: pgferry follow calls this on the source
-- every --sequences-interval.  A transactional 'pgferry.sequences' message
-- of [{"schema", "name", "value"}], the last value handed out by each
-- sequence used so far: never behind a row that used one, since a value is
-- handed out before its row commits.  Returns how many it sent.
CREATE FUNCTION pgferry.send_sequences()
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
	content jsonb;
	sent bigint;
BEGIN
	SELECT jsonb_agg(jsonb_build_object('schema', n.nspname, 'name', c.relname,
			'value', v.value)), count(*)
	INTO content, sent
	FROM pg_class AS c
		JOIN pg_namespace AS n ON n.oid = c.relnamespace,
		LATERAL (SELECT pg_sequence_last_value(c.oid) AS value) AS v
	WHERE c.relkind = 'S' AND c.relpersistence = 'p' AND v.value IS NOT NULL
		AND n.nspname <> 'pgferry';
	IF sent > 0 THEN
		PERFORM pg_logical_emit_message(true, 'pgferry.sequences', content::text);
	END IF;
	RETURN sent;
END
$fn$;

-- What the event triggers call.  This one alone has no pinned search_path:
-- it reads the one the command ran under, and names everything with its
-- schema.
CREATE FUNCTION pgferry.ddl_command_end_trigger()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
AS $fn$
BEGIN
	PERFORM pgferry.ddl_capture(TG_TAG, pg_catalog.current_setting('search_path'), false);
END
$fn$;

CREATE FUNCTION pgferry.ddl_command_start_trigger()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
AS $fn$
BEGIN
	PERFORM pgferry.ddl_capture(TG_TAG, pg_catalog.current_setting('search_path'), true);
END
$fn$;

CREATE FUNCTION pgferry.ddl_sql_drop_trigger()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
	PERFORM pgferry.ddl_dropped();
END
$fn$;

CREATE FUNCTION pgferry.ddl_table_rewrite_trigger()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
	PERFORM pgferry.ddl_rewrite();
END
$fn$;

REVOKE ALL ON FUNCTION pgferry.ddl_statements(text), pgferry.ddl_statement_has_tag(text, text),
	pgferry.ddl_capture(text, text, boolean), pgferry.ddl_dropped(), pgferry.ddl_rewrite(),
	pgferry.ddl_command_end_trigger(), pgferry.ddl_command_start_trigger(), pgferry.ddl_sql_drop_trigger(),
	pgferry.ddl_table_rewrite_trigger(), pgferry.send_sequences() FROM PUBLIC;

CREATE EVENT TRIGGER pgferry_ddl_command_end ON ddl_command_end
	EXECUTE FUNCTION pgferry.ddl_command_end_trigger();
CREATE EVENT TRIGGER pgferry_ddl_command_start ON ddl_command_start
	WHEN TAG IN ('CREATE TABLE AS', 'SELECT INTO')
	EXECUTE FUNCTION pgferry.ddl_command_start_trigger();
CREATE EVENT TRIGGER pgferry_ddl_sql_drop ON sql_drop
	EXECUTE FUNCTION pgferry.ddl_sql_drop_trigger();
CREATE EVENT TRIGGER pgferry_ddl_table_rewrite ON table_rewrite
	EXECUTE FUNCTION pgferry.ddl_table_rewrite_trigger();
