-- pgferry extension, version 1.0
\echo Use "CREATE EXTENSION pgferry" to load this file. \quit

CREATE SCHEMA pgferry;
COMMENT ON SCHEMA pgferry IS 'pgferry: functions of the pgferry extension';

CREATE FUNCTION pgferry.frame_text(frame bytea, masked boolean DEFAULT false)
RETURNS text
AS 'MODULE_PATHNAME', 'pgferry_frame_text'
LANGUAGE C STRICT STABLE PARALLEL SAFE;

COMMENT ON FUNCTION pgferry.frame_text(bytea, boolean) IS
'One frame of the pgferry plugin''s output as text; masked hides the values that change from run to run (xids, LSNs, times, OIDs)';

CREATE FUNCTION pgferry.group_frames(message bytea)
RETURNS bytea[]
AS 'MODULE_PATHNAME', 'pgferry_group_frames'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION pgferry.group_frames(bytea) IS
'The frames of one message of the pgferry plugin decoded with group_bytes, in order';
