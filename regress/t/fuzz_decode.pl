# The frame decoder under libFuzzer (regress/fuzz/fuzz_decode.c, through
# make fuzz): every regression input (each a crash found once, fixed) runs
# clean under AddressSanitizer and UBSan, then a short fuzzing pass from the
# seed corpus of real frames finds no crash.  The same for the pgoutput
# decoder (regress/fuzz/fuzz_pgoutput.c, seeds of real pgoutput messages),
# whose bad input is reported with its WAL position.  FUZZ_SECONDS sets its length
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

my @pgoutput_regressions = glob('regress/fuzz/regressions/pgoutput/*');
like($out, qr/^fuzz pgoutput: every regression input passes \(${\ scalar @pgoutput_regressions}\)$/m,
	'pgoutput: every regression input runs clean');
like($out, qr/^fuzz pgoutput: no crash in $seconds s$/m, 'pgoutput: no crash found');
my ($units_pgoutput) = $out =~ /^fuzz pgoutput: every.*\n.*number_of_executed_units: (\d+)/m;
cmp_ok($units_pgoutput // 0, '>', 100, 'pgoutput: the fuzzer ran more than 100 inputs');

# bad pgoutput messages: a change of a relation never described, a Relation
# message cut short; each refused with its WAL position, nothing crashes
my ($bad_out, $bad_err) = ('', '');
IPC::Run::run([ 'regress/fuzz/out/fuzz_pgoutput', 'regress/fuzz/regressions/pgoutput/bad-messages' ],
	'>', \$bad_out, '2>', \$bad_err);
is($? >> 8, 0, 'pgoutput, bad messages: the decoder refuses them without crashing');
like($bad_err,
	qr/bad pgoutput message at WAL position 0\/1000100: a change refers to relation OID 16384, not described by a Relation message before it/,
	'pgoutput, bad messages: a change of an undescribed relation, with its WAL position');
like($bad_err,
	qr/bad pgoutput message at WAL position 0\/1000200: the Relation message of table "public"\."cut" is cut short/,
	'pgoutput, bad messages: a Relation message cut short, with its WAL position');
unlike("$out$err", qr/AddressSanitizer|runtime error/, 'no sanitizer report');

done_testing();
