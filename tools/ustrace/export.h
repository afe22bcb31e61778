/* SPDX-License-Identifier: MIT */
/*
 * ustrace's after-the-fact views, computed from the canonical event log
 * (ustrace.h) alone: Perfetto JSON, an HTML/SVG timeline and a text
 * summary. No BPF, no privileges, libc only.
 */
#ifndef USTRACE_EXPORT_H
#define USTRACE_EXPORT_H

#include <stdio.h>

/* Files ust_export_all() writes into out_dir. */
#define UST_EXPORT_JSON "trace.json"
#define UST_EXPORT_HTML "timeline.html"
#define UST_EXPORT_SUMMARY "summary.txt"

/*
 * Reads the event log at log_path, sorts it by time (stable: ties keep log
 * order) and writes trace.json, timeline.html and summary.txt into out_dir
 * (created if missing; existing files are replaced). The summary is also
 * written to summary_out unless it is NULL. The same log always gives
 * byte-identical files.
 *
 * Returns 0 on success or -errno: -EINVAL for a file that is not a
 * ustrace log (or a version this does not read), -EBADMSG for one that is
 * truncated or corrupt (a partial record, a header that disagrees with the
 * file), -ENOMEM, or the error of the failing open or write. Each error is
 * also reported as one line on stderr. The log is read and checked before
 * anything is written, so a bad log leaves out_dir untouched; a failed
 * write may leave a partial file behind.
 *
 * Records of types it does not know are skipped (counted in the summary);
 * so are records naming a worker >= 1024. Memory: a few times the log
 * size (the log, sorted, plus the slices and arrows built from it).
 * No global state: any thread may call it, also concurrently.
 */
int ust_export_all(const char *log_path, const char *out_dir,
		   FILE *summary_out);

#endif
