/**
 * @file ernn_internal.h
 * @brief Private helpers shared by the runtime's source files (not part of the API).
 */
#ifndef ERNN_INTERNAL_H
#define ERNN_INTERNAL_H

#include "edgernn/ernn_common.h"

/**
 * Hidden size of a cell whose input and recurrent layers have `gates` stacked blocks of
 * hidden rows, or 0 if their shapes disagree: x_out == h_out == gates * h_in.
 */
static inline int32_t ernn_cell_hidden_size(int32_t x_out, int32_t h_in, int32_t h_out, int32_t gates)
{
    return (h_in > 0 && x_out == gates * h_in && h_out == gates * h_in) ? h_in : 0;
}

#endif /* ERNN_INTERNAL_H */
