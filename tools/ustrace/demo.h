/* SPDX-License-Identifier: MIT */
/* The built-in demo workload (demo.c). */
#ifndef USTRACE_DEMO_H
#define USTRACE_DEMO_H

/* Runs the demo for about seconds; returns the process exit status. */
int ust_demo_main(double seconds);

#endif
