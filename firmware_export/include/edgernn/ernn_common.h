/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file ernn_common.h
 * @brief edgernn C runtime: version, status codes, cell types, portability checks.
 *
 * The runtime is C99, allocates nothing and keeps no global mutable state: every buffer is
 * owned by the caller, with size queries (`*_get_buffer_size`) for scratch memory.
 */
#ifndef ERNN_COMMON_H
#define ERNN_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Runtime version; equal to the edgernn Python package that ships it. */
#define ERNN_VERSION_STRING "0.1.0"

/**
 * Version of the runtime's interface to generated model code (the descriptor structs and functions a
 * <prefix>_model.c uses). MAJOR changes when a model generated for the old runtime no longer compiles
 * or runs correctly against the new one (re-export it); MINOR when the runtime gains something new
 * (older models still work). Each generated model.c checks it with #if at compile time.
 */
#define ERNN_RUNTIME_VERSION_MAJOR 1
#define ERNN_RUNTIME_VERSION_MINOR 3
/** MAJOR * 100 + MINOR, for one-comparison checks. */
#define ERNN_RUNTIME_VERSION (ERNN_RUNTIME_VERSION_MAJOR * 100 + ERNN_RUNTIME_VERSION_MINOR)

/** Result of every runtime function that can fail. */
typedef enum {
    ERNN_OK = 0,           /**< Success. */
    ERNN_ARG_ERROR = -1,   /**< Null pointer, size mismatch or a token id out of range. */
    ERNN_UNSUPPORTED = -2  /**< Valid call the model cannot do (e.g. stepping a bidirectional model). */
} ernn_status;

/** A status as text ("ERNN_OK", ...), for logs; "ERNN_UNKNOWN_STATUS" for values outside the enum. */
static inline const char *ernn_status_str(ernn_status status)
{
    switch (status) {
    case ERNN_OK:
        return "ERNN_OK";
    case ERNN_ARG_ERROR:
        return "ERNN_ARG_ERROR";
    case ERNN_UNSUPPORTED:
        return "ERNN_UNSUPPORTED";
    default:
        return "ERNN_UNKNOWN_STATUS";
    }
}

/** Recurrent cell kinds (PyTorch semantics). */
typedef enum {
    ERNN_CELL_RNN = 0,  /**< Elman RNN, tanh. */
    ERNN_CELL_GRU = 1,  /**< GRU, reset gate applied after the hidden matmul. */
    ERNN_CELL_LSTM = 2  /**< LSTM, gates i, f, g, o. */
} ernn_cell_type;

/** What a many-to-one model's head reads of the top layer (edgernn.types.Readout). */
typedef enum {
    ERNN_READOUT_STATE = 0,       /**< The final hidden state (PyTorch's h_n); every step's output when streaming. */
    ERNN_READOUT_LAST_OUTPUT = 1, /**< output[:, -1] of a bidirectional model: run_sequence's last row. */
    ERNN_READOUT_MEAN = 2         /**< The mean over the steps so far: run_sequence only (each row the mean up to it). */
} ernn_readout;

/** Number of gate blocks of a cell (1, 3 or 4). */
static inline int32_t ernn_cell_gates(ernn_cell_type cell)
{
    return cell == ERNN_CELL_GRU ? 3 : (cell == ERNN_CELL_LSTM ? 4 : 1);
}

/*
 * The fixed-point code shifts negative int32 values right and needs the shift to be
 * arithmetic (floor division by a power of two). C99 leaves this implementation-defined; gcc,
 * clang and arm-none-eabi-gcc define it as arithmetic. This typedef fails to compile (negative
 * array size) on a compiler that does otherwise. int32_t itself is two's complement by C99 7.18.1.1.
 */
typedef char ernn_check_arithmetic_right_shift[((-7 >> 1) == -4) ? 1 : -1];

#ifdef __cplusplus
}
#endif

#endif /* ERNN_COMMON_H */
