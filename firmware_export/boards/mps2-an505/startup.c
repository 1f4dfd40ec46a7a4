/**
 * @file startup.c
 * @brief Vector table of QEMU's "mps2-an505" machine (Cortex-M33) for edgernn's board support.
 *
 * ARM MPS2 with the AN505 FPGA image (SSE-200 subsystem; Cortex-M33 with FPU and DSP). The core
 * resets in the Secure state with SVTOR = 0x10000000, so everything uses the secure aliases: code
 * in ZBT SSRAM1 at 0x10000000 (4 MiB), data in ZBT SSRAM2/3 at 0x38000000 (2 x 2 MiB, contiguous).
 * QEMU 7.2 models 140 external interrupts.
 *
 * Part of edgernn's firmware_export/boards (hand-written, model-independent). The reset and
 * fault handlers are in boards/common/cortexm_startup.c; the memory map is in mps2-an505.ld.
 * Every external interrupt goes to Default_Handler, which reports the exception and exits.
 */
#include "edgernn_board.h"

#define BOARD_IRQ_COUNT 140

/* Initial stack pointer, then the 15 system exception handlers, then the external interrupts. */
typedef struct {
    uint32_t *initial_sp;
    board_handler_t system[15];
    board_handler_t irq[BOARD_IRQ_COUNT];
} board_vector_table_t;

__attribute__((section(".vectors"), used)) const board_vector_table_t board_vector_table = {
    &__stack_top,
    {
        Reset_Handler,          /*  1 */
        NMI_Handler,            /*  2 */
        HardFault_Handler,      /*  3 */
        MemManage_Handler,      /*  4 */
        BusFault_Handler,       /*  5 */
        UsageFault_Handler,     /*  6 */
        SecureFault_Handler,    /*  7 */
        0,                      /*  8 reserved */
        0,                      /*  9 reserved */
        0,                      /* 10 reserved */
        SVC_Handler,            /* 11 */
        DebugMon_Handler,       /* 12 */
        0,                      /* 13 reserved */
        PendSV_Handler,         /* 14 */
        SysTick_Handler,        /* 15 */
    },
    {
        BOARD_IRQS_16,
        BOARD_IRQS_16,
        BOARD_IRQS_16,
        BOARD_IRQS_16,
        BOARD_IRQS_16,
        BOARD_IRQS_16,
        BOARD_IRQS_16,
        BOARD_IRQS_16,
        BOARD_IRQS_4,
        BOARD_IRQS_4,
        BOARD_IRQS_4,
    },
};
