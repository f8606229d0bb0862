# The frame decoder under libFuzzer (regress/fuzz/fuzz_decode.c, through
# make fuzz): every regression input (each a crash found once, fixed) runs
# clean under AddressSanitizer and UBSan, then a short fuzzing pass from the
# seed corpus of real frames finds no crash.  FUZZ_SECONDS sets its length
# (15 s here; make fuzz alone runs 60 s).
use strict;
use warnings;

use IPC::Run;
use Test::More;

my $seconds = $ENV{FUZZ_SECONDS} || 15;
my ($out, $err) = ('', '');
my $ok = IPC::Run::run([ 'make', '-s', 'fuzz', "FUZZ_SECONDS=$seconds" ],
	'>', \$out, '2>', \$err);
ok($ok, 'make fuzz: exit 0') or diag("$out\n$err");

my @regressions = glob('regress/fuzz/regressions/decode/*');
ok(scalar(@regressions) >= 1, 'the decoder has regression inputs');
like($out, qr/^fuzz decode: every regression input passes \(${\ scalar @regressions}\)$/m,
	'every regression input runs clean');
# the first bug found: a relation described twice in a replay of spooled
# frames was freed by the cache that kept it, then read
ok((grep { m{/replay-same-relation-twice$} } @regressions),
	'the replay of a relation described twice is a regression input');

like($out, qr/number_of_executed_units: (\d+)/, 'the fuzzer ran');
my ($units) = $out =~ /number_of_executed_units: (\d+)/;
cmp_ok($units // 0, '>', 100, 'the fuzzer ran more than 100 inputs');
like($out, qr/^fuzz decode: no crash in $seconds s$/m, 'no crash found');
unlike("$out$err", qr/AddressSanitizer|runtime error/, 'no sanitizer report');

done_testing();
