/*
 * scan-gen-corpus DIR - writes every scanner test case into DIR, one file
 * per case, named after it ("ok-*" files carry valid metadata).  Used by the
 * CLI test and to refresh the fuzzer's seed corpus (corpus/ next to this).
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "corpus.h"

int main(int argc, char **argv)
{
	if (argc != 2 || strcmp(argv[1], "--help") == 0 || argv[1][0] == '-') {
		fprintf(argc == 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr,
		        "usage: scan-gen-corpus DIR\n"
		        "Writes the scanner's test inputs into DIR (created if missing).\n");
		return argc == 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
	}
	mkdir(argv[1], 0755);
	if (corpus_write_all(argv[1]) != 0)
		return 1;
	printf("%zu\n", corpus_count);
	return 0;
}
