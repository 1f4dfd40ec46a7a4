/* Test stand-in (not shipped). */
#ifndef FREERTOS_QUEUE_H_SHIM
#define FREERTOS_QUEUE_H_SHIM
#include "freertos/FreeRTOS.h"
typedef struct QueueDefinition *QueueHandle_t;
QueueHandle_t xQueueCreate(UBaseType_t length, UBaseType_t item_size);
BaseType_t xQueueSend(QueueHandle_t queue, const void *item, TickType_t wait);
BaseType_t xQueueReceive(QueueHandle_t queue, void *item, TickType_t wait);
#endif
