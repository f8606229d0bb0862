/*-------------------------------------------------------------------------
 *
 * fuzz_pgoutput.c
 *	  libFuzzer target: the pgoutput decoder (applier/stream/pgoutput.c)
 *	  fed sequences of pgoutput's messages, in fuzz_decode.c's input form
 *	  and with its harness.
 *
 *-------------------------------------------------------------------------
 */
#define FUZZ_PLUGIN PLUGIN_PGOUTPUT
#include "fuzz_decode.c"
