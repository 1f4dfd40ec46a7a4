/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file startup.c
 * @brief Vector table of QEMU's "mps2-an505" machine (Cortex-M33) for edgernn's board support.
 *
 * ARM MPS2 with the AN505 FPGA image (SSE-200 subsystem; Cortex-M33 with FPU and DSP). The core
 * resets in the Secure state with SVTOR = 0x10000000, so everything uses the secure aliases: code
 * in ZBT SSRAM1 at 0x10000000 (4 MiB), data in ZBT SSRAM2/3 at 0x38000000 (2 x 2 MiB, contiguous).
 * QEMU 7.2 models 140 external interrupts.
 *
 * Part of edgernn's firmware_export/boards (hand-written, model-independent). The vector table is
 * boards/common/cortexm_vectors.h, the reset and fault handlers boards/common/cortexm_startup.c; the memory map is in mps2-an505.ld.
 * Every external interrupt goes to Default_Handler, which reports the exception and exits.
 */
#define BOARD_IRQ_COUNT 140
#define BOARD_IRQ_HANDLERS BOARD_IRQS_16, BOARD_IRQS_16, BOARD_IRQS_16, BOARD_IRQS_16, BOARD_IRQS_16, BOARD_IRQS_16, BOARD_IRQS_16, BOARD_IRQS_16, BOARD_IRQS_4, BOARD_IRQS_4, BOARD_IRQS_4

#include "cortexm_vectors.h"
