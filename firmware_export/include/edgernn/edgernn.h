/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file edgernn.h
 * @brief edgernn C runtime: exact int8 (and float32) recurrent networks, one step at a time.
 *
 * Include this one header. int8 path: ernn_s8.h (kernels) and ernn_model_s8.h (whole models);
 * float32 path: ernn_f32.h. Conventions: `ernn_` prefix, status codes, caller-owned memory.
 */
#ifndef EDGERNN_H
#define EDGERNN_H

#include "edgernn/ernn_common.h"
#include "edgernn/ernn_fixedpoint.h"
#include "edgernn/ernn_s8.h"
#include "edgernn/ernn_model_s8.h"
#include "edgernn/ernn_f32.h"
#include "edgernn/ernn_sample.h"

#endif /* EDGERNN_H */
