
# FrameProxy: a TCP proxy in front of a server's unix socket that alters
# pgferry frames on their way to the applier, to feed it input the real
# plugin never writes:
#   version           every Begin frame claims protocol version 99;
#   corrupt           every Insert frame is cut in half (not valid protobuf);
#   unknown_relation  Relation frames are dropped: rows name a relation the
#                     applier was never told about;
#   columns           every Insert frame's row loses its last value;
#   unknown_kind      every Insert frame comes as a frame kind (field 20)
#                     no version of the format has;
#   cut_group         a group of frames that holds an Insert loses its last
#                     byte: its last frame's length claims more than is
#                     left;
#   no_feedback       the applier's standby status updates never reach the
#                     server, frames pass unchanged: the slot stays where it
#                     was while the target applies;
#   old_plugin        START_REPLICATION's group_bytes option reaches the
#                     server as group_bytez, which the plugin refuses as it
#                     would refuse an option it is too old to know.
# The applier asks for grouped frames (proto/pgferry.proto): each XLogData
# message is a group, each frame behind its 4-byte length; the frames are
# altered one by one and the group put together again.  Everything else
# passes through unchanged.  Clients must connect with
# sslmode=disable and gssencmode=disable (the proxy reads the plain
# protocol).
#
# Run in its own process (it forks one child per connection):
#   perl -Iregress/t -MFrameProxy -e FrameProxy::main MODE PORT SOCKET
# It prints "listening" once it accepts connections on 127.0.0.1:PORT.

package FrameProxy;

use strict;
use warnings;

use IO::Select;
use IO::Socket::INET;
use IO::Socket::UNIX;
use POSIX ();

# Frame prefixes (proto/pgferry.proto; protobuf-c writes fields in number
# order): proto_version = 1 (tag 0x08, varint 1) then begin (field 4,
# length-delimited: tag 0x22); insert is field 7 (tag 0x3a).
my $begin_v1 = "\x08\x01\x22";
my $insert = "\x3a";

# XLogData: 'w', WAL start, WAL end, send time (3 x 8 bytes), then the frame.
my $xlogdata_header = 25;

sub main
{
	my ($mode, $port, $socket) = @ARGV;
	die "mode must be version, corrupt, unknown_relation, columns, unknown_kind, cut_group,"
	  . " no_feedback or old_plugin\n"
	  unless $mode =~
	  /^(version|corrupt|unknown_relation|columns|unknown_kind|cut_group|no_feedback|old_plugin)$/;
	my $listen = IO::Socket::INET->new(
		LocalAddr => '127.0.0.1',
		LocalPort => $port,
		Listen => 16,
		ReuseAddr => 1) or die "cannot listen on port $port: $!\n";
	$SIG{CHLD} = 'IGNORE';
	$| = 1;
	print "listening\n";
	while (1)
	{
		my $client = $listen->accept or next;
		my $pid = fork;
		die "fork: $!\n" unless defined $pid;
		if ($pid == 0)
		{
			# Only the parent talks to whoever started it.
			open STDOUT, '>', '/dev/null';
			$listen->close;
			relay($mode, $client, $socket);
			POSIX::_exit(0);
		}
		$client->close;
	}
}

# Copies bytes both ways until either side closes; messages are forwarded
# whole, altered where the mode says.
sub relay
{
	my ($mode, $client, $socket) = @_;
	my $server = IO::Socket::UNIX->new(Peer => $socket, Type => SOCK_STREAM)
	  or return;
	my $select = IO::Select->new($client, $server);
	my ($from_server, $from_client, $started) = ('', '', 0);
	while (1)
	{
		foreach my $fh ($select->can_read)
		{
			my $n = sysread($fh, my $buf, 65536);
			return if !$n;
			if ($fh == $client && $mode =~ /^(no_feedback|old_plugin)$/)
			{
				$from_client .= $buf;
				write_all($server,
					client_messages(\$from_client, \$started, $mode));
			}
			elsif ($fh == $client)
			{
				write_all($server, $buf);
			}
			else
			{
				$from_server .= $buf;
				write_all(
					$client,
					complete_messages(
						\$from_server,
						sub {
							my ($type, $body) = @_;
							return $type eq 'd' && substr($body, 0, 1) eq 'w'
							  ? alter($body, $mode)
							  : $body;
						}));
			}
		}
	}
}

sub write_all
{
	my ($fh, $buf) = @_;
	while (length $buf)
	{
		my $n = syswrite($fh, $buf) or POSIX::_exit(0);
		substr($buf, 0, $n) = '';
	}
}

# Removes the complete messages from the client's $$pending and returns
# them, altered as the mode says.  The first is the startup packet, which
# has no type byte ($$started is set once it passed).
sub client_messages
{
	my ($pending, $started, $mode) = @_;
	my $out = '';
	if (!$$started)
	{
		return $out if length($$pending) < 4;
		my $len = unpack('N', $$pending);
		return $out if length($$pending) < $len;
		$out .= substr($$pending, 0, $len, '');
		$$started = 1;
	}
	return $out . complete_messages(
		$pending,
		sub {
			my ($type, $body) = @_;
			return undef
			  if $mode eq 'no_feedback' && $type eq 'd' && substr($body, 0, 1) eq 'r';
			$body =~ s/"group_bytes"/"group_bytez"/ if $mode eq 'old_plugin' && $type eq 'Q';
			return $body;
		});
}

# Removes the complete messages (type byte, length, body) from $$pending
# and returns them, each body through $alter->($type, $body), which gives
# the body to send or undef to drop the message.
sub complete_messages
{
	my ($pending, $alter) = @_;
	my $out = '';
	while (length($$pending) >= 5)
	{
		my ($type, $len) = unpack('a N', $$pending);
		last if length($$pending) < 1 + $len;
		my $body = $alter->($type, substr($$pending, 5, $len - 4));
		substr($$pending, 0, 1 + $len) = '';
		$out .= $type . pack('N', 4 + length $body) . $body if defined $body;
	}
	return $out;
}

# --- protobuf, as much as the modes need ---

sub read_varint
{
	my ($buf, $pos) = @_;
	my ($value, $shift) = (0, 0);
	while (1)
	{
		my $byte = ord(substr($$buf, $$pos++, 1));
		$value |= ($byte & 0x7f) << $shift;
		return $value unless $byte & 0x80;
		$shift += 7;
	}
}

sub varint
{
	my ($value) = @_;
	my $out = '';
	while ($value >= 0x80)
	{
		$out .= chr(($value & 0x7f) | 0x80);
		$value >>= 7;
	}
	return $out . chr($value);
}

# A message as a list of [field number, wire type, value]: a number for
# varints, bytes for the rest.
sub fields
{
	my ($msg) = @_;
	my ($pos, @fields) = (0);
	while ($pos < length $msg)
	{
		my $tag = read_varint(\$msg, \$pos);
		my ($field, $type) = ($tag >> 3, $tag & 7);
		my $value;
		if ($type == 0) { $value = read_varint(\$msg, \$pos); }
		elsif ($type == 2)
		{
			my $len = read_varint(\$msg, \$pos);
			$value = substr($msg, $pos, $len);
			$pos += $len;
		}
		else
		{
			my $len = $type == 1 ? 8 : 4;
			$value = substr($msg, $pos, $len);
			$pos += $len;
		}
		push @fields, [ $field, $type, $value ];
	}
	return @fields;
}

sub message
{
	my $out = '';
	foreach my $f (@_)
	{
		my ($field, $type, $value) = @$f;
		$out .= varint($field << 3 | $type);
		$out .=
			$type == 0 ? varint($value)
		  : $type == 2 ? varint(length $value) . $value
		  :              $value;
	}
	return $out;
}

# The frame kind's field (3 to 15): the one length-delimited field of a Frame.
sub kind_field
{
	my ($fields) = @_;
	my ($kind) = grep { $_->[1] == 2 } @$fields;
	return $kind;
}

# An Insert frame with the last value of its row removed.
sub drop_last_value
{
	my ($fields) = @_;
	my $insert = kind_field($fields);
	my @insert = fields($insert->[2]);
	foreach my $f (grep { $_->[0] == 2 } @insert)
	{
		my @values = fields($f->[2]);
		pop @values;
		$f->[2] = message(@values);
	}
	$insert->[2] = message(@insert);
	return message(@$fields);
}

# One frame altered as the mode says, or undef to drop it.
sub alter_frame
{
	my ($frame, $mode) = @_;
	if ($mode eq 'version' && substr($frame, 0, 3) eq $begin_v1)
	{
		substr($frame, 1, 1) = "\x63";
	}
	elsif ($mode eq 'corrupt' && substr($frame, 0, 1) eq $insert)
	{
		$frame = substr($frame, 0, int(length($frame) / 2));
	}
	elsif ($mode =~ /^(unknown_relation|columns|unknown_kind)$/)
	{
		my @fields = fields($frame);
		my $kind = kind_field(\@fields);
		return undef if $mode eq 'unknown_relation' && $kind && $kind->[0] == 6;
		if ($kind && $kind->[0] == 7)
		{
			$kind->[0] = 20 if $mode eq 'unknown_kind';
			$frame =
			  $mode eq 'columns' ? drop_last_value(\@fields) : message(@fields);
		}
	}
	return $frame;
}

sub alter
{
	my ($body, $mode) = @_;
	my $group = substr($body, $xlogdata_header);
	my ($out, $inserts) = ('', 0);
	while (length $group)
	{
		my $len = unpack('N', $group);
		my $frame = substr($group, 4, $len);
		substr($group, 0, 4 + $len) = '';
		$inserts++ if substr($frame, 0, 1) eq $insert;
		$frame = alter_frame($frame, $mode);
		$out .= pack('N', length $frame) . $frame if defined $frame;
	}
	chop $out if $mode eq 'cut_group' && $inserts;
	return substr($body, 0, $xlogdata_header) . $out;
}

1;
