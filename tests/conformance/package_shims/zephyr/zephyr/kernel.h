/* Test stand-in for the Zephyr kernel API the edgernn sample uses (not shipped). */
#ifndef ZEPHYR_KERNEL_H_SHIM
#define ZEPHYR_KERNEL_H_SHIM

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int64_t ticks;
} k_timeout_t;

#define K_MSEC(ms) ((k_timeout_t){(int64_t)(ms)})
#define K_NO_WAIT ((k_timeout_t){0})
#define K_FOREVER ((k_timeout_t){-1})

struct k_timer {
    void (*expiry)(struct k_timer *timer);
    void (*stop)(struct k_timer *timer);
};
struct k_msgq {
    char *buffer;
    size_t msg_size;
    uint32_t max_msgs;
};

#define K_TIMER_DEFINE(name, expiry_fn, stop_fn) struct k_timer name = {expiry_fn, stop_fn}
#define K_MSGQ_DEFINE(name, size, count, align)                                                    \
    static char __attribute__((aligned(align))) name##_buffer[(size) * (count)];                    \
    struct k_msgq name = {name##_buffer, (size), (count)}

void k_timer_start(struct k_timer *timer, k_timeout_t duration, k_timeout_t period);
int k_msgq_put(struct k_msgq *msgq, const void *data, k_timeout_t timeout);
int k_msgq_get(struct k_msgq *msgq, void *data, k_timeout_t timeout);
uint32_t k_cycle_get_32(void);

#endif
