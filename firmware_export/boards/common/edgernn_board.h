/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file edgernn_board.h
 * @brief Board support for running edgernn exports on QEMU's Cortex-M machines.
 *
 * Part of edgernn's firmware_export/boards (hand-written, model-independent).
 * The startup code (boards/common/cortexm_startup.c plus one boards/<board>/startup.c with the
 * vector table) initialises .data/.bss, enables the FPU where the core has one, paints the stack,
 * passes the semihosting command line to main(argc, argv) and turns main's return value into
 * QEMU's exit status through semihosting.
 */
#ifndef EDGERNN_BOARD_H
#define EDGERNN_BOARD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Exit status after a fault (HardFault, NMI or an unexpected interrupt); 70 is EX_SOFTWARE. */
#define BOARD_FAULT_STATUS 70

/** Word written over the whole stack region at reset; untouched words keep it. */
#define BOARD_STACK_PAINT 0xC5A5A5C5u

/** An entry of the vector table. */
typedef void (*board_handler_t)(void);

/** Runs of external-interrupt vector entries, all routed to Default_Handler. */
#define BOARD_IRQS_4 Default_Handler, Default_Handler, Default_Handler, Default_Handler
#define BOARD_IRQS_16 BOARD_IRQS_4, BOARD_IRQS_4, BOARD_IRQS_4, BOARD_IRQS_4

/** Top of the stack region (the initial stack pointer), from the linker script. */
extern uint32_t __stack_top;

/** Size in bytes of the stack region reserved by the linker script. */
size_t board_stack_size(void);

/**
 * Bytes of the stack region that have been written since it was last painted
 * (at reset, or by board_stack_repaint()): the measured high-water mark.
 */
size_t board_stack_high_water(void);

/**
 * Paint the free part of the stack again (everything below the current stack pointer), so that
 * a later board_stack_high_water() measures only what runs after this call.
 */
void board_stack_repaint(void);

/** Current stack depth: bytes between the stack top and the stack pointer. */
static inline size_t board_stack_depth(void)
{
    uintptr_t sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    return (size_t)((uintptr_t)&__stack_top - sp);
}

/** Write a NUL-terminated string to the semihosting console (QEMU's stdout), unbuffered. */
void board_puts(const char *text);

/** End the program: flushes nothing, reports @p status to the host (QEMU's exit status). */
void board_exit(int status) __attribute__((noreturn));

/** Handlers referenced by the boards' vector tables (cortexm_startup.c). */
void Reset_Handler(void) __attribute__((noreturn));
void NMI_Handler(void);
void HardFault_Handler(void);
void MemManage_Handler(void);
void BusFault_Handler(void);
void UsageFault_Handler(void);
void SecureFault_Handler(void);
void SVC_Handler(void);
void DebugMon_Handler(void);
void PendSV_Handler(void);
void SysTick_Handler(void);
void Default_Handler(void);

#ifdef __cplusplus
}
#endif

#endif /* EDGERNN_BOARD_H */
