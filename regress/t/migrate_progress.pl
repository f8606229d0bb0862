
# What migrate's progress says once a table's rows are in and its indexes
# are being built: "rows copied, building indexes of TABLE", never a copy
# at "100%, ETA 0:00" that seems stuck.  The build of an index is held on
# the target (its expression waits for an advisory lock the test holds)
# until the progress line has said so; released, the migration ends equal.
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use FerryMigrate;
use PostgreSQL::Test::Utils;
use Test::More;

my $source = source_node('source');
my $target = target_node('target');
create_database($source, 'shop');
create_database($target, 'shop');
$source->safe_psql('shop', q{
CREATE FUNCTION gated(n int) RETURNS int IMMUTABLE LANGUAGE plpgsql
	AS $$BEGIN PERFORM pg_advisory_xact_lock_shared(4242); RETURN n; END$$;
CREATE TABLE items (id int PRIMARY KEY, v int);
INSERT INTO items SELECT g, g % 7 FROM generate_series(1, 100) g;
CREATE INDEX items_gated ON items (gated(v));
});

# advisory locks are per database: held in the target's
my $gate = $target->background_psql('shop');
$gate->query_safe('SELECT pg_advisory_lock(4242)');
my $run = start_migrate($source, 'shop', $target, 'shop', '--slot', 'shop',
	'--jobs', '1', '--endpos', current_lsn($source));
ok( wait_until(
		sub {
			return 1 if !program_running($run);
			return slurp_file("$run->{dir}/stderr")
			  =~ /LOG:  copy: rows copied, building indexes of public\.items; /;
		}),
	'while the index is built, the progress says which table\'s indexes are built');
ok(program_running($run), 'migrate waits for the build');
$gate->query_safe('SELECT pg_advisory_unlock(4242)');
$gate->quit;

my $res = finish_program($run);
is($res->{rc}, 0, 'migrate ends 0 once the build goes on') or diag($res->{stderr});
schema_matches($source, 'shop', $target, 'shop', 'after the held build');
tables_match($source, 'shop', $target, 'shop', 'after the held build');

done_testing();
