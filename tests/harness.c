/* SPDX-License-Identifier: MIT */
#include "harness.h"

#include <stdio.h>

struct urt_rt *h_rt_cfg(const struct urt_config *cfg)
{
	struct urt_rt *rt = NULL;
	int err = urt_rt_new(cfg, &rt);

	if (err)
		fprintf(stderr, "urt_rt_new: %s (%s)\n", urt_strerror(err),
			urt_rt_last_error());
	assert_int_equal(err, 0);
	assert_non_null(rt);
	return rt;
}

struct urt_rt *h_rt(unsigned workers)
{
	struct urt_config cfg;

	urt_config_init(&cfg);
	cfg.workers = workers;
	return h_rt_cfg(&cfg);
}

void h_rt_free_clean(struct urt_rt *rt)
{
	struct urt_stats st;
	int err = urt_rt_free(rt, &st);

	assert_int_equal(err, 0);
	assert_int_equal(st.handles_leaked, 0);
	assert_int_equal(st.tasks_live, 0);
	assert_int_equal(st.sqes_inflight, 0);
	assert_int_equal(st.tasks_spawned, st.tasks_completed);
	assert_int_equal(st.ops_submitted, st.ops_completed);
}
