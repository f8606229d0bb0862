-- pgferry extension, version 1.0
\echo Use "CREATE EXTENSION pgferry" to load this file. \quit
