/* SPDX-License-Identifier: MIT */
/*
 * ustrace-report: replays a recorded ustrace log into trace.json,
 * timeline.html and summary.txt. Needs no BPF, no root, no traced program.
 */
#include <stdio.h>
#include <string.h>

#include "export.h"

#define DEFAULT_OUT "ustrace-out"

static void usage(FILE *f)
{
	fprintf(
	    f, "usage: ustrace-report LOG [--output DIR] [--quiet]\n"
	       "  Reads a log written by 'ustrace record' and writes into DIR\n"
	       "  (default ./" DEFAULT_OUT "):\n"
	       "    " UST_EXPORT_JSON "     open in ui.perfetto.dev or "
	       "chrome://tracing\n"
	       "    " UST_EXPORT_HTML "  open in any browser, works offline\n"
	       "    " UST_EXPORT_SUMMARY "    also printed here unless "
	       "--quiet\n");
}

int main(int argc, char **argv)
{
	const char *log = NULL, *out = DEFAULT_OUT;
	int quiet = 0, err;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "-o") ||
			   !strcmp(argv[i], "--output")) {
			if (++i == argc) {
				usage(stderr);
				return 2;
			}
			out = argv[i];
		} else if (!strncmp(argv[i], "--output=", 9)) {
			out = argv[i] + 9;
		} else if (!strcmp(argv[i], "-q") ||
			   !strcmp(argv[i], "--quiet")) {
			quiet = 1;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "ustrace-report: unknown option %s\n",
				argv[i]);
			usage(stderr);
			return 2;
		} else if (!log) {
			log = argv[i];
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!log) {
		usage(stderr);
		return 2;
	}
	err = ust_export_all(log, out, quiet ? NULL : stdout);
	if (err) {
		fprintf(stderr, "ustrace-report: failed: %s\n", strerror(-err));
		return 1;
	}
	fprintf(quiet ? stdout : stderr,
		"wrote %s/" UST_EXPORT_JSON ", %s/" UST_EXPORT_HTML
		", %s/" UST_EXPORT_SUMMARY "\n",
		out, out, out);
	return 0;
}
