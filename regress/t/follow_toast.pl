
# Large TOASTed values (1 MB of incompressible jsonb, bytea and text): the
# target keeps a value the source did not touch while another column
# changed, and follows every value that did change: updated, set to NULL,
# set back, moved with its row's key, inserted and updated in one
# transaction, matched as part of a REPLICA IDENTITY FULL row.  Each stage is
# followed and compared on its own, so an overwritten value shows at the
# stage that overwrote it.
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use PostgreSQL::Test::Utils;
use Test::More;

my $source = source_node('source');
my $target = target_node('target');

# random_hex(n): n random hex characters (pglz finds nothing to compress,
# so the value is stored out of line as is); random_bytes(n): n random bytes.
my $schema = q{
CREATE TABLE lob (id int PRIMARY KEY, small int, j jsonb, b bytea, t text);
CREATE TABLE lob_full (id int, small int, b bytea);
ALTER TABLE lob_full REPLICA IDENTITY FULL;
};
my $functions = q{
CREATE FUNCTION random_hex(n int) RETURNS text LANGUAGE sql AS
$$ SELECT left(string_agg(md5(random()::text), ''), n) FROM generate_series(1, n / 32 + 1) $$;
CREATE FUNCTION random_bytes(n int) RETURNS bytea LANGUAGE sql AS
$$ SELECT decode(random_hex(2 * n), 'hex') $$;
CREATE FUNCTION random_json(n int) RETURNS jsonb LANGUAGE sql AS
$$ SELECT jsonb_build_object('blob', random_hex(n), 'n', n, 'list', jsonb_build_array(1, 'two', NULL)) $$;
};
$source->safe_psql('postgres', $schema . $functions);
$target->safe_psql('postgres', $schema);
create_slot($source, 'postgres', 'ferry');

my $mb = 1024 * 1024;

sub stage
{
	my ($name, $sql, @args) = @_;
	follow_stage($source, $target, $name, $sql, slot => 'ferry',
		args => \@args);
}

stage(
	'insert 1 MB values',
	"INSERT INTO lob SELECT i, i, random_json($mb), random_bytes($mb), random_hex($mb)
	   FROM generate_series(1, 3) i;
	 INSERT INTO lob VALUES (4, 4, '{\"small\": true}', '\\x00', 'small');
	 INSERT INTO lob_full VALUES (1, 1, random_bytes($mb)), (2, 2, NULL), (2, 2, NULL);");

# Rows 1 and 2 keep their jsonb, bytea and text: the change carries them as
# unchanged-TOAST, and the target must keep what it has.
stage(
	'another column updated, TOASTed values untouched',
	"UPDATE lob SET small = small + 100 WHERE id IN (1, 2);
	 UPDATE lob SET j = random_json($mb) WHERE id = 3;
	 UPDATE lob_full SET small = 10 WHERE id = 1;");

stage(
	'TOASTed values set to NULL',
	"UPDATE lob SET j = NULL WHERE id = 1;
	 UPDATE lob SET t = NULL, b = NULL WHERE id = 2;
	 UPDATE lob_full SET b = NULL WHERE id = 1;");

stage(
	'TOASTed values set back, small values made large',
	"UPDATE lob SET j = random_json($mb) WHERE id = 1;
	 UPDATE lob SET t = random_hex(2 * $mb), b = random_bytes($mb) WHERE id = 2;
	 UPDATE lob SET t = random_hex($mb) WHERE id = 4;
	 UPDATE lob_full SET b = random_bytes($mb) WHERE id = 1;");

stage(
	'key moved with TOASTed values untouched',
	"UPDATE lob SET id = 30 WHERE id = 3;
	 UPDATE lob SET id = 3, small = -1 WHERE id = 4;");

stage(
	'insert then update in one transaction, delete and re-insert',
	"BEGIN;
	 INSERT INTO lob VALUES (5, 5, random_json($mb), random_bytes($mb), random_hex($mb));
	 UPDATE lob SET small = 55 WHERE id = 5;
	 DELETE FROM lob WHERE id = 2;
	 INSERT INTO lob VALUES (2, 2, random_json($mb), NULL, random_hex($mb));
	 UPDATE lob SET small = 22 WHERE id = 2;
	 UPDATE lob_full SET small = 20 WHERE id = 2;
	 COMMIT;");

# Batches bounded by bytes: every row is larger than the limit.
stage(
	'small --batch-bytes',
	"UPDATE lob SET b = random_bytes($mb), small = small + 1;
	 UPDATE lob SET t = random_hex($mb) WHERE id IN (1, 30);",
	'--batch-bytes', '65536');

done_testing();
