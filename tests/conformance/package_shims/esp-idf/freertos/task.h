/* Test stand-in (not shipped). */
#ifndef FREERTOS_TASK_H_SHIM
#define FREERTOS_TASK_H_SHIM
#include "freertos/FreeRTOS.h"
typedef void (*TaskFunction_t)(void *arg);
typedef struct tskTaskControlBlock *TaskHandle_t;
BaseType_t xTaskCreate(TaskFunction_t fn, const char *name, uint32_t stack_depth, void *arg, UBaseType_t priority,
                       TaskHandle_t *created);
void vTaskDelete(TaskHandle_t task);
#endif
