# make lint's layer check (scripts/check-layers): the applier's tree passes
# it, and in a tree of three layers each kind of bad include is refused,
# named with its file, line and what to write instead, while the includes a
# layer may make pass.  The module map of DEVELOPERS.md has a row for every
# layer, in the Makefile's order, naming each of its files.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use IPC::Run ();
use PostgreSQL::Test::Utils;
use Test::More;

my $top = "$FindBin::RealBin/../..";
my $check = "$top/scripts/check-layers";

# check-layers over $root (the repository's tree when undef) with the
# layers named lowest first: its exit code and output.
sub check_layers
{
	my ($root, @layers) = @_;
	local $ENV{CHECK_LAYERS_ROOT} = $root if defined $root;
	my ($out, $err) = ('', '');
	IPC::Run::run([ $check, @layers ], '<', '/dev/null', '>', \$out,
		'2>', \$err);
	return ($? >> 8, $out . $err);
}

# --- the applier as it is ----------------------------------------------------
my ($layers) = slurp_file("$top/Makefile") =~ /^APPLIER_LAYERS = (.*)$/m;
ok(defined $layers, 'the Makefile names the layers');
my ($rc, $out) = check_layers(undef, split(' ', $layers // ''));
is($rc, 0, "the applier's includes keep to its layers") or diag($out);

# --- the module map --------------------------------------------------------------
my %row = slurp_file("$top/DEVELOPERS.md") =~ /^\| `applier\/(\w+)\/` \| (.*)$/mg;
my @mapped = slurp_file("$top/DEVELOPERS.md") =~ /^\| `applier\/(\w+)\/` \|/mg;
is("@mapped", $layers // '', 'the module map: a row per layer, lowest first');
# cli/ has "one file per command": the files named after main.c's commands.
my %command = map { $_ => 1 }
  slurp_file("$top/applier/cli/main.c") =~ /\{"(\w+)", cli_\w+,/g;
foreach my $layer (split(' ', $layers // ''))
{
	my @unnamed;
	foreach my $path (sort glob("$top/applier/$layer/*.[ch]"))
	{
		my ($file, $name) = $path =~ m{/((\w+)\.[ch])$};
		next if $layer eq 'cli' && ($command{$name} || $file eq 'cli.h');
		# a module by its name, for its .c and .h; or by its file
		push @unnamed, $file
		  if index($row{$layer} // '', "`$name`") < 0
		  && index($row{$layer} // '', "`$file`") < 0;
	}
	is("@unnamed", '', "the module map names every file of $layer/");
}

# --- a planted tree: common, below pg, below apply ---------------------------
my $root = PostgreSQL::Test::Utils::tempdir();
mkdir "$root/applier";
mkdir "$root/applier/$_" for qw(common pg apply);

sub write_file
{
	my ($path, $text) = @_;
	open(my $fh, '>', "$root/applier/$path") or die "$path: $!";
	print $fh $text;
	close($fh);
}

write_file('common/buf.h', "#include <stddef.h>\n");
write_file('pg/pg.h', qq{#include <sys/stat.h>\n#include "common/buf.h"\n});
write_file('pg/pg_internal.h', qq{#include "pg/pg.h"\n});
write_file('pg/pg.c',
	qq{#include "pg/pg_internal.h"\n#include "pgferry.pb-c.h"\n#include "plugin/pattern_syntax.h"\n});
write_file('apply/apply.h', qq{#include "pg/pg.h"\n});
write_file('apply/apply.c',
	qq{#include "apply/apply.h"\n#include "pg/pg.h"\n#include "common/buf.h"\n});

($rc, $out) = check_layers($root, qw(common pg apply));
is($rc, 0, 'a tree whose includes go down or stay in their layer passes');
is($out, '', 'a tree that passes: nothing printed');

my @refused = (
	[
		'an include that goes up a layer',
		'common/buf.c', qq{#include "common/buf.h"\n#include "apply/apply.h"\n},
		qr{^applier/common/buf\.c:2: #include "apply/apply\.h" goes up from layer common to layer apply$}m
	],
	[
		'an include that goes up, spelled "#  include"',
		'pg/flow.c', qq{#  include "apply/apply.h"\n},
		qr{^applier/pg/flow\.c:1: #include "apply/apply\.h" goes up from layer pg to layer apply$}m
	],
	[
		"a layer's header named in <...>",
		'common/log.c', qq{#include <stdio.h>\n#include <pg/pg.h>\n},
		qr{^applier/common/log\.c:2: #include <pg/pg\.h> names a layer's header in <\.\.\.> \(write "layer/name\.h"\)$}m
	],
	[
		'an include that does not name its layer',
		'apply/batch.c', qq{#include "pg.h"\n},
		qr{^applier/apply/batch\.c:1: #include "pg\.h" does not name a layer \("layer/name\.h"\)$}m
	],
	[
		"another layer's internal header",
		'apply/net.c', qq{#include "pg/pg_internal.h"\n},
		qr{^applier/apply/net\.c:1: #include "pg/pg_internal\.h" is internal to layer pg$}m
	],
	[
		'a header that does not exist',
		'apply/stmt.c', qq{#include "common/nosuch.h"\n},
		qr{^applier/apply/stmt\.c:1: #include "common/nosuch\.h": no such header$}m
	],
	[
		'a folder that is not a layer',
		'misc/x.c', qq{#include "common/buf.h"\n},
		qr{^applier/misc/x\.c: folder "misc" is not a layer \(add it to APPLIER_LAYERS in Makefile\)$}m
	]);

foreach my $case (@refused)
{
	my ($name, $path, $text, $message) = @$case;
	my ($folder) = $path =~ m{^([^/]+)/};
	my $made = !-d "$root/applier/$folder";
	mkdir "$root/applier/$folder" if $made;
	write_file($path, $text);
	($rc, $out) = check_layers($root, qw(common pg apply));
	is($rc, 1, "$name: refused");
	like($out, $message, "$name: named, with what to do");
	is(scalar(() = $out =~ /^applier\//mg), 1, "$name: the only complaint")
	  or diag($out);
	unlink "$root/applier/$path";
	rmdir "$root/applier/$folder" if $made;
}

done_testing();
