
# pgferry cutover, with pgferry follow running and a write workload on the
# source:
#   * refused before anything changes when no applier runs or a prepared
#     transaction waits (the source stays writable), and given up when a
#     session does not end with --wait-sessions or when the applier does
#     not apply the last LSN within --timeout (the source takes writes
#     again);
#   * then the switch itself, under load: the source refuses writes, a
#     transaction left open there is rolled back, the target holds the
#     source's rows row for row, every sequence has the source's value
#     (serial, identity, standalone, one never called), inserts on the
#     target do not collide, materialized views are refreshed in dependency
#     order (one through a plain view, one over another; again after the
#     window with --refresh-matviews=after, CONCURRENTLY where a unique
#     index allows) and a view never populated on the source stays so, the
#     read-only window is printed, and verify finds the pair equal;
#   * a check after the window that finds a difference: exit 5, the target
#     left read-only until cutover --release-target;
#   * cutover --abort makes the source writable again, after which pgferry
#     finish refuses to remove anything.
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $source = source_node('source');
my $target = target_node('target');

my $schema = q{
CREATE TABLE accounts (id serial PRIMARY KEY, owner text NOT NULL,
	balance numeric NOT NULL DEFAULT 0);
CREATE TABLE events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	account int NOT NULL, amount numeric NOT NULL);
CREATE TABLE notes (body text);
CREATE SEQUENCE invoice_no START 1000;
CREATE SEQUENCE never_called START 42;
CREATE SEQUENCE set_not_called;
CREATE MATERIALIZED VIEW balances AS
	SELECT count(*) AS accounts, sum(balance) AS total FROM accounts;
CREATE MATERIALIZED VIEW balances_doubled AS SELECT total * 2 AS doubled FROM balances;
CREATE VIEW rich AS SELECT * FROM accounts WHERE balance > 0;
CREATE MATERIALIZED VIEW rich_count AS SELECT count(*) AS n FROM rich;
CREATE UNIQUE INDEX ON rich_count (n);
CREATE MATERIALIZED VIEW never_filled AS SELECT 1 AS one WITH NO DATA;
};
psql_both($source, 'postgres', $target, 'postgres', $schema);
create_slot($source, 'postgres', 'ferry');
$source->safe_psql('postgres', q{
INSERT INTO accounts (owner) SELECT 'owner ' || i FROM generate_series(1, 200) i;
INSERT INTO events (account, amount) SELECT i % 200 + 1, i FROM generate_series(1, 1000) i;
SELECT setval('set_not_called', 500, false);
});

my @conn = (
	'--source' => $source->connstr('postgres'),
	'--target' => $target->connstr('postgres'));

sub source_writable
{
	my ($rc, $out, $err) = $source->psql('postgres',
		"INSERT INTO notes VALUES ('writable?')");
	return $rc == 0;
}

# --- refused: no applier runs ---------------------------------------------------------

my $res = run_pgferry([ 'cutover', @conn, '--slot', 'ferry' ], 60);
is($res->{rc}, 6, 'without a running applier: exit 6 (blocked)');
like($res->{stderr}, qr/replication slot "ferry" is not in use/,
	'without a running applier: the slot is named');
like($res->{stderr}, qr/HINT:  start pgferry follow --slot ferry/,
	'without a running applier: the fix is given');
ok(source_writable(), 'without a running applier: the source was never made read-only');

my $follow = start_follow($source, $target, slot => 'ferry', endpos => 'none',
	args => [ '--spool-dir', PostgreSQL::Test::Utils::tempdir() ]);
ok( wait_until(
		sub {
			my ($rc, $rows) =
			  $target->psql('postgres', 'SELECT count(*) FROM pgferry.progress');
			return $rc == 0 && $rows > 0;
		},
		30),
	'pgferry follow runs and records its progress');

# --- refused: a prepared transaction, which could commit after read-only ----------------

$source->safe_psql('postgres',
	"BEGIN; INSERT INTO notes VALUES ('prepared'); PREPARE TRANSACTION 'pending_note'");
$res = run_pgferry([ 'cutover', @conn ], 60);
is($res->{rc}, 6, 'a prepared transaction on the source: exit 6');
like($res->{stderr},
	qr/source: database "postgres" has prepared transaction 'pending_note', which could still commit after the database is read-only/,
	'a prepared transaction: it is named');
like($res->{stderr}, qr/HINT:  finish it first: COMMIT PREPARED 'pending_note' or ROLLBACK PREPARED 'pending_note'/,
	'a prepared transaction: the fix names it');
ok(source_writable(), 'a prepared transaction: the source was never made read-only');
$source->safe_psql('postgres', "ROLLBACK PREPARED 'pending_note'");

# --- given up: a session that does not end -----------------------------------------------

my $idle = $source->background_psql('postgres');
$idle->query_safe('SELECT 1');
$res = run_pgferry(
	[ 'cutover', @conn, '--wait-sessions', '--timeout', '2' ], 60);
is($res->{rc}, 1, '--wait-sessions with a session left open: exit 1');
like($res->{stderr}, qr/source: waiting for session \d+ \(user \w+, application "[^"]*", idle\)/,
	'--wait-sessions: the session waited for is named');
like($res->{stderr}, qr/1 session of database "postgres" opened before read-only is still open after 2 s/,
	'--wait-sessions: the reason to give up is given');
like($res->{stderr}, qr/stopped; the source takes writes again/,
	'--wait-sessions: the cutover says the source is writable again');
ok(source_writable(), '--wait-sessions: the source is writable again');
ok(scalar(() = $idle->query('SELECT 2') =~ /2/), 'the session waited for was left alone');
$idle->quit;

# --- given up: the last LSN not applied within --timeout ----------------------------------

# The gate passes; while the cutover waits (--wait-sessions) for a session
# opened before read-only, the applier is stopped (SIGSTOP): the source's
# last LSN is not applied within --timeout, and the source takes writes
# again.
my $applier = $follow->{harness}{KIDS}[0]{PID};
$idle = $source->background_psql('postgres');
$idle->query_safe('SELECT 1');
my $cutover = start_program(
	[ $ENV{PGFERRY} // 'pgferry', 'cutover', @conn, '--wait-sessions', '--timeout', '15' ]);
ok( wait_until(
		sub {
			return $source->safe_psql('postgres', q{
				SELECT count(*) FROM pg_db_role_setting d
				JOIN pg_database b ON b.oid = d.setdatabase
				WHERE b.datname = current_database()
				  AND 'default_transaction_read_only=on' = ANY (d.setconfig)}) eq '1';
		},
		60),
	'the cutover passes its gate and makes the source read-only');
kill 'STOP', $applier;
$idle->quit;
$res = finish_program($cutover, undef, 120);
kill 'CONT', $applier;
is($res->{rc}, 1, 'the last LSN not applied within --timeout: exit 1');
like($res->{stderr},
	qr{target: the source's last LSN [0-9A-F]+/[0-9A-F]+ was not applied within --timeout 15 s},
	'the last LSN not applied: the LSN is named');
like($res->{stderr}, qr/stopped; the source takes writes again/,
	'the last LSN not applied: the cutover says the source is writable again');
ok(source_writable(), 'the last LSN not applied: the source is writable again');

# --- the switch, under load ------------------------------------------------------------------

my $script = q{
\set aid random(1, 200)
\set delta random(1, 100)
BEGIN;
UPDATE accounts SET balance = balance + :delta WHERE id = :aid;
INSERT INTO events (account, amount) VALUES (:aid, :delta);
INSERT INTO accounts (owner) VALUES ('new');
INSERT INTO notes VALUES ('note ' || :aid);
SELECT nextval('invoice_no');
END;
};
my $bench = start_pgbench_script($source, 'postgres', $script, '-c', '2',
	'-j', '2', '-T', '30');
ok( wait_until(
		sub { $source->safe_psql('postgres', 'SELECT count(*) FROM notes') > 500 },
		30),
	'the workload writes on the source');

# status of a target that pgferry follow alone writes to (no migration)
$res = run_pgferry([ 'status', @conn, '--slot', 'ferry' ], 60);
is($res->{rc}, 0, 'status of a follow-only target: exit 0');
like($res->{stdout},
	qr/^follow "ferry":\n  apply: +source transactions applied up to [0-9A-F]+\/[0-9A-F]+ .*\n +lag /m,
	'status of a follow-only target: what is applied, and the lag');

my $open = $source->background_psql('postgres', on_error_stop => 0);
$open->query_safe("BEGIN");
$open->query_safe("INSERT INTO accounts (owner) VALUES ('uncommitted')");

$res = run_pgferry([ 'cutover', @conn, '--timeout', '60', '--refresh-matviews=after' ],
	120);
is($res->{rc}, 0, 'cutover under load: exit 0')
  or diag($res->{stderr});
like($res->{stdout},
	qr/^cutover: the target is ready for writes; read-only window \d+\.\d+ s /m,
	'cutover: the read-only window is printed when the target is handed over');
like($res->{stdout}, qr/^  read-only window +\d+\.\d+ s\n(    .*\n)+  after the window/m,
	'cutover: the hand-over report breaks the window into its steps');
like($res->{stdout}, qr/^    sequences +\d+\.\d+ s  5 sequences set$/m,
	'cutover: the report counts the sequences set');
like($res->{stderr},
	qr/REFRESH MATERIALIZED VIEW public\.balances .*\n(.*\n)*.*read-only/,
	'cutover: materialized views are refreshed before the window');
like($res->{stderr},
	qr/cutover: target ready: .*\n(.*\n)*.*REFRESH MATERIALIZED VIEW CONCURRENTLY public\.rich_count/,
	'--refresh-matviews=after: again after the window, CONCURRENTLY where a unique index allows');
my ($inside) = $res->{stderr} =~ /cutover: read-only: (.*)cutover: target ready: /s;
ok(defined $inside && $inside !~ /REFRESH/,
	'cutover: no materialized view is refreshed inside the window');
my @terminated = $res->{stderr} =~ /source: ended session \d+ \(user \w+/g;
cmp_ok(scalar(@terminated), '>=', 3,
	'cutover: the sessions open on the source (pgbench\'s two, the open '
	  . 'transaction) are terminated');
like($res->{stderr}, qr/cutover: applied: the target has applied the source up to /,
	'cutover: waits until the target has applied the last LSN');
like($res->{stdout}, qr/^verify: 3 tables, 3 equal, 0 different/m,
	'cutover: the final check of row counts passes');
stop_pgbench($bench, 1);

my ($rc, $out, $err) = $source->psql('postgres',
	"INSERT INTO accounts (owner) VALUES ('after cutover')");
isnt($rc, 0, 'the source refuses an INSERT after cutover');
like($err, qr/cannot execute INSERT in a read-only transaction/,
	'the source refuses it as read-only');
($rc, $out, $err) = $source->psql('postgres', 'SELECT nextval(\'invoice_no\')');
like($err, qr/read-only transaction/, 'the source refuses nextval() too');

$open->quit;
is($target->safe_psql('postgres',
		"SELECT count(*) FROM accounts WHERE owner = 'uncommitted'"),
	'0', 'the transaction left open on the source did not reach the target');

tables_match($source, 'postgres', $target, 'postgres', 'after cutover');

# "name last_value is_called" for every sequence, read from the sequences
sub sequences
{
	my ($node) = @_;
	return join(', ',
		map { "$_ " . $node->safe_psql('postgres',
				"SELECT last_value || ' ' || is_called FROM $_") }
		  qw(accounts_id_seq events_id_seq invoice_no never_called set_not_called));
}
my $source_sequences = sequences($source);
is(sequences($target), $source_sequences,
	"every sequence has the source's value and is_called ($source_sequences)");
like($source_sequences, qr/never_called 42 false/, 'a sequence never called stays so');
like($source_sequences, qr/set_not_called 500 false/, 'setval(.., false) is kept');

my $next = $target->safe_psql('postgres', q{
INSERT INTO accounts (owner) VALUES ('on the target') RETURNING id;
INSERT INTO events (account, amount) VALUES (1, 1) RETURNING id;
});
my ($account_id, $event_id) = split /\n/, $next;
# (rolled back inserts used sequence values too: next is last_value + 1)
is($account_id,
	$source->safe_psql('postgres', 'SELECT last_value + 1 FROM accounts_id_seq'),
	'an insert on the target takes the serial id after the source\'s last');
cmp_ok($account_id, '>',
	$source->safe_psql('postgres', 'SELECT max(id) FROM accounts'),
	'the serial id does not collide');
is($event_id,
	$source->safe_psql('postgres', 'SELECT last_value + 1 FROM events_id_seq'),
	'an insert on the target takes the identity id after the source\'s last');
cmp_ok($event_id, '>', $source->safe_psql('postgres', 'SELECT max(id) FROM events'),
	'the identity id does not collide');

is($target->safe_psql('postgres', 'SELECT accounts, total FROM balances'),
	$source->safe_psql('postgres',
		"SELECT count(*), sum(balance) FROM accounts"),
	'materialized view refreshed on the target');
is($target->safe_psql('postgres', 'SELECT doubled FROM balances_doubled'),
	$source->safe_psql('postgres', "SELECT 2 * sum(balance) FROM accounts"),
	'a materialized view over another one is refreshed after it');
is($target->safe_psql('postgres', 'SELECT n FROM rich_count'),
	$source->safe_psql('postgres', "SELECT count(*) FROM accounts WHERE balance > 0"),
	'a materialized view over a plain view is refreshed');
is($target->safe_psql('postgres',
		"SELECT relispopulated FROM pg_class WHERE relname = 'never_filled'"),
	'f', 'a materialized view not populated on the source is left alone');

# A second cutover, once the target has taken writes, must not move its
# sequences back: they would hand out the new rows' keys again.  (Its
# check would find the target's new rows: --check none.)
# (--refresh-matviews none: the target's views keep what they showed.)
$res = run_pgferry(
	[ 'cutover', @conn, '--timeout', '60', '--check', 'none', '--refresh-matviews', 'none' ],
	120);
is($res->{rc}, 0, 'a second cutover, --check none: exit 0');
unlike($res->{stderr}, qr/REFRESH/, '--refresh-matviews none: no view is refreshed');
is($target->safe_psql('postgres', 'SELECT accounts FROM balances'),
	$source->safe_psql('postgres', 'SELECT count(*) FROM accounts'),
	'--refresh-matviews none: the view still counts the source\'s rows, not the target\'s new one');
like($res->{stderr},
	qr/sequence public\.accounts_id_seq kept at $account_id, past the source's \d+: the target has taken writes/,
	'a second cutover keeps a sequence the target has moved past the source\'s');
is($target->safe_psql('postgres', "INSERT INTO accounts (owner) VALUES ('next') RETURNING id"),
	$account_id + 1, 'the target\'s next insert after a second cutover takes the next id');
$target->safe_psql('postgres', "DELETE FROM accounts WHERE owner IN ('on the target', 'next');
	DELETE FROM events WHERE id = $event_id");

$res = run_pgferry([ 'verify', @conn, '--exclude-tables', 'public.accounts, public.events' ], 60);
is($res->{rc}, 0, 'verify after cutover: exit 0');
like($res->{stdout}, qr/^table public\.notes: equal, \d+ rows/m,
	'verify after cutover: equal, in one exact pass');

# --- a difference found after the window ----------------------------------------------

# A value changed on the target only: the row counts are equal, --check
# rows compares every row and names the key.
my $event = $target->safe_psql('postgres',
	'UPDATE events SET amount = amount + 1 WHERE id = (SELECT min(id) FROM events) RETURNING id');
$res = run_pgferry([ 'cutover', @conn, '--timeout', '60', '--check', 'rows' ], 120);
is($res->{rc}, 5, 'a value changed on the target: --check rows exits 5');
like($res->{stdout}, qr/^table public\.events: DIFFERENT, source (\d+) rows, target \1 rows\n  changed: \(id\)=\($event\)$/m,
	'--check rows names the table and the changed key');
like($res->{stdout}, qr/^    rows compared +\d+\.\d+ s  DIFFERENT \(see above\)$/m,
	'--check rows: the report says the rows were compared after the window');
$res = run_pgferry([ 'cutover', '--release-target', '--target', $target->connstr('postgres') ], 60);
is($res->{rc}, 0, 'cutover --release-target: exit 0');
$target->safe_psql('postgres', "UPDATE events SET amount = amount - 1 WHERE id = $event");

my $missing = $target->safe_psql('postgres',
	"DELETE FROM notes WHERE ctid = (SELECT min(ctid) FROM notes) RETURNING body");
$res = run_pgferry([ 'cutover', @conn, '--timeout', '60' ], 120);
is($res->{rc}, 5, 'a row missing on the target: the check after the window exits 5');
like($res->{stdout}, qr/^table public\.notes: DIFFERENT, source (\d+) rows, target \d+ rows/m,
	'the check names the table');
like($res->{stderr}, qr/the target database "postgres" is left read-only, and the source stays read-only/,
	'the target is left read-only, and says so');
like($res->{stderr}, qr/HINT:  decide: keep the target as it is with pgferry cutover --release-target/,
	'the operator is told how to decide');
($rc, $out, $err) = $target->psql('postgres', "INSERT INTO notes VALUES ('on the target')");
like($err, qr/read-only transaction/, 'the target refuses writes');
$res = run_pgferry([ 'finish', @conn ], 60);
is($res->{rc}, 6, 'finish while the target is left read-only: exit 6');
like($res->{stderr}, qr/target: the database is left read-only/, 'finish says why');
$res = run_pgferry([ 'cutover', '--release-target', '--target', $target->connstr('postgres') ], 60);
is($res->{rc}, 0, 'cutover --release-target: exit 0');
is($target->psql('postgres', "INSERT INTO notes VALUES ('" . $missing . "')"), 0,
	'the target takes writes again');

$res = finish_follow($follow, 'TERM');
is($res->{rc}, 0, 'pgferry follow stops on SIGTERM');

# --- abort ----------------------------------------------------------------------------------

$res = run_pgferry([ 'cutover', '--abort', '--source', $source->connstr('postgres') ], 60);
is($res->{rc}, 0, 'cutover --abort: exit 0');
like($res->{stderr}, qr/ALTER DATABASE "postgres" RESET default_transaction_read_only/,
	'cutover --abort: says what it does');
ok(source_writable(), 'cutover --abort: the source takes writes again');

$res = run_pgferry([ 'finish', @conn ], 60);
is($res->{rc}, 6, 'finish after cutover --abort: exit 6');
like($res->{stderr}, qr/source: database "postgres" takes writes again since the cutover/,
	'finish after cutover --abort: says why');
is($source->safe_psql('postgres', "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'ferry'"),
	'1', 'finish after cutover --abort: the slot is still there');

done_testing();
