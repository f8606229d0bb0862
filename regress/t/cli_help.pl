# The command line's help: every command documents its options and the exit
# codes it returns, from the one table of exit codes; the README's table is
# that table as `pgferry --help` prints it.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use Ferry;
use PostgreSQL::Test::Utils;
use Test::More;

# The exit codes of a help text: "N  meaning" lines after "Exit codes:".
sub exit_codes
{
	my ($help) = @_;
	my ($block) = $help =~ /^Exit codes:\n((?:  .*\n?)*)/m;
	return $block // '';
}

my %returns = (
	follow => [ 0, 1, 2, 3, 4 ],
	migrate => [ 0, 1, 2, 3, 4, 6 ],
	preflight => [ 0, 1, 2, 3, 6 ],
	status => [ 0, 1, 2, 3 ],
	verify => [ 0, 1, 2, 3, 5 ],
	cutover => [ 0, 1, 2, 3, 5, 6 ],
	finish => [ 0, 1, 2, 3, 6 ]);

foreach my $command (sort keys %returns)
{
	my $res = run_pgferry([ $command, '--help' ]);
	is($res->{rc}, 0, "$command --help: exit 0");
	my @codes = exit_codes($res->{stdout}) =~ /^  (\d)  /mg;
	is_deeply(\@codes, $returns{$command},
		"$command --help: lists the exit codes $command returns, once each");
	like($res->{stdout}, qr/PGPASSWORD,\nor the password file ~\/\.pgpass/,
		"$command --help: says where passwords come from");
}

my $res = run_pgferry(['--help']);
is($res->{rc}, 0, '--help: exit 0');
my $readme = slurp_file("$FindBin::RealBin/../../README.md");
my ($table) = $readme =~ /^### Exit codes\n.*?^```\n(.*?)^```/ms;
ok(defined $table, 'the README has a block of exit codes');
is($table, exit_codes($res->{stdout}),
	"the README's exit codes are those of pgferry --help");

$res = run_pgferry([ 'follow', '--bogus' ]);
is($res->{rc}, 2, 'an unknown option: exit 2');
like($res->{stderr}, qr/Try "pgferry follow --help"/, 'an unknown option: where to look');

done_testing();
