
# Private work directories: the spool of follow (rows of transactions in
# progress) and the --dir of migrate (the schema it restores) are refused
# when another user owns them or others may open them, before anything is
# written there or applied; the refusal names the directory, why, and what
# to do.  The default spool directory ($TMPDIR/pgferry-UID-SLOT, a name
# anyone can guess) is refused alike when someone made it first, and is
# created mode 0700 when missing; the files written in it are mode 0600.
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use FerryMigrate;
use PostgreSQL::Test::Utils;
use Test::More;

my $source = source_node('source');
my $target = target_node('target');
psql_both($source, 'postgres', $target, 'postgres',
	'CREATE TABLE t (id int PRIMARY KEY, v text)');
create_slot($source, 'postgres', 'ferry');
$source->safe_psql('postgres', "INSERT INTO t VALUES (1, 'secret')");

sub target_rows
{
	return $target->safe_psql('postgres', 'SELECT count(*) FROM t');
}

# Directories that are not the user's own, or not private.
my $open_dir = PostgreSQL::Test::Utils::tempdir();
chmod 0777, $open_dir or die "chmod: $!";
my $group_dir = PostgreSQL::Test::Utils::tempdir();
chmod 0750, $group_dir or die "chmod: $!";
my $root_dir = '/';    # owned by root; the suites never run as root
die "the suites must not run as root" if $> == 0;

follow_fails($source, $target, '--spool-dir others may write', 1,
	[
		qr/ERROR:  directory "\Q$open_dir\E" is accessible by other users \(mode 0777\)/,
		qr/HINT:  run: chmod 700 '\Q$open_dir\E', or choose another directory with --spool-dir/
	],
	slot => 'ferry', args => [ '--spool-dir', $open_dir ]);
follow_fails($source, $target, '--spool-dir its group may read', 1,
	[qr/directory "\Q$group_dir\E" is accessible by other users \(mode 0750\)/],
	slot => 'ferry', args => [ '--spool-dir', $group_dir ]);
follow_fails($source, $target, '--spool-dir of another user', 1,
	[
		qr{ERROR:  directory "/" belongs to user id 0, not to this user \(id $>\)},
		qr/HINT:  remove it, or choose a directory of your own with --spool-dir/
	],
	slot => 'ferry', args => [ '--spool-dir', $root_dir ]);
is(target_rows(), 0, 'refused spool directories: nothing applied');
my @written = glob("$open_dir/* $group_dir/*");
is(scalar(@written), 0, 'refused spool directories: nothing written in them');

# The default directory, made first by someone else in the shared TMPDIR.
my $tmp = PostgreSQL::Test::Utils::tempdir();
chmod 0777, $tmp or die "chmod: $!";
my $default = "$tmp/pgferry-$>-ferry";
mkdir $default or die "mkdir: $!";
chmod 0777, $default or die "chmod: $!";
{
	local $ENV{TMPDIR} = $tmp;
	follow_fails($source, $target, 'default spool directory made by another', 1,
		[qr/directory "\Q$default\E" is accessible by other users \(mode 0777\)/],
		slot => 'ferry');
	is(target_rows(), 0, 'default spool directory refused: nothing applied');

	rmdir $default or die "rmdir: $!";
	follow_ok($source, $target, 'default spool directory missing', slot => 'ferry');
	ok(-d $default, 'default spool directory created');
	is(sprintf('%04o', (stat $default)[2] & 07777), '0700',
		'default spool directory created mode 0700');
	tables_match($source, 'postgres', $target, 'postgres',
		'default spool directory created');
}

# The files pgferry writes there are the user's alone: the lock, and the
# spool of a transaction streamed before its commit (larger than
# logical_decoding_work_mem), caught while the transaction is open.
my $spool_dir = PostgreSQL::Test::Utils::tempdir();
my $run = start_follow($source, $target, slot => 'ferry', endpos => 'none',
	args => [ '--spool-dir', $spool_dir ]);
my $open = $source->background_psql('postgres');
$open->query_safe(q{BEGIN; INSERT INTO t SELECT i, repeat('in progress', 20)
	FROM generate_series(2, 3001) i});
my @spooled;
ok(wait_until(sub { @spooled = glob("$spool_dir/*.spool"); @spooled > 0 }),
	'a transaction in progress is spooled');
is(join(' ', map { sprintf('%04o', (stat $_)[2] & 07777) } @spooled, "$spool_dir/lock"),
	join(' ', ('0600') x (@spooled + 1)), 'the spool file and the lock: mode 0600');
$open->query_safe('COMMIT');
$open->quit;
ok(wait_until(sub { target_rows() == 3001 }), 'the spooled transaction applied at its commit');
is(finish_follow($run, 'TERM', 60)->{rc}, 0, 'follow stops on SIGTERM with exit 0');
tables_match($source, 'postgres', $target, 'postgres', 'spooled transaction');

# migrate --dir: the schema dump it reads back and restores.
create_database($source, 'app');
create_database($target, 'app');
$source->safe_psql('app', 'CREATE TABLE a (id int PRIMARY KEY)');
foreach my $case (
	[ 'others may write', $open_dir, qr/directory "\Q$open_dir\E" is accessible by other users \(mode 0777\)/ ],
	[ 'of another user', $root_dir, qr{directory "/" belongs to user id 0, not to this user} ])
{
	my ($name, $dir, $pattern) = @$case;
	my $res = migrate($source, 'app', $target, 'app', '--slot', 'app_task',
		'--dir', $dir, '--endpos', current_lsn($source));
	is($res->{rc}, 1, "migrate --dir $name: refused, exit 1");
	like($res->{stderr}, $pattern, "migrate --dir $name: directory and reason named");
	like($res->{stderr}, qr/HINT:  .*choose .*--dir/, "migrate --dir $name: the way on named");
	is($source->safe_psql('postgres',
			"SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'app_task'"),
		0, "migrate --dir $name: no slot created");
	is($target->safe_psql('app',
			"SELECT count(*) FROM pg_tables WHERE tablename = 'a'"),
		0, "migrate --dir $name: nothing restored");
}

done_testing();
