
# A PostgreSQL 15 source applied into a newer target server (PostgreSQL 17,
# installed by scripts/install-newer-pg) with binary values: every type
# family of follow_types.pl, inserted then updated, moved and deleted, arrives
# equal.  Binary formats are the same across these versions for built-in
# types; user types (enums, composites, domains and arrays of them) must not
# be sent in a format that carries the source's type OIDs.
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use FerryTypes qw(schema_sql insert_sql change_sql);
use PostgreSQL::Test::Utils;
use Test::More;

my $newer = newer_pg_dir();
plan skip_all =>
  "no newer PostgreSQL in $newer (scripts/install-newer-pg installs it; PGFERRY_NEWER_PG names another)"
  unless -x "$newer/bin/postgres";

my $source = source_node('source');
my $target = target_node('target', install_path => $newer);
my $version = $target->safe_psql('postgres', 'SHOW server_version_num');
cmp_ok($version, '>=', 170000, "target runs PostgreSQL $version");

$source->safe_psql('postgres', schema_sql());
$target->safe_psql('postgres', schema_sql());
create_slot($source, 'postgres', 'ferry');

$source->safe_psql('postgres', insert_sql());
follow_ok($source, $target, 'newer target, inserts', slot => 'ferry',
	args => ['--binary']);
tables_match($source, 'postgres', $target, 'postgres', 'newer target, inserts');

$source->safe_psql('postgres', change_sql());
follow_ok($source, $target, 'newer target, changes', slot => 'ferry',
	args => ['--binary']);
tables_match($source, 'postgres', $target, 'postgres', 'newer target, changes');

done_testing();
