// SPDX-License-Identifier: Apache-2.0
//
// StreamSensor: an edgernn model stepped once per sensor frame on an Arduino board.
//
// Every FRAME_PERIOD_US microseconds (100 Hz) the sketch reads one frame of MODEL_INPUT_SIZE
// analog channels (an IMU or microphone front end wired to A0..A5), maps each 10-bit reading to
// the model's int8 input, runs one time step and prints the int8 scores and the best class.
// The recurrent state lives in one static model_state_t (RAM); the weights are const (flash).
//
// The model files (model_model.h, model_model.c) sit beside this sketch: replace them with your
// own export (`edgernn export my.ernn --format c`, take include/model_model.h and src/model_model.c)
// to run your model. The library (this folder's ../../src) is the edgernn runtime.
#include <edgernn.h>

#include "model_model.h"

#define FRAME_PERIOD_US 10000UL  // 100 Hz: the sensor's output data rate
#define CHANNELS 6

static const uint8_t kPins[CHANNELS] = {A0, A1, A2, A3, A4, A5};
static model_state_t state;  // recurrent state + scratch: all the RAM the model needs
static unsigned long next_frame_us;
static unsigned long frames;

// One raw 10-bit reading (0..1023) to int8 (-128..127). A real front end applies the model's
// input scale and zero point (MODEL_INPUT_SCALE, MODEL_INPUT_ZERO_POINT) to calibrated units.
static int8_t adc_to_int8(int reading)
{
    return (int8_t)((reading >> 2) - 128);
}

static void read_frame(int8_t *frame)
{
    for (int i = 0; i < MODEL_INPUT_SIZE; ++i) {
        frame[i] = adc_to_int8(analogRead(kPins[i % CHANNELS]));
    }
}

static void fail(const char *what, ernn_status status)
{
    Serial.print("edgernn: ");
    Serial.print(what);
    Serial.print(" failed, status ");
    Serial.println((int)status);
    for (;;) {
    }
}

void setup()
{
    Serial.begin(115200);
    const ernn_status status = model_init(&state);  // checks the build, zeroes the state
    if (status != ERNN_OK) {
        fail("model_init", status);
    }
    next_frame_us = micros();
}

void loop()
{
    // The timer tick: poll micros() so the sketch runs on every Arduino core (a hardware timer
    // interrupt would only set a flag or fill a buffer; stepping stays here, outside the ISR).
    if ((long)(micros() - next_frame_us) < 0) {
        return;
    }
    next_frame_us += FRAME_PERIOD_US;

    int8_t frame[MODEL_INPUT_SIZE];
    int8_t scores[MODEL_OUTPUT_SIZE];
    read_frame(frame);
    const ernn_status status = model_step(&state, frame, scores);
    if (status != ERNN_OK) {
        fail("model_step", status);
    }
    int best = 0;
    Serial.print(frames++);
    Serial.print(":");
    for (int i = 0; i < MODEL_OUTPUT_SIZE; ++i) {
        Serial.print(" ");
        Serial.print((int)scores[i]);
        if (scores[i] > scores[best]) {
            best = i;
        }
    }
    Serial.print(" class ");
    Serial.println(best);
}
