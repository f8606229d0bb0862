#include <stdio.h>

int
main(void)
{
	printf("pgferry %s\n", PGFERRY_VERSION);
	return 0;
}
