
# Text in any encoding the source accepts (docs/design.md, promise 5): source
# databases in LATIN1 (single byte) and EUC_JP (multibyte, not UTF-8),
# applied into UTF8 databases with binary and with text values, and LATIN1
# into LATIN1.  Compared as UTF-8 on both sides: every character arrives as
# the same character, whatever bytes encode it.
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use FerryMigrate;
use PostgreSQL::Test::Utils;
use Test::More;

my $source = source_node('source');
my $target = target_node('target');

my $schema = q{
CREATE TABLE enc (id int PRIMARY KEY, t text, v varchar(12), c char(3),
	nm name, j json, jb jsonb, a text[]);
};

sub create_encoded_database
{
	my ($node, $db, $encoding) = @_;
	$node->safe_psql('postgres',
		"CREATE DATABASE $db ENCODING '$encoding' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
	);
	$node->safe_psql($db, $schema);
}

# The workload is written in UTF-8 (client_encoding) and stored in the
# database's encoding.
my %workload = (
	latin1 => q{
SET client_encoding = 'UTF8';
INSERT INTO enc VALUES
	(1, 'café crème brûlée', 'naïve façade', 'ÿßÆ', 'größe_½',
		'{"clé": "valeur ¿?"}', '{"clé": "«valeur»"}', '{"à", "b é", NULL}'),
	(2, E'non\u00a0breaking, ¡olé!', 'þorn', 'µ°±', 'x', '"ø"', '"ø"', '{}'),
	(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
UPDATE enc SET t = t || ' ¶', a = a || 'ü'::text WHERE id = 1;
DELETE FROM enc WHERE id = 3;
},
	euc_jp => q{
SET client_encoding = 'UTF8';
INSERT INTO enc VALUES
	(1, '日本語のテキスト、全角ＡＢＣ', 'カタカナ', '漢字', '名前',
		'{"キー": "値"}', '{"キー": ["値", 1]}', '{"一", "二 三", NULL}'),
	(2, '半角ｶﾅ ①②', 'ひらがな', 'ｱｲ', 'y', '"〒"', '"〒"', '{}'),
	(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
UPDATE enc SET t = t || '・追加', a = a || '四'::text WHERE id = 1;
DELETE FROM enc WHERE id = 3;
});

create_encoded_database($source, 'latin1', 'LATIN1');
create_encoded_database($source, 'euc_jp', 'EUC_JP');

# [ source database, target database, its encoding, options ]
my @runs = (
	[ 'latin1', 'latin1_utf8_bin',  'UTF8',   ['--binary'] ],
	[ 'latin1', 'latin1_utf8_text', 'UTF8',   ['--no-binary'] ],
	[ 'latin1', 'latin1_latin1',    'LATIN1', ['--binary'] ],
	[ 'euc_jp', 'euc_jp_utf8_bin',  'UTF8',   ['--binary'] ],
	[ 'euc_jp', 'euc_jp_utf8_text', 'UTF8',   ['--no-binary'] ]);

foreach my $run (@runs)
{
	my ($sdb, $tdb, $encoding) = @$run;
	create_encoded_database($target, $tdb, $encoding);
	create_slot($source, $sdb, $tdb);
}
$source->safe_psql($_, $workload{$_}) for keys %workload;

foreach my $run (@runs)
{
	my ($sdb, $tdb, $encoding, $args) = @$run;
	my $name = "$sdb into $encoding, @$args";
	follow_ok(
		$source, $target, $name,
		slot => $tdb,
		source_db => $sdb,
		target_db => $tdb,
		args => $args);
	tables_match($source, $sdb, $target, $tdb, $name);
}

# The same three characters: one byte each in LATIN1, two in UTF-8.
is($source->safe_psql('latin1', 'SELECT octet_length(c) FROM enc WHERE id = 1'),
	3, 'LATIN1 source stores single-byte characters');
is($target->safe_psql('latin1_utf8_bin', 'SELECT octet_length(c) FROM enc WHERE id = 1'),
	6, 'UTF8 target stores them converted');

# A UTF8 source into a LATIN1 target, which cannot hold the euro sign:
# preflight warns; the stream stops naming the table, the column and the
# key of the row, and the way on; so does the copy of migrate.
create_encoded_database($source, 'utf8src', 'UTF8');
create_encoded_database($target, 'utf8_latin1', 'LATIN1');
my $res = preflight($source, 'utf8src', $target, 'utf8_latin1');
like($res->{stdout},
	qr/^WARN  encoding: the target database's LATIN1 may not hold every character of the source's UTF8.*\n\s+fix: create the target database with the source's encoding:\n\s+CREATE DATABASE "utf8_latin1" ENCODING 'UTF8' TEMPLATE template0;/m,
	'UTF8 into LATIN1: preflight warns, with the fix');
like(preflight($source, 'latin1', $target, 'latin1_utf8_bin')->{stdout},
	qr/^OK    encoding: source LATIN1, target UTF8/m,
	'LATIN1 into UTF8: preflight says it is fine');

create_slot($source, 'utf8src', 'utf8_latin1');
$source->safe_psql('utf8src', q{
SET client_encoding = 'UTF8';
INSERT INTO enc (id, t, v) VALUES (1, 'café', 'ok'), (2, 'prix', '5 €'), (3, 'ok', 'ok');
});
foreach my $args (['--binary'], ['--no-binary'])
{
	follow_fails($source, $target, "UTF8 into LATIN1, @$args", 4,
		[
			qr/has no equivalent in encoding "LATIN1"/,
			qr/DETAIL:  the value of column "v" of the row with key \(id=2\) of table "public"\."enc"/,
			qr/HINT:  the target database's encoding LATIN1 cannot hold every character of the source's UTF8: create the target database with ENCODING 'UTF8'/
		],
		slot => 'utf8_latin1', source_db => 'utf8src', target_db => 'utf8_latin1',
		args => $args);
}
is($target->safe_psql('utf8_latin1', 'SELECT count(*) FROM enc'), 0,
	'UTF8 into LATIN1: nothing of the failed transaction applied');

# The copy: binary (built-in types: the target names the column) and text
# (a composite type: only the line), each table alone; the row is named by
# its key.
$source->safe_psql('utf8src', q{
SET client_encoding = 'UTF8';
CREATE TYPE price AS (amount int, label text);
CREATE TABLE enc_text (code text, n int, p price, PRIMARY KEY (code, n));
INSERT INTO enc_text VALUES ('a', 1, (1, 'ok')), ('b', 2, (2, 'ok')), ('b', 3, (3, '3 €')),
	('c', 4, (4, 'ok'));
});
foreach my $case (
	[ 'enc', 'binary', qr/DETAIL:  at COPY enc, line 2, column v \(of range 1 of 1 of the table\)\n.*DETAIL:  the value of column "v" of the row with key \(id=2\) of table public\.enc\n/ ],
	[ 'enc_text', 'text', qr/DETAIL:  at COPY enc_text, line 3\b[^\n]*\(of range 1 of 1 of the table\)\n.*DETAIL:  the value of the row with key \(code=b, n=3\) of table public\.enc_text\n/ ])
{
	my ($table, $format, $detail) = @$case;
	create_encoded_database($target, "copy_$table", 'LATIN1');
	$target->safe_psql("copy_$table", 'DROP TABLE enc');
	$res = migrate($source, 'utf8src', $target, "copy_$table", '--slot', "copy_$table",
		'--include-tables', "public.$table", '--endpos', current_lsn($source));
	is($res->{rc}, 4, "UTF8 into LATIN1, $format copy: exit 4");
	like($res->{stderr}, qr/could not write rows of public\.$table: .*has no equivalent in encoding "LATIN1"/,
		"UTF8 into LATIN1, $format copy: the table named");
	like($res->{stderr}, $detail, "UTF8 into LATIN1, $format copy: the line, and the row by its key");
	like($res->{stderr}, qr/HINT:  the target database's encoding LATIN1 cannot hold every character of the source's UTF8/,
		"UTF8 into LATIN1, $format copy: the way on");
	$source->safe_psql('postgres', "SELECT pg_drop_replication_slot('copy_$table')");
}

done_testing();
