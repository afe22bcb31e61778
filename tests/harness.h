/* SPDX-License-Identifier: MIT */
/* Shared test helpers: runtime set-up and the clean-shutdown check. */
#ifndef URT_TEST_HARNESS_H
#define URT_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "urt.h"

/* A runtime with n workers (0: default); fails the test if unavailable. */
struct urt_rt *h_rt(unsigned workers);
struct urt_rt *h_rt_cfg(const struct urt_config *cfg);
/*
 * Shuts rt down and asserts nothing is left: no live task, no SQE in
 * flight, no leaked handle, every spawned task completed.
 */
void h_rt_free_clean(struct urt_rt *rt);

/* Runs a coroutine body as a block_on future: frame on the stack. */
#define H_CO(name) static int name(struct urt_co *co, struct urt_cx *cx)

#endif
