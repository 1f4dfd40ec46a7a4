/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file ernn_embedding_s8.c
 * @brief Token id to int8 embedding row (TFLite GATHER).
 */
#include "edgernn/ernn_s8.h"

ernn_status ernn_embedding_s8(const ernn_embedding_s8_params *p, int32_t token, const int8_t **row)
{
    if (p == NULL || p->table == NULL || row == NULL || token < 0 || token >= p->vocab_size) {
        return ERNN_ARG_ERROR;
    }
    *row = p->table + (size_t)token * (size_t)p->dim;
    return ERNN_OK;
}
