/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file stream.c
 * @brief Stream feature frames from stdin through an edgernn int8 model, one time step per frame.
 *
 * Part of edgernn's examples/raspberry-pi-stdin. Build it together with an export folder made
 * with the default prefix ("model"): it uses model_model.h, model_init() and model_step().
 *
 *   stream [-b] [-q] < frames
 *
 * Input, text (default): one frame per line, MODEL_INPUT_SIZE numbers separated by spaces, tabs
 * or commas (token models: one token id per line); '#' starts a comment line.
 * Input, binary (-b): raw little-endian float32 frames of MODEL_INPUT_SIZE values (token models:
 * int32 token ids).
 * Output: one line per frame with MODEL_OUTPUT_SIZE values, dequantized to float with the
 * exported output scale and zero point (-q: the raw int8 values instead).
 *
 * Raw features are normalized with the exported MODEL_INPUT_MEAN_INIT / MODEL_INPUT_STD_INIT
 * (if the model has them) and quantized with MODEL_INPUT_SCALE / MODEL_INPUT_ZERO_POINT exactly
 * as edgernn does in Python (float32 normalization, round half to even, saturate to int8), so
 * the int8 outputs equal edgernn's Stream(model).run_int8 bit for bit. The state persists
 * across frames: the whole of stdin is one stream.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_model.h"

#if MODEL_FLOAT_PATH
#error "this example streams through the int8 path: export without --float"
#endif
#if MODEL_BIDIRECTIONAL
#error "a bidirectional model cannot stream: it needs whole sequences (model_run_sequence)"
#endif

#define LINE_BYTES 65536

static model_state_t state;

#if !MODEL_TOKEN_INPUT
#ifdef MODEL_INPUT_MEAN_INIT
static const float input_mean[MODEL_INPUT_SIZE] = MODEL_INPUT_MEAN_INIT;
static const float input_std[MODEL_INPUT_SIZE] = MODEL_INPUT_STD_INIT;
#endif

/* Normalize (float32, as numpy does) and quantize (in double, round half to even). */
static int8_t quantize_feature(float raw, int i)
{
#ifdef MODEL_INPUT_MEAN_INIT
    const float x = (raw - input_mean[i]) / input_std[i];
#else
    const float x = raw;
    (void)i;
#endif
    double q = rint((double)x / (double)MODEL_INPUT_SCALE) + (double)MODEL_INPUT_ZERO_POINT;
    if (q < -128.0) {
        q = -128.0;
    } else if (q > 127.0) {
        q = 127.0;
    }
    return (int8_t)q;
}
#endif

/* Read one text frame into values (doubles); returns 1, 0 at the end of input, -1 on error. */
static int read_text_frame(double *values, int count, unsigned long *line_number)
{
    static char line[LINE_BYTES];
    for (;;) {
        if (fgets(line, sizeof line, stdin) == NULL) {
            return 0;
        }
        ++*line_number;
        char *p = line;
        while (isspace((unsigned char)*p)) {
            ++p;
        }
        if (*p == '\0' || *p == '#') {
            continue; /* blank line or comment */
        }
        for (int i = 0; i < count; ++i) {
            while (isspace((unsigned char)*p) || *p == ',') {
                ++p;
            }
            char *end;
            errno = 0;
            values[i] = strtod(p, &end);
            if (end == p || errno == ERANGE || !isfinite(values[i])) {
                fprintf(stderr, "stream: line %lu: expected %d numbers\n", *line_number, count);
                return -1;
            }
            p = end;
        }
        while (isspace((unsigned char)*p) || *p == ',') {
            ++p;
        }
        if (*p != '\0') {
            fprintf(stderr, "stream: line %lu: more than %d numbers\n", *line_number, count);
            return -1;
        }
        return 1;
    }
}

/* Read one binary frame of 4-byte little-endian values; returns 1, 0 at the end, -1 if truncated. */
static int read_binary_frame(unsigned char *bytes, int count)
{
    const size_t want = (size_t)count * 4u;
    const size_t got = fread(bytes, 1, want, stdin);
    if (got == 0 && feof(stdin)) {
        return 0;
    }
    if (got != want) {
        fprintf(stderr, "stream: truncated binary frame (%lu of %lu bytes)\n", (unsigned long)got,
                (unsigned long)want);
        return -1;
    }
    return 1;
}

static uint32_t u32le(const unsigned char *b)
{
    return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
}

static void usage(void)
{
    fprintf(stderr, "usage: stream [-b] [-q] < frames\n"
                    "  -b  binary input: little-endian float32 frames (token models: int32 ids)\n"
                    "  -q  print the int8 outputs instead of dequantized values\n");
}

int main(int argc, char **argv)
{
    int binary = 0;
    int raw_output = 0;
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "-b") == 0) {
            binary = 1;
        } else if (strcmp(argv[i], "-q") == 0) {
            raw_output = 1;
        } else {
            usage();
            return 2;
        }
    }
    if (model_init(&state) != ERNN_OK) {
        fprintf(stderr, "stream: model_init failed\n");
        return 1;
    }

    double values[MODEL_INPUT_SIZE];
    unsigned char bytes[MODEL_INPUT_SIZE * 4];
    int8_t y[MODEL_OUTPUT_SIZE];
    unsigned long line_number = 0;
    unsigned long frames = 0;
    for (;;) {
        const int status = binary ? read_binary_frame(bytes, MODEL_INPUT_SIZE)
                                  : read_text_frame(values, MODEL_INPUT_SIZE, &line_number);
        if (status < 0) {
            return 1;
        }
        if (status == 0) {
            break;
        }
        ernn_status result;
#if MODEL_TOKEN_INPUT
        int32_t token;
        if (binary) {
            token = (int32_t)u32le(bytes);
        } else {
            if (values[0] != floor(values[0]) || values[0] < 0.0 || values[0] >= (double)MODEL_VOCAB_SIZE) {
                fprintf(stderr, "stream: line %lu: a token id in [0, %d) expected\n", line_number, MODEL_VOCAB_SIZE);
                return 1;
            }
            token = (int32_t)values[0];
        }
        result = model_step(&state, token, y);
#else
        int8_t x[MODEL_INPUT_SIZE];
        for (int i = 0; i < MODEL_INPUT_SIZE; ++i) {
            float raw;
            if (binary) {
                const uint32_t word = u32le(bytes + 4 * i);
                memcpy(&raw, &word, sizeof raw);
            } else {
                raw = (float)values[i];
            }
            if (!isfinite(raw)) {
                fprintf(stderr, "stream: frame %lu: value %d is not finite\n", frames, i);
                return 1;
            }
            x[i] = quantize_feature(raw, i);
        }
        result = model_step(&state, x, y);
#endif
        if (result != ERNN_OK) {
            fprintf(stderr, "stream: model_step failed with status %d at frame %lu\n", (int)result, frames);
            return 1;
        }
        for (int i = 0; i < MODEL_OUTPUT_SIZE; ++i) {
            if (raw_output) {
                printf(i ? " %d" : "%d", (int)y[i]);
            } else {
                const double value = (double)MODEL_OUTPUT_SCALE * (double)((int)y[i] - MODEL_OUTPUT_ZERO_POINT);
                printf(i ? " %.6g" : "%.6g", value);
            }
        }
        putchar('\n');
        ++frames;
    }
    fprintf(stderr, "stream: %lu frames\n", frames);
    return 0;
}
