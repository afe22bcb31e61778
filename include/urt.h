/* SPDX-License-Identifier: MIT */
/* urt: an io_uring-native async runtime for C. Umbrella header. */
#ifndef URT_H
#define URT_H

#include <errno.h>

#include "urt/blocking.h"
#include "urt/chan.h"
#include "urt/error.h"
#include "urt/future.h"
#include "urt/op.h"
#include "urt/rt.h"
#include "urt/stream.h"
#include "urt/sync.h"
#include "urt/task.h"
#include "urt/time.h"

#endif
