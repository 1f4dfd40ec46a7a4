/* Test stand-in for esp_timer.h / esp_err.h as the ESP-IDF example uses them (not shipped). */
#ifndef ESP_TIMER_H_SHIM
#define ESP_TIMER_H_SHIM
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
typedef int esp_err_t;
#define ESP_OK 0
#define ESP_ERROR_CHECK(x)                                                                                             \
    do {                                                                                                               \
        if ((x) != ESP_OK) {                                                                                           \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)
typedef struct esp_timer *esp_timer_handle_t;
typedef void (*esp_timer_cb_t)(void *arg);
typedef enum { ESP_TIMER_TASK } esp_timer_dispatch_t;
typedef struct {
    esp_timer_cb_t callback;
    void *arg;
    esp_timer_dispatch_t dispatch_method;
    const char *name;
    bool skip_unhandled_events;
} esp_timer_create_args_t;
esp_err_t esp_timer_create(const esp_timer_create_args_t *args, esp_timer_handle_t *out);
esp_err_t esp_timer_start_periodic(esp_timer_handle_t timer, uint64_t period_us);
int64_t esp_timer_get_time(void);
#endif
