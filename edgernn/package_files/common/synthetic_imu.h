// SPDX-License-Identifier: Apache-2.0
//
// A synthetic 6-axis IMU for the edgernn examples, so they run on a bare devkit: per channel a
// phase-shifted triangle wave plus a little deterministic noise, already in the model's int8 range.
// Replace synthetic_imu_frame() with your sensor driver's read (calibrated units through the model's
// input scale and zero point, MODEL_INPUT_SCALE / MODEL_INPUT_ZERO_POINT).
#ifndef SYNTHETIC_IMU_H
#define SYNTHETIC_IMU_H

#include <stdint.h>

typedef struct {
    uint32_t tick;  // frames produced so far
    uint32_t noise; // linear congruential generator state
} synthetic_imu;

#define SYNTHETIC_IMU_INIT {0u, 12345u}

// The next frame of `channels` int8 values into `out`.
static inline void synthetic_imu_frame(synthetic_imu *imu, int8_t *out, int channels)
{
    for (int i = 0; i < channels; ++i) {
        const int32_t phase = (int32_t)((imu->tick * 4u + (uint32_t)i * 37u) % 256u);
        const int32_t triangle = phase < 128 ? phase * 2 - 128 : 383 - phase * 2;
        imu->noise = imu->noise * 1664525u + 1013904223u;
        const int32_t value = triangle + (int32_t)(imu->noise >> 29) - 4;
        out[i] = (int8_t)(value > 127 ? 127 : (value < -128 ? -128 : value));
    }
    ++imu->tick;
}

#endif // SYNTHETIC_IMU_H
