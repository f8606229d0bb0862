
# FerryMigrate: what the end-to-end tests of `pgferry migrate` share (on top
# of Ferry.pm's servers and row comparisons).
#
#   * load_sample: the demo's sample database (demo/sample.sql) at a scale;
#   * start_pgbench: the demo's write workload (demo/workload.sql) in the
#     background (Ferry's stop_pgbench stops it);
#   * migrate / start_migrate / stop_migrate: the pgferry migrate command,
#     to completion or in the background (stdout and stderr kept in files);
#   * preflight: the pgferry preflight command;
#   * wait_phase / wait_applied: poll the state on the target;
#   * schema_matches: indexes, constraints, triggers and sequences of the
#     source and the target compared by name and definition.

package FerryMigrate;

use strict;
use warnings;

use Exporter 'import';
use Ferry;
use IPC::Run ();
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);

our @EXPORT = qw(
  load_sample start_pgbench migrate start_migrate stop_migrate preflight
  wait_phase wait_applied wait_source_applied schema_matches conn
  target_down_while_migrating
);

my $pgferry = $ENV{PGFERRY} // 'pgferry';

# Connection string of a node's database: $db is its name, or [name, role]
# to connect as that role (the servers trust local connections).  The
# commands below (pgferry's, pgbench's) take either.
sub conn
{
	my ($node, $db) = @_;
	my ($name, $user) = ref $db ? @$db : ($db);
	my $conninfo = $node->connstr($name);
	$conninfo .= " user=$user" if defined $user;
	return $conninfo;
}

# Loads demo/sample.sql into a new database $db of $node.  Returns the
# counts pgbench's workload needs.
sub load_sample
{
	my ($node, $db, $scale) = @_;
	create_database($node, $db);
	my ($rc, $out, $err) = $node->psql($db, undef,
		extra_params => [ '-v', "scale=$scale", '-f', 'demo/sample.sql' ]);
	die "loading demo/sample.sql: $err" if $rc != 0;
	return split /\|/, $node->safe_psql($db,
		'SELECT (SELECT count(*) FROM shop.customers), (SELECT count(*) FROM shop.products)');
}

# The demo workload in the background: pgbench -R $rate with $clients (stop
# it with Ferry's stop_pgbench).
sub start_pgbench
{
	my ($node, $db, $customers, $products, %p) = @_;
	return start_program(
		[
			'pgbench', '-n', '-f', 'demo/workload.sql',
			'-D', "customers=$customers", '-D', "products=$products",
			'-c', $p{clients} // 2, '-j', 2, '-R', $p{rate} // 100, '-T', 600,
			conn($node, $db)
		]);
}

sub _migrate_command
{
	my ($source, $sdb, $target, $tdb, @args) = @_;
	return ($pgferry, 'migrate', '--source', conn($source, $sdb),
		'--target', conn($target, $tdb), '--log-progress', @args);
}

# Runs pgferry preflight; returns { rc, stdout, stderr }.
sub preflight
{
	my ($source, $sdb, $target, $tdb, @args) = @_;
	return run_pgferry(
		[
			'preflight', '--source', conn($source, $sdb),
			'--target', conn($target, $tdb), @args
		]);
}

# Runs pgferry migrate to completion (give --endpos).  Returns { rc, stdout,
# stderr }.
sub migrate
{
	my ($source, $sdb, $target, $tdb, @args) = @_;
	my @cmd = _migrate_command($source, $sdb, $target, $tdb, @args);
	return run_pgferry([ @cmd[ 1 .. $#cmd ] ]);
}

# pgferry migrate in the background.
sub start_migrate
{
	my ($source, $sdb, $target, $tdb, @args) = @_;
	return start_program([ _migrate_command($source, $sdb, $target, $tdb, @args) ]);
}

# Ends a background migrate with $signal (KILL, TERM); returns { rc, stdout,
# stderr }.
sub stop_migrate
{
	my ($run, $signal) = @_;
	return finish_program($run, $signal, 60);
}

# Stops the target under the background migrate $run, waits (one test,
# named after $name) until migrate has logged a failed reconnect, then
# starts the target again.
sub target_down_while_migrating
{
	my ($target, $run, $name) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	$target->stop;
	ok( wait_until(
			sub {
				return 1 if !program_running($run);
				slurp_file("$run->{dir}/stderr") =~
				  /could not connect to the target server/;
			}),
		"$name: migrate fails to reconnect while the target is down");
	$target->start;
	return;
}

# Waits until the migration of $slot is in $phase; false after a timeout or
# when the background migrate $run ended first.
sub wait_phase
{
	my ($target, $tdb, $slot, $phase, $run) = @_;
	return wait_until(
		sub {
			return 0 if $run && !program_running($run);
			my ($rc, $out) = $target->psql($tdb,
				"SELECT phase FROM pgferry.migration WHERE slot = '$slot'");
			return $rc == 0 && $out eq $phase;
		},
		$PostgreSQL::Test::Utils::timeout_default);
}

# Waits until the target has applied the source's WAL up to $lsn.
sub wait_applied
{
	my ($target, $tdb, $slot, $lsn) = @_;
	return wait_until(
		sub {
			my ($rc, $out) = $target->psql($tdb,
				"SELECT end_lsn >= '$lsn' FROM pgferry.progress WHERE slot_name = '$slot'");
			return $rc == 0 && $out eq 't';
		},
		$PostgreSQL::Test::Utils::timeout_default);
}

# Waits until the target has applied everything the source has now.
sub wait_source_applied
{
	my ($source, $sdb, $target, $tdb, $slot) = @_;
	# A transaction of our own, so that there is a commit to wait for: its
	# message's own position, since WAL the server writes by itself after
	# it (a checkpoint, running transactions) has no commit to apply.
	my $lsn = $source->safe_psql($sdb,
		"SELECT pg_logical_emit_message(true, 'test', 'sync')");
	return wait_applied($target, $tdb, $slot, $lsn);
}

# The schema objects the copy builds, one line each, sorted.
sub _schema_objects
{
	my ($node, $db) = @_;
	my $user_schema = q{n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgferry')
		AND n.nspname NOT LIKE 'pg\_%'};
	return $node->safe_psql(
		$db, qq{
		SELECT 'index ' || i.schemaname || '.' || i.indexname || ': ' || i.indexdef
		FROM pg_indexes i JOIN pg_namespace n ON n.nspname = i.schemaname
		WHERE $user_schema
		UNION ALL
		SELECT 'constraint ' || c.conrelid::regclass || '.' || c.conname || ': '
			|| pg_get_constraintdef(c.oid) || CASE WHEN c.convalidated THEN '' ELSE ' (not valid)' END
		FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
		WHERE $user_schema AND c.conrelid <> 0
		UNION ALL
		SELECT 'trigger ' || t.tgrelid::regclass || '.' || t.tgname || ': '
			|| pg_get_triggerdef(t.oid) || ' enabled ' || t.tgenabled::text
		FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE $user_schema AND NOT t.tgisinternal
		ORDER BY 1});
}

# Indexes, constraints, triggers (and, unless no_sequences, sequence
# values) equal on both sides, each kind its own test.
sub schema_matches
{
	my ($source, $sdb, $target, $tdb, $name, %opt) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my @src = split /\n/, _schema_objects($source, $sdb);
	my @tgt = split /\n/, _schema_objects($target, $tdb);
	my %plural = (index => 'indexes', constraint => 'constraints', trigger => 'triggers');
	foreach my $kind (qw(index constraint trigger))
	{
		my @s = grep { /^$kind / } @src;
		my @t = grep { /^$kind / } @tgt;
		is_deeply(\@t, \@s, "$name: the target has the source's $plural{$kind} ("
			  . scalar(@s) . ')');
	}
	return if $opt{no_sequences};
	my $sql = q{SELECT schemaname || '.' || sequencename || ' ' || coalesce(last_value::text, 'unset')
		FROM pg_sequences WHERE schemaname <> 'pgferry' ORDER BY 1};
	is($target->safe_psql($tdb, $sql), $source->safe_psql($sdb, $sql),
		"$name: sequences have the source's values");
}

1;
