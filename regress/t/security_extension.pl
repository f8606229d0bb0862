
# The pgferry extension's objects give nothing to roles that should not have
# it: no function that runs with its owner's rights (SECURITY DEFINER) is
# callable by PUBLIC, every function not in C pins its search_path (event
# trigger functions aside: only event triggers call them), the pgferry
# schema gives PUBLIC neither CREATE nor USAGE (so none of its functions is
# callable without a grant), and pgferry.frame_text() only reads the bytes
# it is given: from a role granted nothing but USAGE, bytes that are no
# frame give an error and the server stays up.
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = source_node('source');
$node->safe_psql('postgres', q{
CREATE EXTENSION pgferry;
CREATE ROLE nobody_special LOGIN;
CREATE TABLE items (id int PRIMARY KEY, v text);
});

my $functions = q{
	FROM pg_depend d JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
	JOIN pg_extension e ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid
	JOIN pg_language l ON l.oid = p.prolang
	WHERE e.extname = 'pgferry' AND d.deptype = 'e'};
like($node->safe_psql('postgres', "SELECT string_agg(p.oid::regprocedure::text, ', ') $functions"),
	qr/pgferry\.frame_text\(bytea,boolean\)/, 'the extension has frame_text()');
# event trigger functions read the search_path the command ran under, and
# only event triggers can call them
my $pinned = q{coalesce(EXISTS (SELECT FROM unnest(p.proconfig) c WHERE c LIKE 'search\_path=%'), false)};
is($node->safe_psql('postgres', "SELECT coalesce(string_agg(p.oid::regprocedure::text, ', '), 'none') $functions
	AND l.lanname <> 'c' AND p.prorettype <> 'event_trigger'::regtype AND NOT $pinned"),
	'none', 'every function not in C (event triggers aside) pins its search_path');
is($node->safe_psql('postgres', "SELECT coalesce(string_agg(p.oid::regprocedure::text, ', '), 'none') $functions
	AND p.prosecdef AND p.prorettype <> 'event_trigger'::regtype
	AND has_function_privilege('nobody_special', p.oid, 'EXECUTE')"),
	'none', 'no SECURITY DEFINER function is callable by PUBLIC');
is($node->safe_psql('postgres', q{
	SELECT has_schema_privilege('nobody_special', 'pgferry', 'CREATE')}),
	'f', 'a role without privileges cannot create objects in the pgferry schema');
is($node->safe_psql('postgres', q{
	SELECT has_schema_privilege('nobody_special', 'pgferry', 'USAGE')}),
	'f', 'PUBLIC has no USAGE on the pgferry schema: none of its functions is callable');
my ($rc, $out, $err) = $node->psql('postgres',
	"SET ROLE nobody_special; SELECT pgferry.frame_text('\\x'::bytea)");
like($err, qr/permission denied for schema pgferry/, 'a role without privileges cannot call frame_text');

# frame_text on real frames and on garbage, as a role given only USAGE
$node->safe_psql('postgres', 'GRANT USAGE ON SCHEMA pgferry TO nobody_special');
create_slot($node, 'postgres', 'ext');
$node->safe_psql('postgres', "INSERT INTO items VALUES (1, 'one')");
my $frames = $node->safe_psql('postgres', q{
	SELECT string_agg(encode(data, 'hex'), ',') FROM pg_logical_slot_get_binary_changes('ext', NULL, NULL)});
my $insert = (grep { /^3a/ } split /,/, $frames)[0];
ok($insert, 'an Insert frame was decoded');
($rc, $out, $err) = $node->psql('postgres',
	"SET ROLE nobody_special; SELECT pgferry.frame_text('\\x$insert'::bytea, true)");
is($rc, 0, 'frame_text reads a real frame as a role given only USAGE');
like($out, qr/insert/i, 'frame_text prints the Insert frame');
foreach my $garbage ('\\x', '\\x3a', '\\x3aff01', '\\x' . ('ff' x 64), substr("\\x$insert", 0, 12))
{
	($rc, $out, $err) = $node->psql('postgres',
		"SET ROLE nobody_special; SELECT pgferry.frame_text('$garbage'::bytea)");
	isnt($rc, 0, "frame_text('$garbage'): refused");
	like($err, qr/ERROR/, "frame_text('$garbage'): an error, not a crash");
	unlike($err, qr/permission denied/, "frame_text('$garbage'): the frame is what is refused");
}
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'the server is still up');
unlike(slurp_file($node->logfile), qr/terminated by signal|server process .* was terminated/,
	'no backend crashed');

done_testing();
