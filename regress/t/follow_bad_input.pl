
# Clear failure (docs/design.md, promise 6).  Each bad input stops pgferry follow with
# exit code 4 and a message naming the object; the slot is not confirmed
# past the failing transaction and nothing after it is applied; once the
# target is fixed the same slot resumes and the target ends equal to the
# source.  Covered: a missing target table, a missing target column, a
# column of a type that cannot read the binary values, a value the target
# column rejects (text values), a permission denied to a non-superuser
# target role.  A compatible type change (int4 to int8, varchar to text) is
# not an error, in binary or text form.  Usage errors exit 2, connection
# failures 3.
#
# Frames the real plugin never writes come through FrameProxy (a proxy
# between the applier and the source that rewrites them): a Begin frame of
# an unknown protocol version, a corrupt (truncated) Insert frame, a row of
# a relation no Relation frame described, a row with fewer values than its
# relation has columns, a frame of a kind the format does not have, and a
# group of frames whose last frame is cut short.
#
# An update under REPLICA IDENTITY NOTHING is in follow_keys_identity.pl.
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use PostgreSQL::Test::Utils;
use Test::More;

my $source = source_node('source');
my $target = target_node('target');

# --- usage errors ------------------------------------------------------------

my $res = follow($source, $target, slot => 'ferry', args => ['--no-such-option']);
is($res->{rc}, 2, 'unknown option: exit 2');
like($res->{stderr}, qr/no-such-option/, 'unknown option: named in the message');

$res = run_pgferry([ 'follow', '--source', $source->connstr('postgres') ]);
is($res->{rc}, 2, 'missing --target and --slot: exit 2');
like($res->{stderr}, qr/--(target|slot)/, 'missing --target and --slot: option named');

# 0/0 would read as no --endpos at all: following until stopped
$res = follow($source, $target, slot => 'ferry', endpos => '0/0');
is($res->{rc}, 2, '--endpos 0/0: exit 2');
like($res->{stderr}, qr{--endpos: "0/0" is not a WAL position}, '--endpos 0/0: refused, named');

# --- connection errors, bad target schema (fixed, resumed) --------------------

psql_both(
	$source, 'postgres', $target, 'postgres', q{
CREATE TABLE ok_before (id int PRIMARY KEY, v text);
CREATE TABLE ok_after (id int PRIMARY KEY, v text);
});
$source->safe_psql(
	'postgres', q{
CREATE TABLE only_on_source (id int PRIMARY KEY, v text);
CREATE TABLE miss_col (id int PRIMARY KEY, a int, extra text);
CREATE TABLE bad_type (id int PRIMARY KEY, code text);
CREATE TABLE bad_value (id int PRIMARY KEY, code text);
CREATE TABLE widened (id int PRIMARY KEY, n int4, s varchar(10), a int4[]);
});
$target->safe_psql(
	'postgres', q{
CREATE TABLE miss_col (id int PRIMARY KEY, a int);
CREATE TABLE bad_type (id int PRIMARY KEY, code int);
CREATE TABLE bad_value (id int PRIMARY KEY, code int);
CREATE TABLE widened (id int PRIMARY KEY, n int8, s text, a int8[]);
});
create_slot($source, 'postgres', 'ferry');

# A server that cannot be reached (the slot exists, so only the connection
# can fail).
my $down = PostgreSQL::Test::Cluster::get_free_port();
$res = run_pgferry(
	[
		'follow',
		'--source', $source->connstr('postgres'),
		'--target', "host=127.0.0.1 port=$down dbname=postgres connect_timeout=5",
		'--slot', 'ferry'
	],
	60);
is($res->{rc}, 3, 'target not reachable: exit 3');
like($res->{stderr}, qr/target/i, 'target not reachable: says which connection failed');

$res = run_pgferry(
	[
		'follow',
		'--source', "host=127.0.0.1 port=$down dbname=postgres connect_timeout=5",
		'--target', $target->connstr('postgres'),
		'--slot', 'ferry'
	],
	60);
is($res->{rc}, 3, 'source not reachable: exit 3');
like($res->{stderr}, qr/source/i, 'source not reachable: says which connection failed');

# A wrong password: said to be one, with where passwords come from.
$target->safe_psql('postgres',
	"CREATE ROLE pw LOGIN PASSWORD 'right'");
my $hba = $target->data_dir . '/pg_hba.conf';
my $hba_before = slurp_file($hba);
open(my $fh, '>', $hba) or die "pg_hba.conf: $!";
print $fh "local all pw scram-sha-256\nhost all pw 127.0.0.1/32 scram-sha-256\n$hba_before";
close $fh;
$target->reload;
$res = run_pgferry(
	[
		'follow', '--source', $source->connstr('postgres'),
		'--target', $target->connstr('postgres') . ' user=pw password=wrong',
		'--slot', 'ferry'
	]);
is($res->{rc}, 3, 'wrong password: exit 3');
like($res->{stderr},
	qr/HINT:  authentication failed for role "pw" on the target server: give its password with password= in the connection string, PGPASSWORD, or a line of the password file ~\/\.pgpass/,
	'wrong password: said, with where passwords come from');
unlike($res->{stderr}, qr/wrong/, 'wrong password: not printed');

$res = follow($source, $target, slot => 'no_such_slot');
isnt($res->{rc}, 0, 'slot that does not exist: fails');
like($res->{stderr}, qr/no_such_slot/, 'slot that does not exist: slot named');

# Runs the good / bad / good transactions of one case, expects the failure,
# checks the slot and the target, applies $fix on the target, resumes and
# compares the case's table (the other cases' tables are not fixed yet).
sub bad_input
{
	my (%c) = @_;
	my $name = $c{name};
	my $slot = $c{slot} // 'ferry';
	my $db = $c{db} // 'postgres';

	$source->safe_psql($db, "INSERT INTO ok_before VALUES ($c{key}, 'before $name')");
	my $before = current_lsn($source);
	$source->safe_psql($db, $c{bad});
	$source->safe_psql($db, "INSERT INTO ok_after VALUES ($c{key}, 'after $name')");

	my $res = follow_fails($source, $target, $name, 4, $c{patterns},
		slot => $slot, source_db => $db, target_db => $db,
		target_user => $c{user}, args => $c{args});
	ok(lsn_int(slot_confirmed_flush($source, $slot)) <= lsn_int($before),
		"$name: slot not confirmed past the failing transaction");
	# A target transaction that failed is not counted as applied.
	if ($res->{stderr} =~ m{applied \d+ transactions? up to (\S+)})
	{
		ok(lsn_int($1) <= lsn_int($before),
			"$name: summary counts only what committed (up to $1)");
	}
	else
	{
		like($res->{stderr}, qr/applied no transaction/,
			"$name: summary counts no transaction applied");
	}
	is($target->safe_psql($db, "SELECT count(*) FROM ok_after WHERE id = $c{key}"),
		0, "$name: nothing after the failing transaction applied");

	$target->safe_psql($db, $c{fix});
	follow_ok($source, $target, "$name, fixed", slot => $slot,
		source_db => $db, target_db => $db, target_user => $c{user},
		args => $c{args});
	tables_match($source, $db, $target, $db, "$name, fixed",
		only => [ 'public.ok_before', 'public.ok_after', $c{table} ]);
}

bad_input(
	name => 'missing target table',
	key => 1,
	table => 'public.only_on_source',
	bad => "INSERT INTO only_on_source VALUES (1, 'x')",
	patterns => [qr/only_on_source/],
	fix => 'CREATE TABLE only_on_source (id int PRIMARY KEY, v text)');

bad_input(
	name => 'missing target column',
	key => 2,
	table => 'public.miss_col',
	bad => "INSERT INTO miss_col VALUES (1, 1, 'extra value')",
	patterns => [ qr/miss_col/, qr/extra/ ],
	fix => 'ALTER TABLE miss_col ADD COLUMN extra text');

bad_input(
	name => 'column of an incompatible type',
	key => 3,
	table => 'public.bad_type',
	bad => "INSERT INTO bad_type VALUES (1, 'not a number')",
	patterns => [ qr/bad_type/, qr/code/ ],
	fix => 'ALTER TABLE bad_type ALTER COLUMN code TYPE text');

# Text values the target's type rejects: the target's own error, with the
# table named.
bad_input(
	name => 'value the target column rejects, text values',
	key => 4,
	table => 'public.bad_value',
	bad => "INSERT INTO bad_value VALUES (1, 'not a number')",
	patterns => [qr/bad_value/],
	fix => 'ALTER TABLE bad_value ALTER COLUMN code TYPE text',
	args => ['--no-binary']);

# A wider type on the target is what migrations are often for (int4 to
# int8); the target accepts the values whichever form they come in.
$source->safe_psql('postgres',
	"INSERT INTO widened VALUES (1, 2147483647, 'ten chars!', '{1,NULL,-2147483648}')");
follow_ok($source, $target, 'compatible wider target types, binary values',
	slot => 'ferry', args => ['--binary']);
$source->safe_psql('postgres',
	"INSERT INTO widened VALUES (2, -2147483648, '', '{}')");
follow_ok($source, $target, 'compatible wider target types, text values',
	slot => 'ferry', args => ['--no-binary']);
tables_match($source, 'postgres', $target, 'postgres',
	'compatible wider target types', only => ['public.widened']);

# Frames altered on their way: the applier must refuse them, not guess.  A
# slot of their own, so that the altered transaction is the first it sends.
# Each error names the WAL position of the frame it refuses.
my $at_lsn = qr{bad frame at WAL position (?!0/0\b)[0-9A-F]+/[0-9A-F]+};
foreach my $case (
	[	'version', 'frame of an unknown protocol version',
		[ qr/version/i, qr/99/, qr{bad frame at (?:the start of the decoding session|WAL position (?!0/0\b))} ]
	],
	[ 'corrupt', 'corrupt frame', [ qr/frame/i, $at_lsn ] ],
	[	'unknown_relation', 'row of a relation never described',
		[ qr/relation OID \d+, not described by a Relation frame/, $at_lsn ]
	],
	[	'columns', 'row with a value missing',
		[ qr/a row of table "public"\."ok_after" has 1 value; its Relation frame has 2 columns/,
			$at_lsn ]
	],
	[ 'unknown_kind', 'frame of an unknown kind', [ qr/unknown kind/, $at_lsn ] ],
	[	'cut_group', 'group of frames cut short',
		[	qr{the replication message at (?!0/0\b)[0-9A-F]+/[0-9A-F]+ ends inside a frame},
			qr/same pgferry version on both sides/
		]
	])
{
	my ($mode, $name, $patterns) = @$case;
	my $slot = "ferry_$mode";
	create_slot($source, 'postgres', $slot);
	my $before = current_lsn($source);
	$source->safe_psql('postgres', "INSERT INTO ok_after VALUES (10, '$name')");
	my ($proxy, $through) = start_frame_proxy($source, $mode, 'postgres');
	follow_fails($source, $target, $name, 4, $patterns,
		slot => $slot, source_conn => $through);
	$proxy->kill_kill;
	ok(lsn_int(slot_confirmed_flush($source, $slot)) <= lsn_int($before),
		"$name: slot not confirmed past the transaction");
	is($target->safe_psql('postgres', 'SELECT count(*) FROM ok_after WHERE id = 10'),
		0, "$name: its transaction not applied");
	follow_ok($source, $target, "$name, then unaltered", slot => $slot);
	is($target->safe_psql('postgres', 'SELECT v FROM ok_after WHERE id = 10'),
		$name, "$name, then unaltered: transaction applied");
	$target->safe_psql('postgres', 'DELETE FROM ok_after WHERE id = 10');
	$source->safe_psql('postgres', 'DELETE FROM ok_after WHERE id = 10');
}

# A source whose pgferry plugin is older than the applier refuses an option
# the applier sends (FrameProxy renames group_bytes on its way): the error
# says which, and what to install.
{
	my ($proxy, $through) = start_frame_proxy($source, 'old_plugin', 'postgres');
	follow_fails($source, $target, 'source plugin older than the applier', 1,
		[ qr/unrecognized pgferry option "group_bytez"/,
			qr/older than this applier: install the same pgferry version on the source/ ],
		slot => 'ferry', source_conn => $through);
	$proxy->kill_kill;
}

# A target role that is no superuser, as on managed services: it owns
# nothing, may create the pgferry schema, set session_replication_role and
# write ok_before and ok_after, but only read `locked`.
create_database($source, 'app');
create_database($target, 'app');
psql_both(
	$source, 'app', $target, 'app', q{
CREATE TABLE ok_before (id int PRIMARY KEY, v text);
CREATE TABLE ok_after (id int PRIMARY KEY, v text);
CREATE TABLE locked (id int PRIMARY KEY, v text);
});
$target->safe_psql(
	'app', q{
CREATE ROLE ferry_app LOGIN;
GRANT CONNECT, CREATE ON DATABASE app TO ferry_app;
GRANT SET ON PARAMETER session_replication_role TO ferry_app;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ok_before, ok_after TO ferry_app;
GRANT SELECT ON locked TO ferry_app;
});
create_slot($source, 'app', 'ferry_app');

bad_input(
	name => 'permission denied on a target table',
	key => 5,
	table => 'public.locked',
	slot => 'ferry_app',
	db => 'app',
	user => 'ferry_app',
	bad => "INSERT INTO locked VALUES (1, 'x')",
	patterns => [ qr/locked/, qr/permission denied/i ],
	fix => 'GRANT INSERT, UPDATE, DELETE ON locked TO ferry_app');

done_testing();
