/* SPDX-License-Identifier: MIT */
/*
 * Smallest real use of an installed urt: a runtime, a coroutine that
 * awaits a timer and a nop, block_on, and a clean shutdown.
 */
#include <stdio.h>

#include <urt.h>

struct hello {
	struct urt_co co;
	struct urt_op op;
	int steps;
};

static int hello_run(struct urt_co *co, struct urt_cx *cx)
{
	struct hello *h = (struct hello *)co;
	int r = 0;

	URT_BEGIN(co);
	URT_AWAIT(co, cx, urt_op_sleep(&h->op, 1000000), r);
	if (r < 0)
		URT_RETURN(co, r);
	h->steps++;
	URT_AWAIT(co, cx, urt_op_nop(&h->op), r);
	h->steps++;
	URT_END(co, r < 0 ? r : h->steps);
}

int main(void)
{
	struct hello h = {.steps = 0};
	struct urt_stats st;
	struct urt_rt *rt;
	uint64_t t0;
	int r;

	r = urt_rt_new(NULL, &rt);
	if (r) {
		fprintf(stderr, "urt_rt_new: %s: %s\n", urt_strerror(r),
			urt_rt_last_error());
		return 1;
	}
	urt_co_init(&h.co, hello_run);
	t0 = urt_now_ns();
	r = urt_block_on(rt, &h.co.base);
	t0 = urt_now_ns() - t0;
	if (urt_rt_free(rt, &st) || st.tasks_live || st.sqes_inflight) {
		fprintf(stderr, "unclean shutdown\n");
		return 1;
	}
	/* The sleep must really have waited: a 1 ms timer, not an instant. */
	if (r != 2 || t0 < 1000000) {
		fprintf(stderr, "block_on: %d (%s) after %llu ns\n", r,
			urt_strerror(r), (unsigned long long)t0);
		return 1;
	}
	printf("consumer: ok, %u workers, %llu ns\n", st.workers,
	       (unsigned long long)t0);
	return 0;
}
