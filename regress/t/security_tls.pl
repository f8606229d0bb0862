
# TLS to both servers: pgferry follow with sslmode=verify-full to a source
# and a target that accept TCP connections only over TLS (a throwaway CA and
# server certificates for localhost, made here with openssl, on loopback)
# applies the source's rows; with another CA the certificate is refused
# with a clear message naming the server, and nothing is applied.
use strict;
use warnings;

use lib 'regress/t';
use Ferry;
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;

my $dir = PostgreSQL::Test::Utils::tempdir();

sub openssl
{
	my @args = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'openssl', @args ], '<', \'', '>', \$out, '2>', \$err)
	  or die "openssl @args: $err";
}

# A CA, and another one the servers' certificates do not come from.
foreach my $ca ('ca', 'other_ca')
{
	openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
		'-subj', "/CN=pgferry test $ca", '-keyout', "$dir/$ca.key", '-out', "$dir/$ca.crt");
}
open my $ext, '>', "$dir/san.ext" or die;
print $ext "subjectAltName = DNS:localhost, IP:127.0.0.1\n";
close $ext;

# A started server reachable on 127.0.0.1 over TLS only.
sub tls_node
{
	my ($node) = @_;
	my $name = $node->name;
	openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost',
		'-keyout', "$dir/$name.key", '-out', "$dir/$name.csr");
	openssl('x509', '-req', '-in', "$dir/$name.csr", '-CA', "$dir/ca.crt",
		'-CAkey', "$dir/ca.key", '-CAcreateserial', '-days', '2',
		'-extfile', "$dir/san.ext", '-out', "$dir/$name.crt");
	chmod 0600, "$dir/$name.key";
	$node->append_conf('postgresql.conf', <<"EOC");
listen_addresses = '127.0.0.1'
ssl = on
ssl_cert_file = '$dir/$name.crt'
ssl_key_file = '$dir/$name.key'
EOC
	# ahead of initdb's lines, which trust TCP connections without TLS
	my $hba = $node->data_dir . '/pg_hba.conf';
	my $rules = slurp_file($hba);
	open my $fh, '>', $hba or die "$hba: $!";
	print $fh <<"EOC";
hostnossl all all 0.0.0.0/0 reject
hostnossl replication all 0.0.0.0/0 reject
hostssl all all 127.0.0.1/32 trust
hostssl replication all 127.0.0.1/32 trust
$rules
EOC
	close $fh;
	$node->restart;
	return $node;
}

my $source = tls_node(source_node('source'));
my $target = tls_node(target_node('target'));
psql_both($source, 'postgres', $target, 'postgres',
	'CREATE TABLE items (id int PRIMARY KEY, v text)');
create_slot($source, 'postgres', 'tls');
$source->safe_psql('postgres',
	"INSERT INTO items SELECT i, 'item ' || i FROM generate_series(1, 100) i");

sub tls_conn
{
	my ($node, $ca, $sslmode) = @_;
	return sprintf('host=localhost hostaddr=127.0.0.1 port=%d dbname=postgres '
		  . 'sslmode=%s sslrootcert=%s/%s.crt', $node->port, $sslmode // 'verify-full', $dir, $ca);
}

# pgferry follow up to the source's current position.
sub tls_follow
{
	my ($sconn, $tconn) = @_;
	return run_pgferry([ 'follow', '--source', $sconn, '--target', $tconn,
		'--slot', 'tls', '--endpos', current_lsn($source) ]);
}

my $res = tls_follow(tls_conn($source, 'other_ca'), tls_conn($target, 'ca'));
is($res->{rc}, 3, 'a source certificate from another CA: exit 3 (connection)');
like($res->{stderr}, qr/certificate verify failed/, 'the error says the certificate failed');
like($res->{stderr}, qr/source/, 'the error names the source');
is($target->safe_psql('postgres', 'SELECT count(*) FROM items'), '0', 'nothing applied');

$res = tls_follow(tls_conn($source, 'ca'), tls_conn($target, 'other_ca'));
is($res->{rc}, 3, 'a target certificate from another CA: exit 3 (connection)');
like($res->{stderr}, qr/certificate verify failed/, 'the error says the certificate failed');
like($res->{stderr}, qr/target/, 'the error names the target');

$res = tls_follow(tls_conn($source, 'ca', 'disable'), tls_conn($target, 'ca'));
is($res->{rc}, 3, 'without TLS: exit 3 (connection)');
like($res->{stderr}, qr/no encryption/, 'without TLS the source refuses the connection');

$res = tls_follow(tls_conn($source, 'ca'), tls_conn($target, 'ca'));
is($res->{rc}, 0, 'sslmode=verify-full to both servers: exit 0') or diag($res->{stderr});
tables_match($source, 'postgres', $target, 'postgres', 'over TLS');
like(slurp_file($source->logfile),
	qr/replication connection authorized: .*SSL enabled/,
	'the source saw the replication connection over TLS');
like(slurp_file($target->logfile), qr/connection authorized: .*SSL enabled/,
	'the target saw a connection over TLS');

done_testing();
