
# Any protobuf implementation reads a pgferry stream with proto/pgferry.proto
# alone: every frame the plugin really writes is decoded by the reference
# compiler (`protoc --decode=pgferry.Frame`, Debian's protobuf-compiler) and
# the text it prints is checked, field by field, frame kind by frame kind.
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;

my $source = source_node('source');
$source->safe_psql('postgres', q{
CREATE TABLE items (id int PRIMARY KEY, name text, big text, note varchar(10));
ALTER TABLE items ALTER COLUMN big SET STORAGE EXTERNAL;
});
create_slot($source, 'postgres', 'wire');
# The non-transactional message is followed by commits, which flush it to
# where the decoding functions read.
$source->safe_psql('postgres', q{
INSERT INTO items VALUES (42, 'hello', repeat('x', 10000), NULL);
UPDATE items SET name = 'bye' WHERE id = 42;
SELECT pg_logical_emit_message(false, 'demo', 'payload');
DELETE FROM items WHERE id = 42;
TRUNCATE items;
});

my @frames = split /\n/, $source->safe_psql('postgres', q{
SELECT encode(data, 'hex')
FROM pg_logical_slot_peek_binary_changes('wire', NULL, NULL, 'binary', 'on')
});

# Decodes one frame (hex) with protoc; returns its text form.
sub protoc_decode
{
	my ($hex) = @_;
	my ($out, $err) = ('', '');
	my $bytes = pack('H*', $hex);
	IPC::Run::run(
		[ 'protoc', '--decode=pgferry.Frame', '-I', 'proto', 'proto/pgferry.proto' ],
		'<', \$bytes, '>', \$out, '2>', \$err)
	  or die "protoc failed: $err";
	return $out;
}

my @decoded = map { protoc_decode($_) } @frames;
my %kinds;
for my $text (@decoded)
{
	$kinds{$1}++ if $text =~ /^(\w+) \{/m;
}
is_deeply(
	\%kinds,
	{
		startup => 1, begin => 4, commit => 4, relation => 2,
		insert => 1, update => 1, delete => 1, truncate => 1, message => 1
	},
	'protoc reads every frame, of every kind the workload makes');

my ($startup) = grep { /^startup \{/m } @decoded;
like($startup, qr/^proto_version: 1$/m, 'startup: protocol version');
like($startup, qr/server_version_num: 15\d{4}/, 'startup: server version');
like($startup, qr/server_encoding: "UTF8"/, 'startup: server encoding');
like($startup, qr/database: "postgres"/, 'startup: database');
like($startup, qr/binary: true/, 'startup: binary mode');

my ($relation) = grep { /^relation \{/m } @decoded;
like($relation, qr/schema: "public"\n\s+name: "items"/, 'relation: schema and name');
like($relation,
	qr/columns \{\n\s+name: "id"\n\s+type_oid: 23\n\s+type_schema: "pg_catalog"\n\s+type_name: "int4"\n\s+typmod: -1\n\s+key: true/,
	'relation: the key column, its type and typmod');
like($relation, qr/name: "note"\n\s+type_oid: 1043\n[^}]*typmod: 14/,
	'relation: varchar(10) has typmod 14');

my ($insert) = grep { /^insert \{/m } @decoded;
like($insert, qr/values \{\n\s+binary: "\\000\\000\\000\*"\n\s+\}/,
	'insert: int4 42 in its binary send form');
like($insert, qr/values \{\n\s+binary: "hello"\n\s+\}/, 'insert: text value');
like($insert, qr/values \{\n\s+null: true\n\s+\}/, 'insert: NULL');

my ($update) = grep { /^update \{/m } @decoded;
like($update, qr/values \{\n\s+binary: "bye"\n\s+\}/, 'update: the new value');
like($update, qr/values \{\n\s+unchanged_toast: true\n\s+\}/,
	'update: the untouched TOASTed column is marked unchanged, not sent');
unlike($update, qr/xxxxxxxx/, 'update: the large value is not in the frame');

my ($delete) = grep { /^delete \{/m } @decoded;
like($delete, qr/old_kind: KEY/, 'delete: old key');

my ($truncate) = grep { /^truncate \{/m } @decoded;
like($truncate, qr/cascade: false\n\s+restart_identity: false/, 'truncate: flags');

my ($message) = grep { /^message \{/m } @decoded;
like($message, qr/^proto_version: 1$/m,
	'non-transactional message: carries the protocol version');
like($message, qr/transactional: false[\s\S]*prefix: "demo"\n\s+content: "payload"/,
	'message: prefix and content');

done_testing();
