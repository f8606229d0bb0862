# The README's "Migrating a database" block, followed literally: each
# pgferry line of it is run by bash as written, with SRC and DST set to a
# source and a target of the test, `pgferry` the binary under test; the
# background migrate is stopped where the block says so.  Fails when a
# documented command drifts (gone, renamed, an option refused) or stops
# doing what the block says; the target ends equal to the source.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use Ferry;
use FerryMigrate;
use IPC::Run ();
use PostgreSQL::Test::Utils;
use Test::More;

my $readme = slurp_file("$FindBin::RealBin/../../README.md");
my ($block) = $readme =~ /^## Migrating a database\n\n```sh\n(.*?)^```/ms;
ok(defined $block, 'the README has the block of commands');
my @lines = grep { /^pgferry / || /^# .*stop pgferry migrate/ } split /\n/, $block;
my @commands = map { /^pgferry (\w+)/ ? $1 : 'stop' } @lines;
is("@commands", 'preflight migrate status verify cutover stop finish',
	'the block: preflight, migrate, status, verify, cutover, stop migrate, finish');

my $source = source_node('source');
my $target = target_node('target');
create_database($source, 'shop');
create_database($target, 'shop');
$source->safe_psql('shop', q{
CREATE TABLE accounts (id serial PRIMARY KEY, owner text NOT NULL, balance numeric);
CREATE TABLE notes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	account int REFERENCES accounts, body text);
INSERT INTO accounts (owner, balance) SELECT 'owner ' || g, g FROM generate_series(1, 300) g;
INSERT INTO notes (account, body) SELECT g % 300 + 1, 'note ' || g FROM generate_series(1, 600) g;
});

# `pgferry` on PATH is the binary under test; SRC and DST as the block sets them.
my $bin = PostgreSQL::Test::Utils::tempdir();
symlink($ENV{PGFERRY} // `which pgferry` =~ s/\n//r, "$bin/pgferry") or die "symlink: $!";
local $ENV{PATH} = "$bin:$ENV{PATH}";
local $ENV{SRC} = conn($source, 'shop');
local $ENV{DST} = conn($target, 'shop');

my $migrate;
foreach my $line (@lines)
{
	my ($command) = $line =~ /^pgferry (\w+)/;
	if (!$command)
	{
		my $res = stop_migrate($migrate, 'TERM');
		is($res->{rc}, 0, 'the background migrate stops cleanly');
		next;
	}
	if ($line =~ /&\s*(#.*)?$/)
	{
		my $shell = $line =~ s/&\s*(#.*)?$//r;
		$migrate = start_program([ 'bash', '-c', "exec $shell" ]);
		ok(wait_phase($target, 'shop', 'pgferry_shop', 'stream', $migrate),
			"$command: reaches the stream phase");
		$source->safe_psql('shop',
			"UPDATE accounts SET balance = balance + 1 WHERE id <= 10; "
			  . "INSERT INTO notes (account, body) VALUES (1, 'while following')");
		next;
	}
	note "running: $line";
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'bash', '-c', $line ], '<', '/dev/null', '>', \$out, '2>', \$err);
	my $rc = $? >> 8;
	note "rc=$rc\nstdout:\n$out\nstderr:\n$err";
	is($rc, 0, "$command: exit 0, as written in the README") or diag($err);
	like($out, qr/^migration "pgferry_shop": phase stream/m, 'status: the migration follows')
	  if $command eq 'status';
	like($out . $err, qr/the target is ready for writes/, 'cutover: the target is ready')
	  if $command eq 'cutover';
}

tables_match($source, 'shop', $target, 'shop', 'after the walkthrough');
is($source->safe_psql('shop', 'SELECT count(*) FROM pg_replication_slots'),
	'0', 'finish: no slot left on the source');
is($target->safe_psql('shop', "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgferry'"),
	'0', 'finish: no pgferry schema left on the target');

done_testing();
