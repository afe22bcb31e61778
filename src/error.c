/* SPDX-License-Identifier: MIT */
/* urt_strerror: results to text, thread-safe. */
#define _GNU_SOURCE
#include <string.h>

#include "urt.h"

const char *urt_strerror(int res)
{
	if (res == URT_PENDING)
		return "pending";
	if (res >= 0)
		return "success";
	/* GNU strerrordesc_np: static strings, no locale, thread-safe */
	const char *s = strerrordesc_np(-res);
	return s ? s : "unknown error";
}
