/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * The firmware loop of docs/integration.md on the Cortex-M4 of QEMU's mps2-an386, with an edgernn
 * export (prefix "model") built in unchanged:
 *
 *   SysTick interrupt (the sensor's data-ready / DMA half-transfer interrupt)
 *       -> copies one frame into a ring buffer, returns
 *   main loop
 *       -> sleeps (WFI) while the ring is empty: the core idles between frames
 *       -> pops a frame, resets the model at the start of a new stream, steps it,
 *          times the step with the DWT cycle counter
 *
 * The "sensor" replays test vectors (written by edgernn.export.c.write_test_vectors, read from
 * the host through semihosting before the timer starts); every output is compared with the
 * integer reference's, each sequence of the file being one stream. Prints a summary; exit status
 * 0 iff every output was bit-exact and no frame was dropped.
 *
 * DWT: QEMU models no DWT cycle counter (CYCCNT reads 0 and does not count), so under QEMU the
 * program says so and prints no cycle figures; on a real Cortex-M3/M4/M7/M33/M55 the same code
 * prints cycles per step.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "edgernn_board.h"
#include "model_model.h"

#define CPU_HZ 25000000u  /* mps2-an386: SYSCLK 25 MHz (a real board: its core clock) */
#define FRAME_HZ 500u     /* frames per second the "sensor" delivers */
#define RING_FRAMES 8u    /* a power of two; frames main may fall behind before one is dropped */
#define MAX_STEPS 2048u   /* frames the replayed recording may hold */
#define MAX_STREAMS 16u

/* ---- Cortex-M registers (ARMv7-M Architecture Reference Manual, System Control Space) --------- */
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define DEMCR (*(volatile uint32_t *)0xE000EDFCu)
#define DWT_CTRL (*(volatile uint32_t *)0xE0001000u)
#define DWT_CYCCNT (*(volatile uint32_t *)0xE0001004u)
#define DEMCR_TRCENA (1u << 24)
#define DWT_CTRL_CYCCNTENA 1u

/* ---- the recording the "sensor" replays ---------------------------------------------------- */
static int8_t inputs[MAX_STEPS][MODEL_INPUT_SIZE];
static int8_t expected[MAX_STEPS][MODEL_OUTPUT_SIZE];
static uint8_t starts_stream[MAX_STEPS];
static uint32_t total_frames;

/* ---- the ring buffer: the interrupt writes head, main writes tail ---------------------------- */
typedef struct {
    int8_t values[MODEL_INPUT_SIZE];
    uint8_t new_stream; /* first frame of a new stream: reset the model before stepping it */
    uint32_t index;     /* position in the recording (for the comparison only) */
} frame_t;

static frame_t ring[RING_FRAMES];
static volatile uint32_t ring_head;
static volatile uint32_t ring_tail;
static volatile uint32_t produced;
static volatile uint32_t dropped;

static inline void memory_barrier(void)
{
    __asm__ volatile("dmb" ::: "memory");
}

/* Producer, in interrupt context: one frame per tick, never blocks, never steps the model. */
void SysTick_Handler(void)
{
    if (produced == total_frames) {
        return;
    }
    const uint32_t index = produced++;
    if (ring_head - ring_tail == RING_FRAMES) {
        ++dropped; /* main is too slow: this frame is lost, as a real sensor's would be */
        return;
    }
    frame_t *slot = &ring[ring_head % RING_FRAMES];
    memcpy(slot->values, inputs[index], sizeof slot->values);
    slot->new_stream = starts_stream[index];
    slot->index = index;
    memory_barrier(); /* the frame is written before main can see the new head */
    ring_head = ring_head + 1u;
}

/* ---- DWT cycle counter --------------------------------------------------------------------- */
static int dwt_start(void)
{
    DEMCR |= DEMCR_TRCENA;
    DWT_CYCCNT = 0u;
    DWT_CTRL |= DWT_CTRL_CYCCNTENA;
    const uint32_t before = DWT_CYCCNT;
    for (volatile int i = 0; i < 100; ++i) {
    }
    return DWT_CYCCNT != before; /* 0 under QEMU: no DWT model, CYCCNT reads 0 */
}

/* ---- loading the recording (semihosting) ----------------------------------------------------- */
static uint32_t read_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static int load(const char *path)
{
    static uint8_t header[100];
    FILE *f = fopen(path, "rb");
    if (f == NULL || fread(header, 1, sizeof header, f) != sizeof header) {
        printf("stream error: cannot read %s\n", path);
        return 0;
    }
    const uint32_t streams = read_u32(header + 88);
    if (memcmp(header, "ERNNVEC1", 8) != 0 || memcmp(header + 8, MODEL_MODEL_SHA256, 64) != 0 ||
        read_u32(header + 72) != 0u || read_u32(header + 76) != 0u || read_u32(header + 80) != MODEL_INPUT_SIZE ||
        read_u32(header + 84) != MODEL_OUTPUT_SIZE || streams > MAX_STREAMS) {
        printf("stream error: %s is not an int8 vector file of this model\n", path);
        return 0;
    }
    for (uint32_t s = 0; s < streams; ++s) {
        uint8_t count[4];
        if (fread(count, 1, 4, f) != 4 || read_u32(count) > MAX_STEPS - total_frames) {
            printf("stream error: truncated or longer than %u frames\n", (unsigned)MAX_STEPS);
            return 0;
        }
        for (uint32_t t = 0, steps = read_u32(count); t < steps; ++t, ++total_frames) {
            starts_stream[total_frames] = t == 0u;
            if (fread(inputs[total_frames], 1, MODEL_INPUT_SIZE, f) != MODEL_INPUT_SIZE ||
                fread(expected[total_frames], 1, MODEL_OUTPUT_SIZE, f) != MODEL_OUTPUT_SIZE) {
                printf("stream error: truncated\n");
                return 0;
            }
        }
    }
    fclose(f);
    return 1;
}

/* ---- the firmware ---------------------------------------------------------------------------- */
static model_state_t state; /* recurrent state + scratch: RAM, written by every step */

int main(int argc, char **argv)
{
    if (!load(argc > 1 ? argv[1] : "vectors.bin") || model_init(&state) != ERNN_OK) {
        return 2;
    }
    const int dwt = dwt_start();
    uint32_t consumed = 0, mismatches = 0, streams = 0, sleeps = 0;
    uint32_t cycles_min = UINT32_MAX, cycles_max = 0;
    uint64_t cycles_sum = 0;

    SYST_RVR = CPU_HZ / FRAME_HZ - 1u;
    SYST_CVR = 0u;
    SYST_CSR = 7u; /* processor clock, interrupt, enable */

    while (consumed + dropped < total_frames) {
        /* Sleep until the next interrupt unless a frame is waiting. Interrupts are masked while
         * checking so that a frame arriving between the check and WFI still wakes the core (WFI
         * wakes on a pending interrupt even when PRIMASK masks it); unmasking runs the handler. */
        __asm__ volatile("cpsid i" ::: "memory");
        if (ring_head == ring_tail) {
            __asm__ volatile("wfi");
            ++sleeps;
            __asm__ volatile("cpsie i" ::: "memory");
            continue;
        }
        __asm__ volatile("cpsie i" ::: "memory");

        const frame_t *frame = &ring[ring_tail % RING_FRAMES];
        int8_t y[MODEL_OUTPUT_SIZE];
        if (frame->new_stream) {
            (void)model_reset(&state); /* a new recording / utterance: forget the previous one */
            ++streams;
        }
        const uint32_t start = DWT_CYCCNT;
        const ernn_status status = model_step(&state, frame->values, y);
        const uint32_t cycles = DWT_CYCCNT - start;
        if (status != ERNN_OK) {
            printf("stream error: model_step returned %d\n", (int)status);
            return 2;
        }
        if (memcmp(y, expected[frame->index], sizeof y) != 0) {
            if (mismatches++ == 0u) {
                printf("stream mismatch: frame %u\n", (unsigned)frame->index);
            }
        }
        memory_barrier(); /* done reading the slot before the producer may reuse it */
        ring_tail = ring_tail + 1u;
        ++consumed;
        cycles_min = cycles < cycles_min ? cycles : cycles_min;
        cycles_max = cycles > cycles_max ? cycles : cycles_max;
        cycles_sum += cycles;
    }
    SYST_CSR = 0u;

    printf("stream: weights (const) at 0x%08lx, state (%u bytes) at 0x%08lx\n", (unsigned long)(uintptr_t)model_model(),
           (unsigned)sizeof state, (unsigned long)(uintptr_t)&state);
    if (dwt) {
        printf("stream: step cycles (DWT) min %lu max %lu mean %lu\n", (unsigned long)cycles_min,
               (unsigned long)cycles_max, (unsigned long)(cycles_sum / (consumed ? consumed : 1u)));
    } else {
        printf("stream: DWT CYCCNT does not count here (QEMU models no DWT): no cycle figures\n");
    }
    printf("stream: %u frames in %u streams, %u mismatches, %u dropped, slept %u times\n", (unsigned)consumed,
           (unsigned)streams, (unsigned)mismatches, (unsigned)dropped, (unsigned)sleeps);
    return mismatches == 0u && dropped == 0u ? 0 : 1;
}
