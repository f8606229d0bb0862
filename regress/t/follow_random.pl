
# A seeded random workload, applied by pgferry follow and compared row for
# row (docs/design.md, promises 1 and 4).  Each seed gets a database of its
# own on both servers and a slot; three sessions of the source interleave
# random statements over tables of every identity pgferry handles:
#   * pk_u: a primary key and a unique column, a large value stored out of
#     line (updates that leave it untouched send it as unchanged TOAST);
#   * coded: REPLICA IDENTITY USING INDEX on a unique column that is not
#     the primary key (both change);
#   * defer: a unique constraint DEFERRABLE INITIALLY DEFERRED (values
#     swapped in one statement);
#   * comp: a composite key; full_t: REPLICA IDENTITY FULL with values equal
#     but not the same (numeric 1 and 1.0, float8 0 and -0, jsonb 1.0 and
#     1.00); ident: a GENERATED ALWAYS identity column set to DEFAULT;
#     part: a partitioned table whose rows move between partitions; bulk:
#     transactions large enough to be streamed (the source decodes with
#     logical_decoding_work_mem = 64kB);
# with inserts, updates of some columns, key changes and unique values moved
# between rows, deletes and re-inserts of the same keys, savepoints rolled
# back or released, transactions rolled back, a rare TRUNCATE.  Statements
# that fail on the source (a duplicate key, a row lock another session
# holds) are rolled back to a savepoint: the workload goes on.  Meanwhile a
# pgferry follow applies the stream with small batches (a seed's options)
# and is killed with SIGKILL now and then, and started again; at the end
# pgferry follow --endpos applies the rest and every table must equal the
# source's.
#
# The seed is printed; on a failure, so is the workload (each statement
# with its session and whether the source took it) to minimise it.
#   FOLLOW_RANDOM_SEED=N       one seed
#   FOLLOW_RANDOM_SEEDS=1-200  a list of seeds and ranges (1,5,10-20)
#   FOLLOW_RANDOM_STEPS=N      statements per seed (default 80)
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use PostgreSQL::Test::Utils;
use Test::More;

# A few seeds by default: the suite's run stays about a minute.
my @default_seeds = (1, 2, 3);
my $steps = $ENV{FOLLOW_RANDOM_STEPS} // 80;
my $sessions = 3;

sub seed_list
{
	my $spec = $ENV{FOLLOW_RANDOM_SEED} // $ENV{FOLLOW_RANDOM_SEEDS};
	return @default_seeds unless defined $spec && $spec ne '';
	my @seeds;
	foreach my $part (split /,/, $spec)
	{
		if ($part =~ /^(\d+)-(\d+)$/) { push @seeds, $1 .. $2; }
		elsif ($part =~ /^\d+$/) { push @seeds, $part; }
		else { die "FOLLOW_RANDOM_SEEDS: cannot read \"$part\""; }
	}
	return @seeds;
}

my $schema = q{
CREATE TABLE pk_u (id int PRIMARY KEY, u int UNIQUE, v text, big text);
ALTER TABLE pk_u ALTER COLUMN big SET STORAGE EXTERNAL;
CREATE TABLE coded (id int NOT NULL, code int NOT NULL, v text, big text);
CREATE UNIQUE INDEX coded_code ON coded (code);
ALTER TABLE coded ADD PRIMARY KEY (id);
ALTER TABLE coded REPLICA IDENTITY USING INDEX coded_code;
ALTER TABLE coded ALTER COLUMN big SET STORAGE EXTERNAL;
CREATE TABLE defer (id int PRIMARY KEY, u int,
	CONSTRAINT defer_u UNIQUE (u) DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE comp (a int, b text, v int, big text, PRIMARY KEY (a, b));
ALTER TABLE comp ALTER COLUMN big SET STORAGE EXTERNAL;
CREATE TABLE full_t (n numeric, f float8, j jsonb, v text, big text);
ALTER TABLE full_t REPLICA IDENTITY FULL;
CREATE TABLE part (id int, grp int, v text, PRIMARY KEY (id, grp))
	PARTITION BY LIST (grp);
CREATE TABLE part_0 PARTITION OF part FOR VALUES IN (0);
CREATE TABLE part_1 PARTITION OF part FOR VALUES IN (1);
CREATE TABLE part_2 PARTITION OF part FOR VALUES IN (2);
CREATE TABLE bulk (id int PRIMARY KEY, v text);
CREATE TABLE ident (k int PRIMARY KEY, gid bigint GENERATED ALWAYS AS IDENTITY,
	v int, big text);
ALTER TABLE ident ALTER COLUMN big SET STORAGE EXTERNAL;
};

my $source = source_node('source');
my $target = target_node('target');
# Autovacuum's locks would make TRUNCATE's lock wait depend on timing.
$source->append_conf('postgresql.conf', 'autovacuum = off');
$source->restart;

# --- the generator ------------------------------------------------------------

sub pick { return $_[ int(rand(@_)) ]; }
sub key  { return 1 + int(rand($_[0])); }

# A value of about 10 kB, stored out of line (the column is EXTERNAL).
sub big_value
{
	return sprintf("repeat('%08x', 1250)", int(rand(2**32)));
}

sub small_value
{
	return sprintf("'%s'", pick(qw(a b c d e f g)) . int(rand(1000)));
}

# A statement on one of the tables, chosen by weight (or a few, each a
# transaction of its own outside a transaction block).
sub random_statement
{
	my @choices = (
		# pk_u: key 1..20, u 1..25
		[ 6, sub { sprintf('INSERT INTO pk_u VALUES (%d, %d, %s, %s)',
				key(20), key(25), small_value(),
				rand() < 0.4 ? big_value() : 'NULL') } ],
		[ 6, sub { sprintf('UPDATE pk_u SET v = %s WHERE id = %d', small_value(), key(20)) } ],
		[ 5, sub { sprintf('UPDATE pk_u SET u = %d WHERE id = %d', key(25), key(20)) } ],
		[ 4, sub { sprintf('UPDATE pk_u SET id = %d WHERE id = %d', key(20), key(20)) } ],
		[ 2, sub { sprintf('UPDATE pk_u SET id = %d, v = %s WHERE id = %d', key(20), small_value(), key(20)) } ],
		[ 2, sub { sprintf('UPDATE pk_u SET big = %s WHERE id = %d', big_value(), key(20)) } ],
		[ 2, sub { sprintf('UPDATE pk_u SET u = u + %d WHERE id %% 4 = %d', key(3), int(rand(4))) } ],
		[ 4, sub { sprintf('DELETE FROM pk_u WHERE id = %d', key(20)) } ],
		# a unique value passed from one row to another, the first row
		# changed again after: its net effect is written in the wrong order
		[ 2, sub { my ($a, $b) = (key(20), key(20));
				("UPDATE pk_u SET u = -u WHERE id = $a",
				 "UPDATE pk_u SET u = (SELECT -u FROM pk_u WHERE id = $a) WHERE id = $b",
				 sprintf('UPDATE pk_u SET v = %s WHERE id = %d', small_value(), $a)) } ],
		# coded: the identity is code
		[ 4, sub { sprintf('INSERT INTO coded VALUES (%d, %d, %s, %s)',
				key(15), key(15), small_value(),
				rand() < 0.4 ? big_value() : 'NULL') } ],
		[ 3, sub { sprintf('UPDATE coded SET id = %d WHERE code = %d', key(15), key(15)) } ],
		[ 3, sub { sprintf('UPDATE coded SET code = %d WHERE id = %d', key(15), key(15)) } ],
		[ 3, sub { sprintf('UPDATE coded SET v = %s WHERE code = %d', small_value(), key(15)) } ],
		[ 2, sub { sprintf('DELETE FROM coded WHERE id = %d', key(15)) } ],
		[ 2, sub { my ($a, $b) = (key(15), key(15));
				("UPDATE coded SET id = id + 100 WHERE code = $a",
				 "UPDATE coded SET id = (SELECT id - 100 FROM coded WHERE code = $a) WHERE code = $b",
				 sprintf('UPDATE coded SET v = %s WHERE code = %d', small_value(), $a)) } ],
		[ 1, sub { my ($a, $b) = (key(15), key(15));
				("UPDATE coded SET code = -code WHERE id = $a",
				 "UPDATE coded SET code = (SELECT -code FROM coded WHERE id = $a) WHERE id = $b",
				 sprintf('UPDATE coded SET v = %s WHERE id = %d', small_value(), $a)) } ],
		# defer: swaps in one statement
		[ 2, sub { sprintf('INSERT INTO defer VALUES (%d, %d)', key(10), key(10)) } ],
		[ 2, sub { my ($a, $b) = (key(10), key(10));
				sprintf('UPDATE defer SET u = CASE WHEN id = %d THEN (SELECT u FROM defer WHERE id = %d) ELSE (SELECT u FROM defer WHERE id = %d) END WHERE id IN (%d, %d)',
				$a, $b, $a, $a, $b) } ],
		[ 1, sub { sprintf('UPDATE defer SET u = %d WHERE id = %d', key(10), key(10)) } ],
		[ 1, sub { sprintf('DELETE FROM defer WHERE id = %d', key(10)) } ],
		# comp: a composite key
		[ 3, sub { sprintf("INSERT INTO comp VALUES (%d, '%s', %d, %s)", key(5),
				pick(qw(x y z)), key(100), rand() < 0.3 ? big_value() : 'NULL') } ],
		[ 2, sub { sprintf("UPDATE comp SET b = '%s' WHERE a = %d", pick(qw(x y z w)), key(5)) } ],
		[ 2, sub { sprintf("UPDATE comp SET v = v + 1, a = a + %d WHERE b = '%s'", int(rand(2)), pick(qw(x y z))) } ],
		[ 1, sub { sprintf("DELETE FROM comp WHERE a = %d AND b = '%s'", key(5), pick(qw(x y z w))) } ],
		# full_t: rows equal but not the same
		[ 3, sub { sprintf("INSERT INTO full_t VALUES (%s, %s, %s, %s, %s)",
				pick(qw(1 1.0 1.00 2.5 2.50)), pick(qw(0 '-0')), pick(qw('1.0' '1.00' '[1.0]')), pick(q{'x'}, q{'y'}),
				rand() < 0.2 ? big_value() : 'NULL') } ],
		[ 2, sub { sprintf("UPDATE full_t SET v = %s WHERE ctid = (SELECT ctid FROM full_t WHERE n::text = '%s' LIMIT 1)",
				small_value(), pick(qw(1 1.0 1.00 2.5 2.50))) } ],
		[ 2, sub { sprintf("DELETE FROM full_t WHERE ctid = (SELECT ctid FROM full_t WHERE n::text = '%s' LIMIT 1)",
				pick(qw(1 1.0 1.00 2.5 2.50))) } ],
		[ 1, sub { sprintf("DELETE FROM full_t WHERE ctid = (SELECT ctid FROM full_t WHERE f::text = '%s' LIMIT 1)",
				pick(qw(0 -0))) } ],
		[ 1, sub { sprintf("UPDATE full_t SET v = %s WHERE ctid = (SELECT ctid FROM full_t WHERE j::text = '%s' LIMIT 1)",
				small_value(), pick('1.0', '1.00', '[1.0]')) } ],
		# ident: GENERATED ALWAYS identity set to DEFAULT, with a key change,
		# beside an unchanged TOASTed value
		[ 2, sub { sprintf('INSERT INTO ident (k, v, big) VALUES (%d, %d, %s)',
				key(8), key(100), rand() < 0.4 ? big_value() : 'NULL') } ],
		[ 2, sub { sprintf('UPDATE ident SET gid = DEFAULT%s WHERE k = %d',
				pick('', sprintf(', k = %d', key(8)), ', v = v + 1'), key(8)) } ],
		[ 1, sub { sprintf('DELETE FROM ident WHERE k = %d', key(8)) } ],
		# part: rows move between partitions
		[ 3, sub { sprintf('INSERT INTO part VALUES (%d, %d, %s)', key(10), int(rand(3)), small_value()) } ],
		[ 2, sub { sprintf('UPDATE part SET grp = %d WHERE id = %d', int(rand(3)), key(10)) } ],
		[ 2, sub { sprintf('UPDATE part SET v = %s, id = %d WHERE id = %d', small_value(), key(10), key(10)) } ],
		[ 1, sub { sprintf('DELETE FROM part WHERE id = %d', key(10)) } ],
		# bulk: large enough to be streamed
		[ 1, sub { my $from = key(3) * 1000;
				sprintf("INSERT INTO bulk SELECT i, repeat('%s', 40) FROM generate_series(%d, %d) i ON CONFLICT (id) DO UPDATE SET v = excluded.v || 'again'",
				pick(qw(p q r)), $from, $from + 399) } ],
		[ 1, sub { sprintf('DELETE FROM bulk WHERE id %% %d = 0', key(4) + 1) } ],
		[ 1, sub { sprintf('UPDATE bulk SET v = left(v, %d) WHERE id %% 3 = %d', key(50), int(rand(3))) } ],
		# rare
		[ 0.3, sub { pick('TRUNCATE pk_u', 'TRUNCATE part', 'TRUNCATE comp, full_t') } ],
	);
	my $total = 0;
	$total += $_->[0] foreach @choices;
	my $r = rand($total);
	foreach my $choice (@choices)
	{
		return $choice->[1]->() if ($r -= $choice->[0]) < 0;
	}
	return $choices[-1][1]->();
}

# --- one seed -------------------------------------------------------------------

# The workload as it ran: "sN| statement" lines, failures noted.
my @workload;

# Runs a statement in session $s (a transaction's statement is guarded by a
# savepoint, so that its failure rolls back only itself).
sub run_statement
{
	my ($psql, $s, $in_txn, $sql) = @_;
	my $text = $in_txn ? "SAVEPOINT stmt; $sql; RELEASE SAVEPOINT stmt" : $sql;
	$psql->{stderr} = '';
	my (undef, $failed) = $psql->query($text);
	my $error = $psql->{stderr};
	$psql->{stderr} = '';
	if ($failed)
	{
		$error =~ s/\n.*//s;
		push @workload, "s$s| $sql;  -- failed: $error";
		$psql->query('ROLLBACK TO SAVEPOINT stmt') if $in_txn;
		$psql->{stderr} = '';
		return 0;
	}
	push @workload, "s$s| $sql;";
	return 1;
}

# A transaction's control statement; only a COMMIT may fail (a deferred
# unique check: the transaction is then rolled back).
sub run_control
{
	my ($psql, $s, $sql) = @_;
	$psql->{stderr} = '';
	my (undef, $failed) = $psql->query($sql);
	my $error = $psql->{stderr};
	$psql->{stderr} = '';
	die "session $s: $sql failed: $error" if $failed && $sql ne 'COMMIT';
	$error =~ s/\n.*//s;
	push @workload, "s$s| $sql;" . ($failed ? "  -- failed: $error" : '');
}

sub start_applier
{
	my ($db, $args) = @_;
	return start_follow(
		$source, $target,
		slot => $db,
		source_db => $db,
		target_db => $db,
		endpos => 'none',
		args => $args);
}

sub run_seed
{
	my ($seed) = @_;
	my $db = "random_$seed";
	my $name = "seed $seed";
	my $ok = 1;

	note "follow_random: seed $seed";
	srand($seed);
	@workload = ();
	create_database($source, $db);
	create_database($target, $db);
	psql_both($source, $db, $target, $db, $schema);
	create_slot($source, $db, $db);

	# Small batches, or one batch of everything; sometimes source order.
	my @args = ('-v', '--batch-rows', pick(1, 5, 20, 50000),
		'--batch-time-ms', pick(10, 200, 60000));
	push @args, '--ordered' if rand() < 0.15;
	note "follow_random: seed $seed: pgferry follow @args";
	# The applier is down at first and now and then (a backlog builds up,
	# applied in large batches when it starts), else it follows the
	# workload closely.
	my $applier;
	my $kills = 0;

	my @psql = map {
		my $p = $source->background_psql($db, on_error_stop => 0);
		$p->query_safe("SET lock_timeout = '20ms'");
		$p
	} 1 .. $sessions;
	my @in_txn = (0) x $sessions;
	my @savepoints = (0) x $sessions;

	for my $step (1 .. $steps)
	{
		my $s = int(rand($sessions));
		my $p = $psql[$s];
		my $r = rand();

		if (!$in_txn[$s] && $r < 0.25)
		{
			run_control($p, $s, 'BEGIN');
			$in_txn[$s] = 1;
			$savepoints[$s] = 0;
		}
		elsif ($in_txn[$s] && $r < 0.12)
		{
			run_control($p, $s, rand() < 0.8 ? 'COMMIT' : 'ROLLBACK');
			$in_txn[$s] = 0;
		}
		elsif ($in_txn[$s] && $r < 0.17)
		{
			$savepoints[$s]++;
			run_control($p, $s, "SAVEPOINT sp$savepoints[$s]");
		}
		elsif ($in_txn[$s] && $savepoints[$s] && $r < 0.22)
		{
			run_control($p, $s,
				(rand() < 0.6 ? 'ROLLBACK TO SAVEPOINT' : 'RELEASE SAVEPOINT')
				  . " sp$savepoints[$s]");
			$savepoints[$s]--;
		}
		else
		{
			run_statement($p, $s, $in_txn[$s], $_) foreach random_statement();
		}

		# SIGKILL the applier now and then; start it again some steps later.
		next unless rand() < 5 / $steps;
		if (!$applier)
		{
			push @workload, '-- applier started';
			$applier = start_applier($db, \@args);
			next;
		}
		my $res = finish_follow($applier, 'KILL', 60);
		$applier = undef;
		push @workload, "-- applier killed (it was: $res->{rc})";
		$kills++;
		next if $res->{rc} eq 'signal 9';
		fail("$name: the applier runs until killed");
		diag("pgferry follow ended by itself ($res->{rc}):\n$res->{stderr}");
		$ok = 0;
	}
	for my $s (0 .. $sessions - 1)
	{
		run_control($psql[$s], $s, rand() < 0.8 ? 'COMMIT' : 'ROLLBACK')
		  if $in_txn[$s];
		$psql[$s]->quit;
	}

	my $res = $applier ? finish_follow($applier, 'TERM', 120) : { rc => 0 };
	if ($res->{rc} ne '0')
	{
		fail("$name: the applier running during the workload ends with 0");
		diag("pgferry follow ended with $res->{rc}:\n$res->{stderr}");
		$ok = 0;
	}
	$res = follow(
		$source, $target,
		slot => $db,
		source_db => $db,
		target_db => $db,
		args => \@args);
	if ($res->{rc} ne '0')
	{
		fail("$name: pgferry follow --endpos exits 0");
		diag("pgferry follow ended with $res->{rc}:\n$res->{stderr}");
		$ok = 0;
	}
	$ok = 0
	  unless tables_match($source, $db, $target, $db,
		"$name ($kills kills, @args)");
	my $report = "follow_random: seed $seed "
	  . ($ok ? 'passed' : 'failed')
	  . "; its workload:\n"
	  . join("\n", @workload);
	if ($ok) { note($report); }
	else { diag($report); }

	$source->safe_psql($db, "SELECT pg_drop_replication_slot('$db')");
	$source->safe_psql('postgres', qq{DROP DATABASE "$db"});
	$target->safe_psql('postgres', qq{DROP DATABASE "$db"});
	return $ok;
}

my @failed = grep { !run_seed($_) } seed_list();
diag('follow_random: failed seeds: ' . join(', ', @failed)) if @failed;

done_testing();
