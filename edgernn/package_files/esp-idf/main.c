// SPDX-License-Identifier: Apache-2.0
//
// edgernn on ESP-IDF: a periodic esp_timer (the sensor's data-ready tick) produces one frame every
// 10 ms into a FreeRTOS queue; the inference task blocks on the queue and steps the model once per
// frame. The weights are const (flash), the state is one static model_state_t (RAM).
//
// The frames here are synthetic (synthetic_imu.h) so the example runs on a bare devkit; read your
// sensor in frame_tick() instead (I2C/SPI reads belong in a task:
// keep the timer callback short, or let the sensor's FIFO interrupt fill the queue).
#include <stdint.h>
#include <stdio.h>

#include "esp_timer.h"
#include "freertos/FreeRTOS.h"
#include "freertos/queue.h"
#include "freertos/task.h"

#include "model_model.h"
#include "synthetic_imu.h"

#define FRAME_PERIOD_US 10000
#define QUEUE_FRAMES 8  // frames the task may fall behind before the producer drops one

typedef struct {
    int8_t values[MODEL_INPUT_SIZE];
} frame_t;

static QueueHandle_t frames;
static model_state_t state;  // recurrent state + scratch
static uint32_t dropped;

static void frame_tick(void *arg)
{
    static synthetic_imu imu = SYNTHETIC_IMU_INIT;
    (void)arg;
    frame_t frame;
    synthetic_imu_frame(&imu, frame.values, MODEL_INPUT_SIZE);
    if (xQueueSend(frames, &frame, 0) != pdTRUE) {
        ++dropped;  // the task is behind: never block the timer task
    }
}

static void inference_task(void *arg)
{
    (void)arg;
    frame_t frame;
    int8_t scores[MODEL_OUTPUT_SIZE];
    uint32_t steps = 0;
    for (;;) {
        if (xQueueReceive(frames, &frame, portMAX_DELAY) != pdTRUE) {
            continue;
        }
        const int64_t start = esp_timer_get_time();
        const ernn_status status = model_step(&state, frame.values, scores);
        const int64_t took = esp_timer_get_time() - start;
        if (status != ERNN_OK) {
            printf("edgernn: model_step failed, status %d\n", (int)status);
            vTaskDelete(NULL);
        }
        if (++steps % 100u == 0u) {
            int best = 0;
            for (int i = 1; i < MODEL_OUTPUT_SIZE; ++i) {
                best = scores[i] > scores[best] ? i : best;
            }
            printf("edgernn: %lu steps, class %d, last step %lld us, %lu frames dropped\n", (unsigned long)steps,
                   best, (long long)took, (unsigned long)dropped);
        }
    }
}

void app_main(void)
{
    if (model_init(&state) != ERNN_OK) {
        printf("edgernn: model_init failed: the model was exported for another runtime or core\n");
        return;
    }
    frames = xQueueCreate(QUEUE_FRAMES, sizeof(frame_t));
    xTaskCreate(inference_task, "edgernn", 4096, NULL, 5, NULL);

    const esp_timer_create_args_t args = {.callback = frame_tick, .name = "edgernn_frames"};
    esp_timer_handle_t timer;
    ESP_ERROR_CHECK(esp_timer_create(&args, &timer));
    ESP_ERROR_CHECK(esp_timer_start_periodic(timer, FRAME_PERIOD_US));
}
