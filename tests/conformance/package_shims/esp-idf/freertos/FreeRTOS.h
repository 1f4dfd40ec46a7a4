/* Test stand-in for the FreeRTOS types the ESP-IDF example uses (not shipped). */
#ifndef FREERTOS_H_SHIM
#define FREERTOS_H_SHIM
#include <stdint.h>
typedef int BaseType_t;
typedef unsigned int UBaseType_t;
typedef uint32_t TickType_t;
#define pdTRUE ((BaseType_t)1)
#define portMAX_DELAY ((TickType_t)0xffffffffUL)
#endif
