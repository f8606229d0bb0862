
# No password is ever printed, and every file pgferry writes is private.
# The source and target roles log in with passwords (scram-sha-256; the
# source's given as key=value, the target's in a URI); a migration runs
# through copy, stream (with a streamed transaction spooled), status,
# verify and cutover, and connection failures are provoked.  Everything the
# suite can see is then searched for the passwords: pgferry's output and
# errors, its process title (ps), the pgferry tables on the target, both
# servers' logs and the files pgferry wrote.  Those files (the lock, the
# spool; the schema dump and pg_restore's scripts are gone once restored)
# are 0600 and the directory pgferry creates is 0700, whatever the umask.
use strict;
use warnings;

use lib 'regress/t';
use Fcntl ':mode';
use File::Find;
use Ferry;
use FerryMigrate;
use PostgreSQL::Test::Utils;
use Test::More;

my $source = source_node('source');
my $target = target_node('target');
my $source_password = 'Src-pw-7f3a9c';
my $target_password = "Tgt pw'q-2b8e41";    # a space and a quote: quoted in the conninfo
my $wrong_password = 'Wrong-pw-0d5e6f';

# Password authentication for the roles pgferry uses, ahead of the
# suite's trust lines (replication connections match only "replication").
foreach my $case ([ $source, 'ferry_src', $source_password ],
	[ $target, 'ferry_tgt', $target_password ])
{
	my ($node, $role, $password) = @$case;
	(my $sql_password = $password) =~ s/'/''/g;
	$node->safe_psql('postgres',
		"CREATE ROLE $role LOGIN SUPERUSER REPLICATION PASSWORD '$sql_password'");
	my $hba = $node->data_dir . '/pg_hba.conf';
	my $rules = slurp_file($hba);
	open my $fh, '>', $hba or die "$hba: $!";
	print $fh "local all $role scram-sha-256\nlocal replication $role scram-sha-256\n$rules";
	close $fh;
	$node->reload;
}
create_database($source, 'app');
create_database($target, 'app');
$source->safe_psql('app', q{
CREATE TABLE accounts (id int PRIMARY KEY, owner text, balance numeric);
CREATE SEQUENCE tickets;
INSERT INTO accounts SELECT i, 'owner ' || i, i * 10 FROM generate_series(1, 500) i;
});

my $sconn = $source->connstr('app') . " user=ferry_src password=$source_password";
(my $uri_password = $target_password) =~ s/([^A-Za-z0-9-])/sprintf('%%%02X', ord $1)/ge;
my $tconn = sprintf('postgresql://ferry_tgt:%s@/app?host=%s&port=%d',
	$uri_password, $target->host, $target->port);
my @conn = ('--source', $sconn, '--target', $tconn);
my $work_dir = PostgreSQL::Test::Utils::tempdir() . '/work';
my @printed;    # everything pgferry printed

umask 022;
my $run = start_program([ $ENV{PGFERRY} // 'pgferry', 'migrate', @conn, '--slot', 'sec',
		'--dir', $work_dir, '--log-progress' ]);
ok(wait_phase($target, 'app', 'sec', 'stream', $run), 'the migration copies and follows');

my $pid = $run->{harness}{KIDS}[0]{PID};
my $title = `ps -o args= -p $pid`;
like($title, qr/pgferry migrate --source/, 'ps shows the running migrate');
push @printed, "ps: $title";
unlike($title, qr/\Q$source_password\E/, 'the process title hides the source password');
unlike($title, qr/\Q$uri_password\E/, 'the process title hides the target password (URI)');

# A streamed transaction left open (prepared) sits in the spool meanwhile.
$source->safe_psql('app', q{
BEGIN;
INSERT INTO accounts SELECT i, repeat('x', 200), i FROM generate_series(1001, 3000) i;
PREPARE TRANSACTION 'big';
});
my @spooled;
ok(wait_until(sub {
	@spooled = ();
	find(sub { push @spooled, $File::Find::name if /\.spool$/ }, $work_dir);
	return scalar @spooled;
}), 'the open streamed transaction is spooled');
my %modes;
find(sub { $modes{$File::Find::name} = (lstat $_)[2] }, $work_dir);
$source->safe_psql('app', "COMMIT PREPARED 'big'");
ok(wait_source_applied($source, 'app', $target, 'app', 'sec'), 'it is applied once committed');

# --- what pgferry wrote --------------------------------------------------------

is(sprintf('%04o', S_IMODE($modes{$work_dir})), '0700', 'the directory pgferry created is 0700');
my @files = grep { S_ISREG($modes{$_}) } sort keys %modes;
ok((grep { m{/lock$} } @files), 'the lock is among the files');
ok(@spooled && (grep { $_ eq $spooled[0] } @files), 'the spool file is among the files');
is_deeply([ grep { S_IMODE($modes{$_}) != 0600 } @files ], [],
	'every file pgferry wrote is 0600 (umask 022)');

# --- commands, while it follows ------------------------------------------------

my $res = run_pgferry([ 'status', @conn, '--slot', 'sec' ]);
is($res->{rc}, 0, 'status: exit 0');
like($res->{stdout}, qr/sec/, 'status: reports the migration');
push @printed, $res->{stdout}, $res->{stderr};

$res = run_pgferry([ 'verify', @conn, '--lag-timeout', '30' ], 120);
like($res->{stdout}, qr/^verify: \d+ tables?, \d+ equal, 0 different/m, 'verify: the tables are equal');
push @printed, $res->{stdout}, $res->{stderr};

# failures, each with its own password in the conninfo
(my $wrong_source = $sconn) =~ s/password=\S+/password=$wrong_password/;
$res = run_pgferry([ 'status', '--source', $wrong_source, '--target', $tconn, '--slot', 'sec' ]);
like($res->{stderr}, qr/password authentication failed for user "ferry_src"/,
	'a wrong source password: the error says so');
push @printed, $res->{stdout}, $res->{stderr};
$res = run_pgferry([ 'verify', '--source', $sconn, '--target',
		"postgresql://ferry_tgt:$wrong_password\@/app?host=${\ $target->host}&port=${\ $target->port}" ]);
like($res->{stderr}, qr/password authentication failed for user "ferry_tgt"/,
	'a wrong target password in a URI: the error says so');
push @printed, $res->{stdout}, $res->{stderr};
$res = run_pgferry([ 'follow', '--source', "$sconn no_such_keyword=1", '--target', $tconn,
		'--slot', 'other' ]);
isnt($res->{rc}, 0, 'a connection string libpq refuses: an error');
push @printed, $res->{stdout}, $res->{stderr};
$res = run_pgferry([ 'migrate', '--source', $sconn, '--target',
		"postgresql://ferry_tgt:$wrong_password\@/app?host=${\ $target->host}&port=${\ $target->port}&bogus=1",
		'--slot', 'other' ]);
isnt($res->{rc}, 0, 'a URI libpq refuses: an error');
push @printed, $res->{stdout}, $res->{stderr};

$res = run_pgferry([ 'cutover', @conn, '--slot', 'sec' ], 120);
is($res->{rc}, 0, 'cutover: exit 0') or diag($res->{stderr});
push @printed, $res->{stdout}, $res->{stderr};
my $stopped = stop_migrate($run, 'TERM');
push @printed, $stopped->{stdout}, $stopped->{stderr};
tables_match($source, 'app', $target, 'app', 'after cutover');

# --- everything, searched ------------------------------------------------------

my @state_tables = split /\n/, $target->safe_psql('app', q{
SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'pgferry' AND c.relkind = 'r' ORDER BY 1});
ok(@state_tables >= 3, 'the target has pgferry state tables');
my $state_rows = join "\n", map {
	$target->safe_psql('app', "SELECT t::text FROM $_ t")
} @state_tables;
like($state_rows, qr/sec/, 'the state tables hold the migration');

my %sources = (
	'pgferry output and errors' => join("\n", @printed),
	'the pgferry tables on the target' => $state_rows,
	'the source server log' => slurp_file($source->logfile),
	'the target server log' => slurp_file($target->logfile),
	'the files pgferry wrote' => join("\n", map { -f $_ ? slurp_file($_) : '' } @files),
);
foreach my $where (sort keys %sources)
{
	foreach my $password ($source_password, $target_password, $uri_password, $wrong_password)
	{
		unlike($sources{$where}, qr/\Q$password\E/, "$where: no password ($password)");
	}
}

done_testing();
