/* SPDX-License-Identifier: MIT */
/*
 * Kernel io_uring values that liburing 2.3 (Debian 12) does not define.
 * Values are the kernel's (include/uapi/linux/io_uring.h as of 6.18); every
 * one is used only after a runtime probe says the kernel has it.
 */
#ifndef URT_COMPAT_H
#define URT_COMPAT_H

#include <linux/io_uring.h>

#ifndef IORING_SETUP_NO_MMAP
#define IORING_SETUP_NO_MMAP (1U << 14)
#endif
#ifndef IORING_SETUP_REGISTERED_FD_ONLY
#define IORING_SETUP_REGISTERED_FD_ONLY (1U << 15)
#endif
#ifndef IORING_SETUP_NO_SQARRAY
#define IORING_SETUP_NO_SQARRAY (1U << 16)
#endif

/* Opcodes after IORING_OP_SENDMSG_ZC (48). */
#define URT_IORING_OP_READ_MULTISHOT 49
#define URT_IORING_OP_WAITID 50
#define URT_IORING_OP_FUTEX_WAIT 51
#define URT_IORING_OP_FUTEX_WAKE 52
#define URT_IORING_OP_BIND 56
#define URT_IORING_OP_LISTEN 57

/* io_uring_register() opcodes (2.3 stops at 25). */
#define URT_IORING_REGISTER_SEND_MSG_RING 31 /* kernel 6.13 */

#ifndef IORING_MSG_RING_CQE_SKIP
#define IORING_MSG_RING_CQE_SKIP (1U << 0)
#endif
#ifndef IORING_MSG_RING_FLAGS_PASS
#define IORING_MSG_RING_FLAGS_PASS (1U << 1)
#endif
#ifndef IORING_ENTER_ABS_TIMER
#define IORING_ENTER_ABS_TIMER (1U << 5)
#endif
#ifndef IORING_ENTER_NO_IOWAIT
#define IORING_ENTER_NO_IOWAIT (1U << 7)
#endif
#ifndef IORING_FEAT_MIN_TIMEOUT
#define IORING_FEAT_MIN_TIMEOUT (1U << 15)
#endif
#ifndef IORING_FEAT_NO_IOWAIT
#define IORING_FEAT_NO_IOWAIT (1U << 17)
#endif
#ifndef IORING_SQ_TASKRUN
#define IORING_SQ_TASKRUN (1U << 2)
#endif

#endif
