/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cortexm_vectors.h
 * @brief The Cortex-M vector table, shared by every board's startup.c.
 *
 * A board defines BOARD_IRQ_COUNT (its external interrupts) and BOARD_IRQ_HANDLERS (that many
 * entries, usually runs of BOARD_IRQS_16 / BOARD_IRQS_4), then includes this file. The 15 system
 * exceptions follow the architecture the compiler targets: ARMv6-M (M0) has no MemManage,
 * BusFault, UsageFault or DebugMonitor; ARMv8-M Mainline (M33, M55) adds SecureFault.
 *
 * Part of edgernn's firmware_export/boards (hand-written, model-independent).
 */
#ifndef EDGERNN_CORTEXM_VECTORS_H
#define EDGERNN_CORTEXM_VECTORS_H

#include "edgernn_board.h"

#if !defined(BOARD_IRQ_COUNT) || !defined(BOARD_IRQ_HANDLERS)
#error "define BOARD_IRQ_COUNT and BOARD_IRQ_HANDLERS before including cortexm_vectors.h"
#endif

#if defined(__ARM_ARCH) && __ARM_ARCH == 6 /* ARMv6-M */
#define BOARD_FAULT_HANDLERS 0, 0, 0
#define BOARD_DEBUGMON_HANDLER 0
#else
#define BOARD_FAULT_HANDLERS MemManage_Handler, BusFault_Handler, UsageFault_Handler
#define BOARD_DEBUGMON_HANDLER DebugMon_Handler
#endif
#if defined(__ARM_ARCH) && __ARM_ARCH >= 8 /* ARMv8-M / v8.1-M Mainline */
#define BOARD_SECUREFAULT_HANDLER SecureFault_Handler
#else
#define BOARD_SECUREFAULT_HANDLER 0
#endif

/* Initial stack pointer, then the 15 system exception handlers, then the external interrupts. */
typedef struct {
    uint32_t *initial_sp;
    board_handler_t system[15];
    board_handler_t irq[BOARD_IRQ_COUNT];
} board_vector_table_t;

__attribute__((section(".vectors"), used)) const board_vector_table_t board_vector_table = {
    &__stack_top,
    {
        Reset_Handler,             /*  1 */
        NMI_Handler,               /*  2 */
        HardFault_Handler,         /*  3 */
        BOARD_FAULT_HANDLERS,      /*  4 MemManage, 5 BusFault, 6 UsageFault */
        BOARD_SECUREFAULT_HANDLER, /*  7 */
        0,                         /*  8 reserved */
        0,                         /*  9 reserved */
        0,                         /* 10 reserved */
        SVC_Handler,               /* 11 */
        BOARD_DEBUGMON_HANDLER,    /* 12 */
        0,                         /* 13 reserved */
        PendSV_Handler,            /* 14 */
        SysTick_Handler,           /* 15 */
    },
    {BOARD_IRQ_HANDLERS},
};

#endif /* EDGERNN_CORTEXM_VECTORS_H */
