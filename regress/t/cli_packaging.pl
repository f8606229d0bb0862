# Packaging: make install honours DESTDIR and PREFIX and installs the man
# page, which is the --help texts; the example systemd unit runs options
# pgferry migrate has; META.json has what PGXN's spec requires.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use Ferry;
use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;

my $top = "$FindBin::RealBin/../..";

# --- make install DESTDIR=... PREFIX=... ------------------------------------
my $dest = PostgreSQL::Test::Utils::tempdir();
my $bindir = `pg_config --bindir`;
chomp $bindir;
my ($out, $err) = run_command(
	[ 'make', '-s', '-C', $top, 'install', "DESTDIR=$dest", 'PREFIX=/opt/pgferry-test' ]);
ok(-x "$dest$bindir/pgferry", 'make install: the binary under DESTDIR, in the server\'s bindir')
  or diag($err);
is(readlink("$dest/opt/pgferry-test/bin/pgferry"), "$bindir/pgferry",
	'make install: a link in PREFIX/bin to the installed binary (without DESTDIR)');
my $man = "$dest/opt/pgferry-test/share/man/man1/pgferry.1";
ok(-f $man, 'make install: pgferry.1 in PREFIX/share/man/man1');
ok(!-e "/opt/pgferry-test", 'make install: nothing written outside DESTDIR');

# --- the man page is the --help texts ---------------------------------------
my $page = slurp_file($man);
like($page, qr/^\.TH PGFERRY 1 /m, 'pgferry.1: a section 1 man page');
foreach my $command (qw(follow migrate preflight status verify cutover finish))
{
	my $help = run_pgferry([ $command, '--help' ])->{stdout};
	# The option lines of the help, as roff shows them (a leading dot
	# escaped, backslashes doubled).
	my @options = $help =~ /^(  -.*)$/mg;
	my @missing = grep {
		my $line = $_ =~ s/\\/\\e/gr;
		index($page, "$line\n") < 0
	} @options;
	ok(@options && !@missing && $page =~ /^\.SS pgferry $command$/m,
		"pgferry.1: the section of $command has every option line of its --help")
	  or diag("missing: @missing");
}
my ($mout, $merr) = run_command([ 'groff', '-man', '-ww', '-z', $man ]);
is($merr, '', 'pgferry.1: groff finds nothing to warn about');

# --- the systemd unit ---------------------------------------------------------
my $unit = slurp_file("$top/packaging/pgferry-migrate\@.service");
like($unit, qr/^Restart=on-failure$/m, 'unit: restarted on failure');
my ($exec) = $unit =~ /^ExecStart=(.*)$/m;
like($exec, qr{^/usr/local/bin/pgferry migrate }, 'unit: runs pgferry migrate');
my $migrate_help = run_pgferry([ 'migrate', '--help' ])->{stdout};
my @unknown = grep { $migrate_help !~ /^\s+\Q$_\E\b/m } $exec =~ /(--[a-z-]+)/g;
is("@unknown", '', 'unit: every option it passes is one pgferry migrate has');
my ($prevent) = $unit =~ /^RestartPreventExitStatus=(.*)$/m;
foreach my $code (split ' ', $prevent // '')
{
	like($migrate_help, qr/^  $code  /m,
		"unit: exit $code, not retried, is one pgferry migrate returns");
}

# --- META.json: the keys PGXN's Meta Spec requires ---------------------------
my $meta = decode_json(slurp_file("$top/META.json"));
my $semver = qr/^\d+\.\d+\.\d+(?:-[0-9A-Za-z-]+)?$/;
foreach my $key (qw(name abstract version maintainer license provides meta-spec))
{
	ok(defined $meta->{$key} && $meta->{$key} ne '', "META.json: $key is set");
}
like($meta->{version}, $semver, 'META.json: version is a semantic version');
is($meta->{'meta-spec'}{version}, '1.0.0', 'META.json: meta-spec 1.0.0');
foreach my $ext (sort keys %{ $meta->{provides} })
{
	my $p = $meta->{provides}{$ext};
	ok(-f "$top/$p->{file}", "META.json: provides $ext: its file exists");
	like($p->{version}, $semver, "META.json: provides $ext: a semantic version");
}
my ($control_version) =
  slurp_file("$top/pgferry.control") =~ /^default_version = '(.*)'/m;
like($meta->{version}, qr/^\Q$control_version\E(?:\.0)?$/,
	'META.json: the version of pgferry.control');
# The default version's script is built from the provided one (and the DDL
# capture script), so a distribution carries its source, not the build.
ok(-f "$top/$meta->{provides}{pgferry}{file}" &&
	  -f "$top/sql/pgferry--$control_version.sql",
	'META.json: provides the source of the default version\'s script');

done_testing();
