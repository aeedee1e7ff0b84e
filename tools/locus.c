/* locus.c — the command-line tool (placeholder until the CLI lands). */
#include <stdio.h>
int main(void) { puts("locus"); return 0; }
