// SPDX-License-Identifier: MIT
/*
 * Where ustrace's target comes from: which binary holds the urt USDT probes
 * (the executable's ELF notes, the liburt.so its dynamic loader would load,
 * or the one a running process maps), and starting a command held on a
 * pipe until the probes are attached. No BPF here.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "target.h"

/* ---------------------------------------------------------------------
 * Finding the binary with the urt probes
 * ------------------------------------------------------------------- */

/* Whether path has a stapsdt note of provider "urt"; *interp (if not
 * NULL) receives its PT_INTERP (dynamic loader), "" if static. */
static bool elf_urt_probes(const char *path, char *interp, size_t n)
{
	bool found = false;
	Elf_Scn *scn = NULL;
	size_t shstrndx, nph;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf *e;

	if (interp)
		interp[0] = 0;
	if (fd < 0)
		return false;
	elf_version(EV_CURRENT);
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (!e || elf_kind(e) != ELF_K_ELF || elf_getshdrstrndx(e, &shstrndx))
		goto out;
	if (interp && !elf_getphdrnum(e, &nph))
		for (size_t i = 0; i < nph; i++) {
			GElf_Phdr ph;

			if (gelf_getphdr(e, (int)i, &ph) &&
			    ph.p_type == PT_INTERP && ph.p_filesz < n &&
			    pread(fd, interp, ph.p_filesz,
				  (off_t)ph.p_offset) == (ssize_t)ph.p_filesz)
				interp[ph.p_filesz] = 0;
		}
	while (!found && (scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;
		GElf_Nhdr nh;
		size_t off = 0, name_off, desc_off;
		const char *name;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		name = elf_strptr(e, shstrndx, sh.sh_name);
		if (!name || strcmp(name, ".note.stapsdt"))
			continue;
		data = elf_getdata(scn, NULL);
		while (data && !found &&
		       (off = gelf_getnote(data, off, &nh, &name_off,
					   &desc_off)) > 0) {
			/* desc: pc, base, semaphore (3 x 8), provider\0 */
			const char *desc = (const char *)data->d_buf + desc_off;

			if (nh.n_type == 3 && nh.n_descsz > 24 + 4 &&
			    !strncmp(desc + 24, "urt", 4))
				found = true;
		}
	}
out:
	if (e)
		elf_end(e);
	close(fd);
	return found;
}

/* Asks CMD's dynamic loader which liburt.so it would load (ldd's way). */
static int ldso_find_liburt(const char *interp, const char *exe, char *out,
			    size_t n)
{
	char line[PATH_MAX + 64];
	int p[2], status, found = -ENOENT;
	pid_t pid;
	FILE *f;

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		execl(interp, interp, "--list", exe, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	f = fdopen(p[0], "r");
	while (f && fgets(line, sizeof(line), f)) {
		/* "\tliburt.so.0 => /path/liburt.so.0 (0x...)" */
		char *arrow = strstr(line, "=> "), *sp;

		if (!strstr(line, "liburt.so") || !arrow || found == 0)
			continue;
		arrow += 3;
		sp = strstr(arrow, " (");
		if (sp)
			*sp = 0;
		if (*arrow == '/' && strlen(arrow) < n) {
			strcpy(out, arrow);
			found = 0;
		}
	}
	if (f)
		fclose(f);
	else
		close(p[0]);
	waitpid(pid, &status, 0);
	return found;
}

/* Full path of CMD, searched in PATH as execvp would. */
int ust_which(const char *cmd, char *out, size_t n)
{
	const char *path = getenv("PATH");

	if (strchr(cmd, '/')) {
		if (!realpath(cmd, out))
			return -errno;
		return 0;
	}
	for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
		const char *c = strchrnul(p, ':');
		char cand[PATH_MAX];

		snprintf(cand, sizeof(cand), "%.*s/%s", (int)(c - p), p, cmd);
		if (!access(cand, X_OK) && realpath(cand, out))
			return 0;
		p = *c ? c + 1 : c;
	}
	(void)n;
	return -ENOENT;
}

int ust_probe_binary_for_cmd(const char *exe, char *out, size_t n)
{
	char interp[PATH_MAX];

	if (elf_urt_probes(exe, interp, sizeof(interp))) {
		snprintf(out, n, "%s", exe);
		return 0;
	}
	if (!interp[0]) {
		fprintf(stderr,
			"ustrace: %s has no urt probes and is not dynamically "
			"linked (a script? use --lib)\n",
			exe);
		return -ENOENT;
	}
	if (ldso_find_liburt(interp, exe, out, n) ||
	    !elf_urt_probes(out, NULL, 0)) {
		fprintf(stderr,
			"ustrace: %s has no urt probes and `%s --list` finds "
			"no liburt.so with them (liburt built with "
			"-Dusdt=disabled, or dlopen()ed? use --lib)\n",
			exe, interp);
		return -ENOENT;
	}
	return 0;
}

int ust_probe_binary_for_pid(pid_t pid, char *out, size_t n)
{
	char path[64], line[PATH_MAX + 128];
	FILE *f;
	int err = -ENOENT;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "ustrace: no process %d (%s)\n", pid,
			strerror(errno));
		return -ESRCH;
	}
	while (err && fgets(line, sizeof(line), f)) {
		char *p = strchr(line, '/');

		if (!p || !strstr(p, "liburt.so"))
			continue;
		p[strcspn(p, "\n")] = 0;
		if (elf_urt_probes(p, NULL, 0) && strlen(p) < n) {
			strcpy(out, p);
			err = 0;
		}
	}
	fclose(f);
	if (!err)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	if (elf_urt_probes(path, NULL, 0)) {
		snprintf(out, n, "%s", path);
		return 0;
	}
	fprintf(stderr,
		"ustrace: process %d maps no liburt.so with urt probes and "
		"its executable has none\n",
		pid);
	return -ENOENT;
}

/* ---------------------------------------------------------------------
 * Target: fork, hold the child until the probes are attached
 * ------------------------------------------------------------------- */

pid_t ust_spawn_held(char **argv, int *gate, const char *log_path)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(p[0]);
		close(p[1]);
		return err;
	}
	if (pid == 0) {
		char c;

		close(p[1]);
		/* EOF without a byte: the tracer gave up, do not run */
		if (read(p[0], &c, 1) != 1)
			_exit(127);
		if (log_path) {
			int fd = open(log_path,
				      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
				      0644);
			if (fd >= 0) {
				dup2(fd, STDOUT_FILENO);
				dup2(fd, STDERR_FILENO);
			}
		}
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		execvp(argv[0], argv);
		fprintf(stderr, "ustrace: exec %s: %s\n", argv[0],
			strerror(errno));
		_exit(127);
	}
	close(p[0]);
	*gate = p[1];
	return pid;
}
