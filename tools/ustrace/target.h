/* SPDX-License-Identifier: MIT */
/* Finding the probes of a target and starting it held (target.c). */
#ifndef USTRACE_TARGET_H
#define USTRACE_TARGET_H

#include <stddef.h>
#include <sys/types.h>

/* Full path of cmd, searched in PATH as execvp would: 0 or -ENOENT. */
int ust_which(const char *cmd, char *out, size_t n);

/*
 * The binary holding the urt probes for executable exe (its own notes, or
 * the liburt.so its dynamic loader would load) into out. 0, or -ENOENT
 * after saying why on stderr.
 */
int ust_probe_binary_for_cmd(const char *exe, char *out, size_t n);

/* The same for a running process: the liburt.so it maps, else its
 * executable. 0, -ESRCH or -ENOENT (said on stderr). */
int ust_probe_binary_for_pid(pid_t pid, char *out, size_t n);

/*
 * Forks argv held on a pipe: the child execs once a byte is written to
 * *gate, and exits 127 if *gate is closed first. log_path (may be NULL)
 * receives its stdout and stderr. Returns the child's pid or -errno.
 */
pid_t ust_spawn_held(char **argv, int *gate, const char *log_path);

#endif
