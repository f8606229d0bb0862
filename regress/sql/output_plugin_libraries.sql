-- output_plugin_libraries: a server allows pgferry as an output plugin only
-- when the setting lists it; otherwise creating a pgferry slot, or decoding
-- one, fails with PostgreSQL's own message.  Servers before 15.19 have no
-- such setting (output_plugin_libraries_1.out).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgferry;
RESET client_min_messages;

SELECT current_setting('output_plugin_libraries', true) IS NOT NULL AS has_setting \gset
\if :has_setting
SHOW output_plugin_libraries;
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'pgferry');
SET output_plugin_libraries = 'pgoutput, test_decoding';
SELECT 'init' FROM pg_create_logical_replication_slot('refused_slot', 'pgferry');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL);
RESET output_plugin_libraries;
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('regression_slot', NULL, NULL);
SELECT pg_drop_replication_slot('regression_slot');
\else
SELECT 'no output_plugin_libraries setting: pgferry loads as any plugin' AS note;
\endif
