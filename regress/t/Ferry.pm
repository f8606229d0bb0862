
# Ferry: what the end-to-end tests of `pgferry follow` share.
#
# Each test starts a PostgreSQL 15 source (logical decoding, the pgferry
# plugin allowed) and one or more targets, creates the same schema on both,
# runs a workload on the source, runs `pgferry follow` up to an LSN, and
# compares the target with the source table by table, row by row.
#
# The helpers here promise:
#   * source_node / target_node: started servers configured for pgferry;
#   * follow / start_follow: the applier run with a timeout, its exit code,
#     stdout and stderr kept (and written to the test's log);
#   * tables_match: every ordinary table of the source (partitions included,
#     the pgferry schema excluded) equal on the target, as a multiset of rows
#     with columns matched by name, one test per table;
#   * slot and LSN helpers;
#   * start_frame_proxy: the source seen through FrameProxy.pm, which
#     alters frames on their way to the applier.
# FerryTypes.pm holds the type-family schema and workload.

package Ferry;

use strict;
use warnings;

use Exporter 'import';
use IO::Socket::INET;
use IPC::Run ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);

our @EXPORT = qw(
  source_node target_node create_database create_slot current_lsn lsn_int
  slot_confirmed_flush wait_slot_inactive follow start_follow finish_follow
  follow_ok follow_fails follow_stage
  run_pgferry start_program program_running finish_program
  pgbench_script start_pgbench_script stop_pgbench
  tables_match table_rows wait_until schema_dump
  newer_pg_dir psql_both start_frame_proxy test_plugin
);

# The applier under test: the installed binary unless PGFERRY names another.
my $pgferry = $ENV{PGFERRY} // 'pgferry';

# pgferry's default work directories ($TMPDIR/pgferry-UID-SLOT) of each test
# file its own: the files run side by side (make test runs prove -j2) and
# use the same slot names.
$ENV{TMPDIR} = PostgreSQL::Test::Utils::tempdir('pgferry_tmp');

# The output plugin the follow tests decode with: PGFERRY_TEST_PLUGIN=pgoutput
# runs them through the built-in pgoutput (a managed source's plugin).
sub test_plugin
{
	return $ENV{PGFERRY_TEST_PLUGIN} || 'pgferry';
}

# Where scripts/install-newer-pg puts the newer server.
sub newer_pg_dir
{
	return $ENV{PGFERRY_NEWER_PG} // '/opt/pgferry/pg-newer';
}

# UTF8 databases whatever the environment's locale (without one initdb
# would choose SQL_ASCII, which takes any bytes and so tests no encoding).
my @initdb_options = ('--encoding=UTF8', '--no-locale');

# Settings both kinds of server get: room for the applier's connections,
# the tests' psql sessions and pgbench clients; no statement logging (the
# framework's default), which would fill the logs with pgbench's.
my $common_conf = <<'EOC';
max_connections = 40
shared_buffers = 32MB
log_statement = none
log_connections = on
log_disconnections = on
EOC

# A started PostgreSQL 15 server the pgferry plugin can decode.
# logical_decoding_work_mem is the minimum so that transactions of a few
# hundred kB are streamed (or spilled) rather than decoded in memory.
sub source_node
{
	my ($name, %params) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name, %params);

	$node->init(allows_streaming => 'logical', extra => \@initdb_options);
	$node->append_conf('postgresql.conf', $common_conf . <<'EOC');
max_wal_senders = 10
max_replication_slots = 10
logical_decoding_work_mem = 64kB
max_prepared_transactions = 10
EOC
	# Servers before 15.19 have no output_plugin_libraries and refuse the line.
	my $config = `'${\ $node->installed_command('postgres')}' --describe-config`;
	$node->append_conf('postgresql.conf',
		"output_plugin_libraries = 'pgoutput, test_decoding, pgferry'")
	  if $config =~ /^output_plugin_libraries\t/m;
	$node->start;
	return $node;
}

# A started server to apply into; install_path picks another installation.
sub target_node
{
	my ($name, %params) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name, %params);

	$node->init(extra => \@initdb_options);
	$node->append_conf('postgresql.conf', $common_conf);
	$node->start;
	return $node;
}

sub create_database
{
	my ($node, $db) = @_;
	$node->safe_psql('postgres', qq{CREATE DATABASE "$db"});
}

# Runs the same SQL on the source and the target (schema set-up: pgferry
# follow does not copy schema).
sub psql_both
{
	my ($source, $sdb, $target, $tdb, $sql) = @_;
	$source->safe_psql($sdb, $sql);
	$target->safe_psql($tdb, $sql);
}

# Creates a slot of the test plugin (pgferry unless PGFERRY_TEST_PLUGIN
# says pgoutput, which gets a publication of every table, named as the
# slot, made before the slot as pgoutput needs); returns the LSN from which
# it decodes.
sub create_slot
{
	my ($node, $db, $slot) = @_;
	my $plugin = test_plugin();
	$node->safe_psql($db, qq{CREATE PUBLICATION "$slot" FOR ALL TABLES})
	  if $plugin eq 'pgoutput';
	return $node->safe_psql($db,
		"SELECT lsn FROM pg_create_logical_replication_slot('$slot', '$plugin')");
}

sub current_lsn
{
	my ($node) = @_;
	return $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
}

# 'X/Y' to an integer, for comparisons.
sub lsn_int
{
	my ($lsn) = @_;
	my ($hi, $lo) = split m{/}, $lsn;
	return (hex($hi) << 32) | hex($lo);
}

sub slot_confirmed_flush
{
	my ($node, $slot) = @_;
	return $node->safe_psql('postgres',
		"SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '$slot'"
	);
}

# After a kill -9 the walsender notices the closed socket only when it next
# touches it; a new applier would find the slot still active.
sub wait_slot_inactive
{
	my ($node, $slot) = @_;
	$node->poll_query_until('postgres',
		"SELECT NOT active FROM pg_replication_slots WHERE slot_name = '$slot'")
	  or die "slot $slot still active after $PostgreSQL::Test::Utils::timeout_default s";
}

# Polls $check (a code ref) every 20 ms until it returns true; false when
# $timeout seconds pass first.
sub wait_until
{
	my ($check, $timeout) = @_;
	my $deadline = time() + ($timeout // $PostgreSQL::Test::Utils::timeout_default);
	while (time() < $deadline)
	{
		return 1 if $check->();
		usleep(20_000);
	}
	return 0;
}

# The arguments of pgferry for a follow.  %p: slot; source_db and target_db
# (default postgres); source_conn (instead of the source's own connection
# string); target_user; endpos (an LSN, 'none' for none, default the
# source's current LSN); args (more options).
sub _follow_command
{
	my ($source, $target, %p) = @_;
	my $tconn = $target->connstr($p{target_db} // 'postgres');
	$tconn .= " user=$p{target_user}" if $p{target_user};
	my @args = (
		'follow',
		'--source' => $p{source_conn} // $source->connstr($p{source_db} // 'postgres'),
		'--target' => $tconn,
		'--slot' => $p{slot});
	my $endpos = $p{endpos} // current_lsn($source);
	push @args, '--endpos' => $endpos unless $endpos eq 'none';
	push @args, @{ $p{args} // [] };
	push @args, '--plugin' => test_plugin()
	  unless grep { $_ eq '--plugin' } @args;
	return @args;
}

# Runs pgferry with @$args (after the program name) to completion, killing it
# after $timeout seconds.  Returns { rc, stdout, stderr, cmd }; rc is the
# exit code, or "signal N" when a signal ended it.
sub run_pgferry
{
	my ($args, $timeout) = @_;
	my @cmd = ($pgferry, @$args);
	my ($out, $err) = ('', '');
	$timeout //= $PostgreSQL::Test::Utils::timeout_default;
	my $started = time();

	note "running: @cmd";
	my $h = IPC::Run::start(\@cmd, '<', '/dev/null', '>', \$out, '2>', \$err,
		IPC::Run::timeout($timeout));
	eval { $h->finish; };
	if ($@)
	{
		$h->kill_kill;
		$err .= "\n[test: pgferry killed after ${timeout}s: $@]";
	}
	my $res = _result($h->full_result, $out, $err, \@cmd);
	note sprintf("pgferry: rc=%s after %.1fs\nstdout:\n%s\nstderr:\n%s",
		$res->{rc}, time() - $started, $out, $err);
	return $res;
}

# Runs pgferry follow to completion (see _follow_command for %p, and
# timeout); returns what run_pgferry does.
sub follow
{
	my ($source, $target, %p) = @_;
	return run_pgferry([ _follow_command($source, $target, %p) ], $p{timeout});
}

sub _result
{
	my ($status, $out, $err, $cmd) = @_;
	my $rc =
	    !defined $status ? 'unknown'
	  : $status & 127    ? 'signal ' . ($status & 127)
	  :                    $status >> 8;
	return { rc => $rc, stdout => $out, stderr => $err, cmd => $cmd };
}

# Runs pgferry follow and checks that it exits 0.
sub follow_ok
{
	my ($source, $target, $name, %p) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my $res = follow($source, $target, %p);
	is($res->{rc}, 0, "$name: pgferry follow exits 0")
	  or diag("pgferry follow stderr:\n$res->{stderr}");
	return $res;
}

# Runs pgferry follow expecting exit code $rc and stderr matching each
# regex of @$patterns.
sub follow_fails
{
	my ($source, $target, $name, $rc, $patterns, %p) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my $res = follow($source, $target, %p);
	is($res->{rc}, $rc, "$name: pgferry follow exits $rc");
	like($res->{stderr}, $_, "$name: stderr matches $_") for @$patterns;
	return $res;
}

# One stage of a follow test: runs $sql on the source (unless undef), then
# pgferry follow up to the source's position (%p as for follow), then
# compares every table of the databases (source_db and target_db, default
# postgres), or the tables of $p{only}.  Returns what follow_ok does.
sub follow_stage
{
	my ($source, $target, $name, $sql, %p) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my $only = delete $p{only};
	my $sdb = $p{source_db} // 'postgres';
	$source->safe_psql($sdb, $sql) if defined $sql;
	my $res = follow_ok($source, $target, $name, %p);
	tables_match($source, $sdb, $target, $p{target_db} // 'postgres', $name,
		$only ? (only => $only) : ());
	return $res;
}

# Starts a program (@$cmd) in the background; stdout and stderr go to files
# (never a pipe nobody reads).  Returns a handle for finish_program.
sub start_program
{
	my ($cmd) = @_;
	my $dir = PostgreSQL::Test::Utils::tempdir();
	note "starting: @$cmd";
	my $h = IPC::Run::start($cmd, '<', '/dev/null', '>', "$dir/stdout",
		'2>', "$dir/stderr");
	return { harness => $h, dir => $dir, cmd => $cmd, started => time() };
}

# Whether a started program is still running (reaps it when it ended).
sub program_running
{
	my ($run) = @_;
	return $run->{harness}->pumpable;
}

# Sends $signal (if given) to a started program and waits up to $timeout s
# for it to end (then kills it).  Returns { rc, stdout, stderr, cmd } as
# run_pgferry does.
sub finish_program
{
	my ($run, $signal, $timeout) = @_;
	my $h = $run->{harness};
	my $name = $run->{cmd}[0] eq $pgferry ? "pgferry $run->{cmd}[1]" : $run->{cmd}[0];
	# The program may end between the check and the signal.
	eval { $h->signal($signal) } if $signal && program_running($run);
	$timeout //= $PostgreSQL::Test::Utils::timeout_default;
	wait_until(sub { !program_running($run) }, $timeout);
	my $timed_out = program_running($run);
	$h->kill_kill if $timed_out;
	eval { $h->finish };
	my $out = slurp_file("$run->{dir}/stdout");
	my $err = slurp_file("$run->{dir}/stderr");
	$err .= "\n[test: $name killed after ${timeout}s]" if $timed_out;
	my $res = _result($h->full_result, $out, $err, $run->{cmd});
	note sprintf("%s: rc=%s after %.1fs\nstdout:\n%s\nstderr:\n%s",
		$name, $res->{rc}, time() - $run->{started}, $out, $err);
	return $res;
}

# Starts pgferry follow in the background (%p as for follow).
sub start_follow
{
	my ($source, $target, %p) = @_;
	return start_program([ $pgferry, _follow_command($source, $target, %p) ]);
}

# Ends a background pgferry follow (see finish_program).  A SIGTERM or
# SIGINT asks it to stop cleanly, which it can once it catches them: on a
# loaded machine a follow started a moment ago may not have come that far,
# so the signal waits until the process catches it (or has ended).
sub finish_follow
{
	my ($run, $signal, $timeout) = @_;
	if (defined $signal && ($signal eq 'TERM' || $signal eq 'INT'))
	{
		my $pid = $run->{harness}{KIDS}[0]{PID};
		my $bit = $signal eq 'TERM' ? 15 : 2;
		wait_until(
			sub {
				return 1 unless program_running($run);
				open(my $fh, '<', "/proc/$pid/status") or return 1;
				my ($caught) = join('', <$fh>) =~ /^SigCgt:\s*([0-9a-f]+)/m;
				return defined $caught
				  && (hex(substr($caught, -4)) >> ($bit - 1)) & 1;
			},
			60);
	}
	return finish_program($run, $signal, $timeout);
}

sub _pgbench_command
{
	my ($node, $db, $script, @args) = @_;
	my $file = PostgreSQL::Test::Utils::tempdir() . '/workload.sql';
	PostgreSQL::Test::Utils::append_to_file($file, $script);
	return [ 'pgbench', '-n', '-f', $file, @args, $node->connstr($db) ];
}

# Runs pgbench with a script of its own (its text) on $node's database $db;
# @args are pgbench's options (-c, -j, -t, -T, -R, -D ...).  Returns
# { rc, stdout, stderr } as run_pgferry does.
sub pgbench_script
{
	my ($node, $db, $script, @args) = @_;
	my $cmd = _pgbench_command($node, $db, $script, @args);
	my ($out, $err) = ('', '');
	note "running: @$cmd";
	IPC::Run::run($cmd, '<', '/dev/null', '>', \$out, '2>', \$err);
	note "pgbench:\n$out\n$err";
	return _result($?, $out, $err, $cmd);
}

# The same in the background: a handle for stop_pgbench.
sub start_pgbench_script
{
	my ($node, $db, $script, @args) = @_;
	return start_program(_pgbench_command($node, $db, $script, @args));
}

# Stops a background pgbench (or waits for its end, with $wait); returns the
# transactions it committed, when it printed that.
sub stop_pgbench
{
	my ($run, $wait) = @_;
	my $res = finish_program($run, $wait ? undef : 'TERM', $wait ? undef : 30);
	return $res->{stdout} =~ /actually processed: (\d+)/ ? $1 : undef;
}

# Starts FrameProxy (regress/t/FrameProxy.pm) in $mode in front of $node,
# on a free port of 5541-5579.  Returns its harness (kill_kill it when done)
# and a connection string to $db through it.
sub start_frame_proxy
{
	my ($node, $mode, $db) = @_;
	my ($port) = grep {
		my $probe = IO::Socket::INET->new(
			LocalAddr => '127.0.0.1',
			LocalPort => $_,
			Listen => 1,
			ReuseAddr => 1);
		$probe && $probe->close;
	} 5541 .. 5579;
	die "no free port in 5541-5579 for the frame proxy" unless $port;
	my $socket = $node->host . '/.s.PGSQL.' . $node->port;
	my ($out, $err) = ('', '');
	my $timer = IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default);
	my $h = IPC::Run::start(
		[
			'perl', '-Iregress/t', '-MFrameProxy', '-e', 'FrameProxy::main',
			$mode, $port, $socket
		],
		'<', '/dev/null', '>', \$out, '2>', \$err, $timer);
	pump_until($h, $timer, \$out, qr/listening/)
	  or die "frame proxy did not start: $err";
	return ($h,
		"host=127.0.0.1 port=$port dbname=$db sslmode=disable gssencmode=disable");
}

# The ordinary tables of a database (leaf partitions included, partitioned
# parents not: each row is compared once, in the partition it lives in),
# the pgferry schema excluded.
sub user_tables
{
	my ($node, $db) = @_;
	my $list = $node->safe_psql(
		$db, q{
		SELECT format('%I.%I', n.nspname, c.relname)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'r'
		  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgferry')
		  AND n.nspname NOT LIKE 'pg\_toast%'
		ORDER BY 1});
	return split /\n/, $list;
}

# Rows of $table as sorted text lines.  Columns are listed by name in name
# order (so tables whose columns sit in another order, or around dropped
# columns, compare equal); output settings (the encoding too) are fixed so
# both servers print values alike; newlines are escaped so that one row is
# one line; rows over 300 characters are shortened to their head, length
# and md5.
sub table_rows
{
	my ($node, $db, $table, $columns) = @_;
	my $sql = <<"EOQ";
SET client_encoding = 'UTF8';
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, MDY';
SET IntervalStyle = 'postgres';
SET extra_float_digits = 1;
SET bytea_output = 'hex';
SELECT CASE WHEN length(r) > 300
	THEN format('%s... (%s chars, md5 %s)', left(r, 80), length(r), md5(r))
	ELSE r END
FROM (SELECT replace(replace(ROW($columns)::text, '\\', '\\\\'), E'\\n', '\\n') AS r
	  FROM ONLY $table) AS rows
EOQ
	my ($rc, $out, $err) = $node->psql($db, $sql);
	die "reading $table on " . $node->name . ": $err" if $rc != 0;
	return [ sort split /\n/, $out ];
}

sub _column_list
{
	my ($node, $db, $table) = @_;
	return $node->safe_psql(
		$db, qq{
		SELECT string_agg(quote_ident(attname), ', ' ORDER BY attname)
		FROM pg_attribute
		WHERE attrelid = '$table'::regclass AND attnum > 0 AND NOT attisdropped});
}

# The dump of a database's schema, without the pgferry schema, the
# publications (the pgoutput pass's, on the source alone) and pg_dump's
# random \restrict key.
sub schema_dump
{
	my ($node, $db) = @_;
	my $dump = `'${\ $node->installed_command('pg_dump')}' --schema-only --exclude-schema=pgferry --no-publications -d '${\ $node->connstr($db)}'`;
	die "pg_dump of $db failed" if $? != 0;
	$dump =~ s/^\\(un)?restrict .*\n//mg;
	return $dump;
}

# One test per source table (or per table of @$only): the target holds the
# same rows.  On a difference, shows up to 5 rows missing on the target and 5
# rows the source does not have.
sub tables_match
{
	my ($source, $sdb, $target, $tdb, $name, %opt) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my @tables = $opt{only} ? @{ $opt{only} } : user_tables($source, $sdb);
	my %skip = map { $_ => 1 } @{ $opt{except} // [] };
	my $all_equal = 1;

	foreach my $table (grep { !$skip{$_} } @tables)
	{
		my $columns = _column_list($source, $sdb, $table);
		my $src = table_rows($source, $sdb, $table, $columns);
		my $tgt = eval { table_rows($target, $tdb, $table, $columns) };
		if (!$tgt)
		{
			fail("$name: $table equal on the target");
			diag("cannot read $table on the target: $@");
			$all_equal = 0;
			next;
		}
		my %count;
		$count{$_}++ for @$src;
		$count{$_}-- for @$tgt;
		my @missing = grep { $count{$_} > 0 } sort keys %count;
		my @extra   = grep { $count{$_} < 0 } sort keys %count;
		my $equal   = !@missing && !@extra;
		ok($equal, "$name: $table equal on the target (" . scalar(@$src) . " rows)")
		  or diag(
			sprintf(
				"%s: source %d rows, target %d rows\nmissing on the target:\n  %s\nnot on the source:\n  %s",
				$table, scalar(@$src), scalar(@$tgt),
				join("\n  ", @missing[ 0 .. ($#missing < 4 ? $#missing : 4) ]),
				join("\n  ", @extra[ 0 .. ($#extra < 4 ? $#extra : 4) ])));
		$all_equal &&= $equal;
	}
	return $all_equal;
}

1;
