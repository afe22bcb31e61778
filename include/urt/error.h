/* SPDX-License-Identifier: MIT */
#ifndef URT_ERROR_H
#define URT_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Describes a urt result: "success" for >= 0, the errno text for -errno,
 * "pending" for URT_PENDING. Thread-safe, static storage.
 */
const char *urt_strerror(int res);

#ifdef __cplusplus
}
#endif
#endif
