/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file startup.c
 * @brief Vector table of QEMU's "mps3-an547" machine (Cortex-M55) for edgernn's board support.
 *
 * ARM MPS3 with the AN547 FPGA image (SSE-300 subsystem; Cortex-M55 with FPU and MVE). The core runs
 * Secure: code in the ITCM's secure alias at 0x10000000 (512 KiB, also visible at 0x00000000
 * where the vector table is fetched), data in the DTCM's secure alias at 0x30000000 (512 KiB).
 * QEMU 7.2 models 144 external interrupts.
 *
 * Part of edgernn's firmware_export/boards (hand-written, model-independent). The vector table is
 * boards/common/cortexm_vectors.h, the reset and fault handlers boards/common/cortexm_startup.c; the memory map is in mps3-an547.ld.
 * Every external interrupt goes to Default_Handler, which reports the exception and exits.
 */
#define BOARD_IRQ_COUNT 144
#define BOARD_IRQ_HANDLERS BOARD_IRQS_16, BOARD_IRQS_16, BOARD_IRQS_16, BOARD_IRQS_16, BOARD_IRQS_16, BOARD_IRQS_16, BOARD_IRQS_16, BOARD_IRQS_16, BOARD_IRQS_16

#include "cortexm_vectors.h"
