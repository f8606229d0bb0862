
# A PostgreSQL 17 source (installed by scripts/install-newer-pg), which
# speaks pgoutput's protocol version 4, followed through pgoutput into a
# PostgreSQL 15 target and into a PostgreSQL 17 one: every type family of
# follow_types.pl as text, inserted then updated, moved and deleted; a
# transaction larger than logical_decoding_work_mem (streamed in blocks
# before its commit, spooled, one of its subtransactions rolled back); a
# TOASTed value left untouched by an update ('u' in pgoutput's rows); a
# truncate; a prepared transaction open across a follow and a change with
# a replication origin.  Each target is compared with the source row for row.
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

# the whole file is about pgoutput, whatever the pass
$ENV{PGFERRY_TEST_PLUGIN} = 'pgoutput';

my $source = source_node('source', install_path => $newer);
my $version = $source->safe_psql('postgres', 'SHOW server_version_num');
cmp_ok($version, '>=', 170000, "source runs PostgreSQL $version");
my %targets = (
	15 => target_node('target15'),
	17 => target_node('target17', install_path => $newer));

my $schema = schema_sql() . q{
CREATE TABLE big (id int PRIMARY KEY, v text);
CREATE TABLE doc (id int PRIMARY KEY, n int, body text);
ALTER TABLE doc ALTER COLUMN body SET STORAGE EXTERNAL;
};
$source->safe_psql('postgres', $schema);
$_->safe_psql('postgres', $schema) for values %targets;
# one slot (and publication) per target: each follows the source on its own
create_slot($source, 'postgres', "ferry$_") for keys %targets;

sub follow_all
{
	my ($name) = @_;
	for my $v (sort keys %targets)
	{
		follow_ok($source, $targets{$v}, "PG $version source into PG $v, $name",
			slot => "ferry$v");
		tables_match($source, 'postgres', $targets{$v}, 'postgres',
			"PG $version source into PG $v, $name");
	}
}

$source->safe_psql('postgres', insert_sql());
$source->safe_psql('postgres',
	q{INSERT INTO doc SELECT i, 0, repeat(md5(i::text), 400) FROM generate_series(1, 5) i});
follow_all('inserts');

$source->safe_psql('postgres', change_sql());
$source->safe_psql('postgres', q{
BEGIN;
INSERT INTO big SELECT i, repeat('x', 100) || i FROM generate_series(1, 3000) i;
SAVEPOINT gone;
INSERT INTO big SELECT i, 'rolled back' FROM generate_series(10001, 13000) i;
ROLLBACK TO gone;
UPDATE big SET v = 'kept ' || id WHERE id % 3 = 0;
COMMIT;
UPDATE doc SET n = n + 1 WHERE id <= 3;
});
follow_all('changes, a streamed transaction, untouched TOAST');
is($targets{15}->safe_psql('postgres',
		'SELECT count(*), sum(length(body)) FROM doc WHERE n = 1'),
	'3|38400', 'untouched TOASTed values are kept on the target');

$source->safe_psql('postgres', 'TRUNCATE big');
follow_all('truncate');
is($targets{17}->safe_psql('postgres', 'SELECT count(*) FROM big'),
	0, 'the truncate reached the target');

# A prepared transaction open across a follow, committed after (applied
# then, once: two-phase decoding is not asked for), and a row written under
# a replication origin (pgoutput's origin stays 'any' from 16 on: it travels).
$source->safe_psql('postgres', q{
BEGIN;
INSERT INTO big SELECT i, 'prepared' FROM generate_series(1, 10) i;
PREPARE TRANSACTION 'ferry_open';
SELECT pg_replication_origin_create('upstream');
SELECT pg_replication_origin_session_setup('upstream');
INSERT INTO big VALUES (100, 'received by replication from upstream');
});
follow_all('a prepared transaction open, a change with a replication origin');
$source->safe_psql('postgres', "COMMIT PREPARED 'ferry_open'");
follow_all('the prepared transaction committed');
is($targets{15}->safe_psql('postgres', 'SELECT count(*) FROM big'),
	11, 'the prepared transaction and the change with an origin reached the target');

done_testing();
