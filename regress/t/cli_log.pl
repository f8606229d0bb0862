# Logs for an operator: --log-format json writes one JSON object a line
# (time, pid, level, message, and the event's fields: a batch's txns,
# changes, rows, lsn...), text lines end with the fields as key=value (quoted
# when needed); --log-file appends to a file instead of
# stderr, and SIGHUP opens it again, so that a rotated log (moved away)
# is followed by a new file; SIGTERM still stops cleanly.  The rows are
# applied all the while (the target equals the source).
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use Ferry;
use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;

my $source = source_node('source');
my $target = target_node('target');
my $dir = PostgreSQL::Test::Utils::tempdir();

psql_both($source, 'postgres', $target, 'postgres',
	'CREATE TABLE t (id int PRIMARY KEY, v text)');
create_slot($source, 'postgres', 'logs');

my $res = run_pgferry([ 'follow', '--log-format', 'xml' ]);
is($res->{rc}, 2, '--log-format xml: exit 2');
like($res->{stderr}, qr/--log-format: "xml" is not a log format \(text or json\)/,
	'--log-format xml: names the formats');
$res = run_pgferry([ 'follow', '--log-file', "$dir/no/such/dir/log" ]);
is($res->{rc}, 2, '--log-file in a missing directory: exit 2');
like($res->{stderr}, qr{--log-file: could not open ".*/no/such/dir/log"},
	'--log-file in a missing directory: names the file');

# --- every command takes the log options ---------------------------------------
for my $command (qw(follow migrate preflight verify cutover finish status))
{
	my $log = "$dir/$command.log";
	my $res = run_pgferry(
		[
			$command, '--source', 'host=/nonexistent', '--target', 'host=/nonexistent',
			($command eq 'follow' ? ('--slot', 'logs') : ()),
			'--log-format', 'json', '--log-file', $log, '-v'
		]);
	is($res->{rc}, 3, "$command with the log options: exit 3 (no server)");
	is($res->{stderr}, '', "$command: nothing on stderr with --log-file");
	my @events = map { eval { decode_json($_) } // { bad => $_ } } split /\n/, slurp_file($log);
	ok((grep { ($_->{level} // '') eq 'ERROR'
		  && ($_->{message} // '') =~ /could not connect to the (source|target) server/
		  && ($_->{server} // '') eq $1 } @events),
		"$command: the connection error is a JSON line in the file, with its server field");
}

# --- json lines, to a file ----------------------------------------------------
$source->safe_psql('postgres',
	"INSERT INTO t SELECT g, 'a' || g FROM generate_series(1, 100) g");
my $json_log = "$dir/json.log";
$res = follow($source, $target, slot => 'logs',
	args => [ '-v', '--log-format', 'json', '--log-file', $json_log ]);
is($res->{rc}, 0, 'json: pgferry follow exits 0');
is($res->{stderr}, '', 'json: nothing on stderr with --log-file');
my @lines = split /\n/, slurp_file($json_log);
ok(@lines >= 2, 'json: the file has the lines');
my @bad = grep {
	my $event = eval { decode_json($_) };
	!$event
	  || ($event->{time} // '') !~ /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/
	  || ($event->{level} // '') !~ /^(LOG|WARNING|ERROR|DETAIL|HINT)$/
	  || ($event->{pid} // '') !~ /^\d+$/
	  || !defined $event->{message}
} @lines;
is(scalar @bad, 0, 'json: every line is an object with time, pid, level and message')
  or diag(join "\n", @bad);
tables_match($source, 'postgres', $target, 'postgres', 'json');

# the events' fields: a batch line per target transaction at -v
my @batches = grep { ($_->{message} // '') =~ /^applied \d+ transactions?$/ }
  map { eval { decode_json($_) } // {} } @lines;
ok(@batches >= 1, 'json: batch events');
my $changes = 0;
$changes += $_->{changes} for @batches;
is($changes, 100, 'json: the batches\' changes field adds up to the rows written');
my @bad_fields = grep {
	$_->{txns} !~ /^\d+$/ || $_->{rows} !~ /^\d+$/ || $_->{statements} !~ /^\d+$/
	  || $_->{lsn} !~ m{^[0-9A-F]+/[0-9A-F]+$} || $_->{mode} !~ /^(net_effect|source_order)$/
	  || $_->{lag_bytes} !~ /^\d+$/ || $_->{seconds} !~ /^[\d.]+$/
} @batches;
is(scalar @bad_fields, 0, 'json: batch events have txns, rows, statements, lsn, mode, lag_bytes, seconds');
like((grep { /"message":"applied/ } @lines)[0], qr/"changes":\d+,/,
	'json: numbers are JSON numbers');

# --- text lines; SIGHUP after a rotation --------------------------------------
my $text_log = "$dir/text.log";
my $run = start_follow($source, $target, slot => 'logs', endpos => 'none',
	args => [ '-v', '--log-file', $text_log ]);
$source->safe_psql('postgres', "INSERT INTO t VALUES (101, 'before rotation')");
ok(wait_until(sub { -s $text_log && slurp_file($text_log) =~ /transaction/ }),
	'text: a line per target transaction in the file');
rename($text_log, "$text_log.1") or die "rename: $!";
$run->{harness}->signal('HUP');
ok(wait_until(sub { -e $text_log }), 'SIGHUP: the log file is opened again');
$source->safe_psql('postgres', "INSERT INTO t VALUES (102, 'after rotation')");
ok(wait_until(sub { -s $text_log && slurp_file($text_log) =~ /transaction/ }),
	'SIGHUP: the lines after it go to the new file');
ok(program_running($run), 'SIGHUP: pgferry follow keeps running');
$res = finish_follow($run, 'TERM');
is($res->{rc}, 0, 'SIGTERM: pgferry follow exits 0');
my $after = slurp_file($text_log);
like($after, qr/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC \[\d+\] LOG:  /m,
	'text: lines of time, pid and level');
like($after, qr{LOG:  applied 1 transaction txns=1 changes=1 rows=1 statements=\d+ mode=net_effect bytes=\d+ seconds=[\d.]+ lsn=[0-9A-F]+/[0-9A-F]+ lag_bytes=\d+ lag_seconds=-?[\d.]+$}m,
	'text: the batch event\'s fields as key=value');
like($after, qr/stop/i, 'SIGTERM: the stop is logged in the new file');
unlike(slurp_file("$text_log.1"), qr/stop/i, 'the rotated file has no line written after SIGHUP');
tables_match($source, 'postgres', $target, 'postgres', 'after rotation');

# --- a value with a space and quotes is quoted ---------------------------------
psql_both($source, 'postgres', $target, 'postgres', 'CREATE TABLE "no key" (v int)');
$source->safe_psql('postgres', 'INSERT INTO "no key" VALUES (1); UPDATE "no key" SET v = 2');
$res = follow($source, $target, slot => 'logs');
is($res->{rc}, 4, 'an update of a table without a key: exit 4');
like($res->{stderr}, qr/ERROR:  cannot apply an update of table "public"\."no key": .* table="\\"public\\"\.\\"no key\\""$/m,
	'text: a field value with a space and quotes is quoted and escaped');

done_testing();
