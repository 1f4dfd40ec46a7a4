/**
 * @file startup.c
 * @brief Vector table of QEMU's "microbit" machine (Cortex-M0) for edgernn's board support.
 *
 * BBC micro:bit (nRF51822). QEMU maps 256 KiB of flash at 0x00000000 and 16 KiB of SRAM at 0x20000000.
 * The vector table has the 16 system entries and the 32 external interrupts of ARMv6-M.
 *
 * Part of edgernn's firmware_export/boards (hand-written, model-independent). The reset and
 * fault handlers are in boards/common/cortexm_startup.c; the memory map is in microbit.ld.
 * Every external interrupt goes to Default_Handler, which reports the exception and exits.
 */
#include "edgernn_board.h"

#define BOARD_IRQ_COUNT 32

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
        0,                      /*  4 reserved */
        0,                      /*  5 reserved */
        0,                      /*  6 reserved */
        0,                      /*  7 reserved */
        0,                      /*  8 reserved */
        0,                      /*  9 reserved */
        0,                      /* 10 reserved */
        SVC_Handler,            /* 11 */
        0,                      /* 12 reserved */
        0,                      /* 13 reserved */
        PendSV_Handler,         /* 14 */
        SysTick_Handler,        /* 15 */
    },
    {
        BOARD_IRQS_16,
        BOARD_IRQS_16,
    },
};
