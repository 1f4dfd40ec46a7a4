// SPDX-License-Identifier: Apache-2.0
//
// edgernn on Zephyr: a k_timer (its expiry function runs in interrupt context, like a sensor's
// data-ready interrupt) produces one frame every 10 ms into a message queue; the main thread sleeps
// in k_msgq_get until a frame arrives and steps the model once per frame. The weights are const
// (flash), the state is one static model_state_t (RAM). Frames are synthetic (synthetic_imu.h).
#include <stdint.h>

#include <zephyr/kernel.h>
#include <zephyr/sys/printk.h>

#include "model_model.h"
#include "synthetic_imu.h"

#define FRAME_PERIOD_MS 10
#define QUEUE_FRAMES 8
#define REPORT_EVERY 100u

typedef struct {
    int8_t values[MODEL_INPUT_SIZE];
} frame_t;

K_MSGQ_DEFINE(frames, sizeof(frame_t), QUEUE_FRAMES, 4);

static model_state_t state; // recurrent state + scratch
static synthetic_imu imu = SYNTHETIC_IMU_INIT;
static volatile uint32_t dropped;

// Interrupt context: produce the frame and return; never step the model here.
static void frame_tick(struct k_timer *timer)
{
    (void)timer;
    frame_t frame;
    synthetic_imu_frame(&imu, frame.values, MODEL_INPUT_SIZE);
    if (k_msgq_put(&frames, &frame, K_NO_WAIT) != 0) {
        ++dropped;
    }
}

K_TIMER_DEFINE(frame_timer, frame_tick, NULL);

int main(void)
{
    if (model_init(&state) != ERNN_OK) {
        printk("edgernn: model_init failed: the model was exported for another runtime or core\n");
        return 0;
    }
    k_timer_start(&frame_timer, K_MSEC(FRAME_PERIOD_MS), K_MSEC(FRAME_PERIOD_MS));

    frame_t frame;
    int8_t scores[MODEL_OUTPUT_SIZE];
    for (uint32_t steps = 1;; ++steps) {
        k_msgq_get(&frames, &frame, K_FOREVER); // the thread sleeps (and the core idles) in here
        const uint32_t start = k_cycle_get_32();
        const ernn_status status = model_step(&state, frame.values, scores);
        const uint32_t cycles = k_cycle_get_32() - start;
        if (status != ERNN_OK) {
            printk("edgernn: model_step failed, status %d\n", (int)status);
            return 0;
        }
        if (steps % REPORT_EVERY == 0u) {
            int best = 0;
            for (int i = 1; i < MODEL_OUTPUT_SIZE; ++i) {
                best = scores[i] > scores[best] ? i : best;
            }
            printk("edgernn: %u steps, class %d, last step %u cycles, %u frames dropped\n", (unsigned)steps, best,
                   (unsigned)cycles, (unsigned)dropped);
        }
    }
}
