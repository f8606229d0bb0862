
# A start of pgferry migrate that fails, or is killed, once its slot exists
# on the source (held there by a lock on the target while it restores the
# schema):
#   * failed (its target session ends): migrate drops the slot it created,
#     so that nothing keeps the source's WAL; run again, it migrates;
#   * killed (kill -9): the slot stays, but the task's row on the target
#     names it: preflight calls it this target's migration, not a slot in
#     the way, and migrate run again drops it and starts over;
#   * a slot no migration of the target knows is in the way: preflight says
#     how much WAL it keeps and how to drop it;
#   * each migration ends equal to the source.
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use FerryMigrate;
use PostgreSQL::Test::Utils;
use Test::More;

my $source = source_node('source');
my $target = target_node('target');
create_database($source, 'app');
$source->safe_psql('app', q{
	CREATE TABLE items (id serial PRIMARY KEY, note text);
	INSERT INTO items (note) SELECT 'item ' || i FROM generate_series(1, 1000) i;
});
create_database($target, $_) foreach qw(failed killed);

sub slots
{
	return $source->safe_psql('postgres',
		'SELECT string_agg(slot_name, \',\' ORDER BY slot_name) FROM pg_replication_slots');
}

# Holds the lock migrate takes to restore the schema in $db, and waits
# until migrate ($run) has created its slot and waits for that lock.
sub hold_restore
{
	my ($db, $slot, $run) = @_;
	my $locker = $target->background_psql($db);
	$locker->query_safe(
		"BEGIN; SELECT pg_advisory_xact_lock(hashtext('pgferry migrate schema'))");
	ok( wait_until(
			sub {
				return 0 unless program_running($run);
				return $source->safe_psql('postgres',
					"SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$slot'")
				  eq '1'
				  && $target->safe_psql($db, q{
					SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'advisory'})
				  eq '1';
			}),
		"$slot: migrate created its slot and waits to restore the schema");
	return $locker;
}

# --- a start that fails -------------------------------------------------------
my $run = start_migrate($source, 'app', $target, 'failed', '--slot', 'failed',
	'--endpos', current_lsn($source));
my $locker = hold_restore('failed', 'failed', $run);
$target->safe_psql('failed', q{
	SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event = 'advisory'});
my $res = stop_migrate($run);
isnt($res->{rc}, 0, 'failed start: migrate fails');
like($res->{stderr}, qr/dropping slot "failed" and the state of its task/,
	'failed start: it drops its slot');
unlike($res->{stderr}, qr/stays on the source/, 'failed start: and does not say it stays');
is(slots(), '', 'failed start: no slot keeps the source\'s WAL');
$locker->query_safe('COMMIT');
$locker->quit;

$res = migrate($source, 'app', $target, 'failed', '--slot', 'failed',
	'--endpos', current_lsn($source));
is($res->{rc}, 0, 'failed start, run again: migrate succeeds');
tables_match($source, 'app', $target, 'failed', 'failed start, run again');

# --- a start killed ----------------------------------------------------------
$source->safe_psql('app', "INSERT INTO items (note) VALUES ('after the first')");
$run = start_migrate($source, 'app', $target, 'killed', '--slot', 'killed',
	'--endpos', current_lsn($source));
$locker = hold_restore('killed', 'killed', $run);
$res = stop_migrate($run, 'KILL');
is($res->{rc}, 'signal 9', 'killed start: migrate killed');
wait_slot_inactive($source, 'killed');
$locker->query_safe('COMMIT');
$locker->quit;
is(slots(), 'failed,killed', 'killed start: its slot stays');
is($target->safe_psql('killed', q{SELECT phase FROM pgferry.migration WHERE slot = 'killed'}),
	'init', 'killed start: its task is recorded in phase init');

$res = preflight($source, 'app', $target, 'killed', '--slot', 'killed');
like($res->{stdout},
	qr/^OK    slot "killed" was left by this target's migration, stopped while it started: migrate drops it and starts again$/m,
	'killed start: preflight knows the slot as this target\'s');
unlike($res->{stdout}, qr/^BLOCK slot/m, 'killed start: the slot does not block');

$res = migrate($source, 'app', $target, 'killed', '--slot', 'killed',
	'--endpos', current_lsn($source));
is($res->{rc}, 0, 'killed start, run again: migrate succeeds');
like($res->{stderr}, qr/dropping slot "killed" left by an interrupted start/,
	'killed start, run again: it drops the slot of the killed start');
is(slots(), 'failed,killed', 'killed start, run again: one slot for the task');
tables_match($source, 'app', $target, 'killed', 'killed start, run again');

# --- a slot of no migration of this target -------------------------------------
create_slot($source, 'app', 'orphan');
create_database($target, 'other');
$res = preflight($source, 'app', $target, 'other', '--slot', 'orphan');
is($res->{rc}, 6, 'a slot in the way: preflight exits 6');
like($res->{stdout},
	qr/^BLOCK slot "orphan" already exists on the source, keeping .+ of WAL, and is not this target's migration\n.*\n\s+fix: choose another --slot, or drop it: SELECT pg_drop_replication_slot\('orphan'\);/m,
	'a slot in the way: what it keeps, and how to drop it');

done_testing();
