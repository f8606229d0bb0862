# --metrics-addr: /metrics (Prometheus text format 0.0.4) and /healthz,
# scraped while pgferry follow applies what the source writes, and while
# pgferry migrate streams after its copy.  The counters of a table's rows
# are those the source wrote; the batch-duration histogram is cumulative
# and its +Inf bucket is its count; a table name with a quote and a newline
# comes out escaped; the slot's retained WAL is shown; a port in use is a
# usage error naming the address; a target down is counted as reconnects
# and, past 30 s, fails /healthz with the reason.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use Ferry;
use FerryMigrate;
use HTTP::Tiny;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $http = HTTP::Tiny->new(timeout => 10);

# The samples of a scrape: { 'name{labels}' => value }, and the metric
# names that have both HELP and TYPE.
sub scrape
{
	my ($port) = @_;
	my $res = $http->get("http://127.0.0.1:$port/metrics");
	return undef unless $res->{success};
	my (%samples, %help, %type);
	for my $line (split /\n/, $res->{content})
	{
		if ($line =~ /^# HELP (\S+) ./) { $help{$1} = 1; next; }
		if ($line =~ /^# TYPE (\S+) (counter|gauge|histogram)$/) { $type{$1} = $2; next; }
		$samples{$1} = $2 if $line =~ /^(\S+(?:\{.*\})?) (\S+)$/;
	}
	return { samples => \%samples, help => \%help, type => \%type,
		text => $res->{content}, content_type => $res->{headers}{'content-type'} };
}

sub sample
{
	my ($scrape, $key) = @_;
	return $scrape ? $scrape->{samples}{$key} : undef;
}

my $source = source_node('source');
my $target = target_node('target');

# a name with a double quote and a newline: "q"t<newline>x"
my $odd = qq{"q""t\nx"};
psql_both($source, 'postgres', $target, 'postgres',
	"CREATE TABLE t (id int PRIMARY KEY, v text);
	 CREATE TABLE $odd (id int PRIMARY KEY)");
create_slot($source, 'postgres', 'metrics');

my $port = PostgreSQL::Test::Cluster::get_free_port();
my $run = start_follow($source, $target, slot => 'metrics', endpos => 'none',
	args => [ '--metrics-addr', "127.0.0.1:$port" ]);

# Each step waits until applied, so that no batch's net effect merges the
# kinds: rows written are then rows changed.
$source->safe_psql('postgres',
	"INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 100) g;
	 INSERT INTO $odd VALUES (1), (2), (3)");
ok(wait_source_applied($source, 'postgres', $target, 'postgres', 'metrics'),
	'inserts applied');
$source->safe_psql('postgres', "UPDATE t SET v = 'u' WHERE id <= 10");
ok(wait_source_applied($source, 'postgres', $target, 'postgres', 'metrics'),
	'updates applied');
$source->safe_psql('postgres', "DELETE FROM t WHERE id > 95");
ok(wait_source_applied($source, 'postgres', $target, 'postgres', 'metrics'),
	'deletes applied');
# (tables_match lists tables a line each: not one with a newline)
is_deeply(table_rows($target, 'postgres', 't', 'id, v'),
	table_rows($source, 'postgres', 't', 'id, v'), 't: the target equals the source');
is($target->safe_psql('postgres', "SELECT string_agg(id::text, ',' ORDER BY id) FROM $odd"),
	'1,2,3', 'the oddly named table: its rows are on the target');

# the retained WAL is read when the stream idles
my $m;
ok( wait_until(
		sub {
			$m = scrape($port);
			my $wal = sample($m, 'pgferry_slot_retained_wal_bytes');
			return defined $wal && $wal > 0;
		}),
	'the retained WAL gauge is above 0')
  or diag($m ? $m->{text} : 'no scrape');
like($m->{content_type}, qr{^text/plain; version=0\.0\.4}, 'content type of format 0.0.4');
is(sample($m, 'pgferry_slot_wal_status{status="reserved"}'), 1, 'wal_status reserved');

my %want = (
	'pgferry_changes_received_total{table="public.t",kind="insert"}' => 100,
	'pgferry_changes_received_total{table="public.t",kind="update"}' => 10,
	'pgferry_changes_received_total{table="public.t",kind="delete"}' => 5,
	'pgferry_rows_written_total{table="public.t",kind="insert"}' => 100,
	'pgferry_rows_written_total{table="public.t",kind="update"}' => 10,
	'pgferry_rows_written_total{table="public.t",kind="delete"}' => 5,
	'pgferry_changes_received_total{table="public.q\"t\nx",kind="insert"}' => 3,
	'pgferry_rows_written_total{table="public.q\"t\nx",kind="insert"}' => 3);
is(sample($m, $_), $want{$_}, "$_ = $want{$_}") for sort keys %want;

ok(defined sample($m, 'pgferry_apply_lag_bytes'), 'lag in bytes');
ok(defined sample($m, 'pgferry_apply_lag_seconds'), 'lag in seconds');
is(sample($m, 'pgferry_ordered_fallbacks_total'), 0, 'no fallback');

# the histogram: cumulative buckets, +Inf is the count, one per batch
my @buckets = map { [ $_ =~ /le="([^"]+)"/, $m->{samples}{$_} ] }
  grep { /^pgferry_batch_duration_seconds_bucket\{/ } keys %{ $m->{samples} };
@buckets = sort { ($a->[0] eq '+Inf' ? 9e99 : $a->[0]) <=> ($b->[0] eq '+Inf' ? 9e99 : $b->[0]) } @buckets;
my @counts = map { $_->[1] } @buckets;
ok(!grep({ $counts[$_] < $counts[ $_ - 1 ] } 1 .. $#counts), 'histogram buckets are monotonic');
is($buckets[-1][0], '+Inf', 'the last bucket is +Inf');
my $count = sample($m, 'pgferry_batch_duration_seconds_count');
is($buckets[-1][1], $count, '+Inf bucket = count');
ok($count >= 3, 'a batch per step at least');
is(sample($m, 'pgferry_batches_total'), $count, 'batches_total = histogram count');

my @missing;
for my $key (keys %{ $m->{samples} })
{
	my ($name) = $key =~ /^([a-z_]+)/;
	(my $base = $name) =~ s/_(bucket|sum|count)$//;
	$name = $base if ($m->{type}{$base} // '') eq 'histogram';
	push @missing, $name unless $m->{help}{$name} && $m->{type}{$name};
}
is_deeply(\@missing, [], 'every sample has HELP and TYPE');
is($m->{type}{pgferry_changes_received_total}, 'counter', 'counters are typed counter');

my $health = $http->get("http://127.0.0.1:$port/healthz");
is($health->{status}, 200, '/healthz: 200 while streaming');
is($health->{content}, "ok\n", '/healthz: ok');
is($http->get("http://127.0.0.1:$port/nothing")->{status}, 404, 'another path: 404');

# a second process on the same address
my $res = run_pgferry(
	[
		'follow', '--source', $source->connstr('postgres'),
		'--target', $target->connstr('postgres'), '--slot', 'other',
		'--metrics-addr', "127.0.0.1:$port"
	]);
is($res->{rc}, 2, 'a port in use: exit 2');
like($res->{stderr}, qr/could not listen on --metrics-addr 127\.0\.0\.1:$port: Address already in use/,
	'a port in use: names the address');
$res = run_pgferry([ 'follow', '--source', 'x', '--target', 'y', '--slot', 's',
	'--metrics-addr', 'nocolon' ]);
is($res->{rc}, 2, 'no port: exit 2');
like($res->{stderr}, qr/--metrics-addr "nocolon" is not HOST:PORT/, 'no port: says so');

# a target down: reconnects to the target, and /healthz says so once that
# has lasted 30 s; back up, the stream goes on and /healthz is ok again
$target->stop;
$source->safe_psql('postgres', "INSERT INTO t VALUES (1000, 'target down')");
my $down;
ok( wait_until(
		sub {
			$down = $http->get("http://127.0.0.1:$port/healthz");
			return $down->{status} == 503;
		},
		120),
	'/healthz: 503 while the target is down');
like($down->{content}, qr/^reconnecting to the target for \d+ s$/m, '/healthz: the reason');
$target->start;
ok( wait_until(
		sub { $target->safe_psql('postgres', 'SELECT count(*) FROM t WHERE id = 1000') eq '1' }),
	'applied once the target is back');
ok( wait_until(sub { $http->get("http://127.0.0.1:$port/healthz")->{status} == 200 }),
	'/healthz: 200 again');
$m = scrape($port);
ok((sample($m, 'pgferry_reconnects_total{server="target"}') // 0) >= 1,
	'the target down is counted as reconnects to the target')
  or diag($m->{text});
# the source sends again what the target had not committed: counted again
ok(sample($m, 'pgferry_changes_received_total{table="public.t",kind="insert"}') >= 101,
	'the row written while the target was down is counted');

$res = finish_follow($run, 'TERM');
is($res->{rc}, 0, 'follow stops cleanly');
like($res->{stderr}, qr{serving metrics on http://127\.0\.0\.1:$port/metrics}, 'the address is logged');

# --- migrate: the copy's progress ---------------------------------------------
create_database($source, 'shop');
create_database($target, 'shop');
$source->safe_psql('shop',
	"CREATE TABLE big (id int PRIMARY KEY, pad text);
	 INSERT INTO big SELECT g, repeat('x', 100) FROM generate_series(1, 5000) g;
	 CREATE TABLE small (id int PRIMARY KEY);
	 INSERT INTO small SELECT generate_series(1, 7)");
my $mport = PostgreSQL::Test::Cluster::get_free_port();
my $mrun = start_migrate($source, 'shop', $target, 'shop', '--slot', 'shop',
	'--metrics-addr', "127.0.0.1:$mport");
ok(wait_phase($target, 'shop', 'shop', 'stream', $mrun), 'migrate reaches the stream');
my $cm;
ok( wait_until(
		sub {
			$cm = scrape($mport);
			return (sample($cm, 'pgferry_phase{phase="stream"}') // 0) == 1;
		}),
	'phase gauge: stream');
is(sample($cm, 'pgferry_phase{phase="copy"}'), 0, 'phase gauge: copy is over');
is(sample($cm, 'pgferry_copy_rows_total{table="public.big"}'), 5000, 'rows copied of big');
is(sample($cm, 'pgferry_copy_rows_total{table="public.small"}'), 7, 'rows copied of small');
ok(sample($cm, 'pgferry_copy_bytes_total{table="public.big"}') > 5000 * 100,
	'bytes copied of big');
is(sample($cm, 'pgferry_copy_tables'), 2, 'tables to copy');
is(sample($cm, 'pgferry_copy_tables_done'), 2, 'tables done');
$res = stop_migrate($mrun, 'TERM');
is($res->{rc}, 0, 'migrate stops cleanly');

done_testing();
