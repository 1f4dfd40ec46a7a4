/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file startup.c
 * @brief Vector table of QEMU's "microbit" machine (Cortex-M0) for edgernn's board support.
 *
 * BBC micro:bit (nRF51822). QEMU maps 256 KiB of flash at 0x00000000 and 16 KiB of SRAM at 0x20000000.
 * The vector table has the 16 system entries and the 32 external interrupts of ARMv6-M.
 *
 * Part of edgernn's firmware_export/boards (hand-written, model-independent). The vector table is
 * boards/common/cortexm_vectors.h, the reset and fault handlers boards/common/cortexm_startup.c; the memory map is in microbit.ld.
 * Every external interrupt goes to Default_Handler, which reports the exception and exits.
 */
#define BOARD_IRQ_COUNT 32
#define BOARD_IRQ_HANDLERS BOARD_IRQS_16, BOARD_IRQS_16

#include "cortexm_vectors.h"
