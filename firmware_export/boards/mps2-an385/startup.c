/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file startup.c
 * @brief Vector table of QEMU's "mps2-an385" machine (Cortex-M3) for edgernn's board support.
 *
 * ARM MPS2 with the AN385 FPGA image (Cortex-M3). ZBT SSRAM1 (4 MiB) at 0x00000000 holds the code,
 * ZBT SSRAM2/3 (4 MiB) at 0x20000000 the data. QEMU 7.2 models 48 external interrupts.
 *
 * Part of edgernn's firmware_export/boards (hand-written, model-independent). The vector table is
 * boards/common/cortexm_vectors.h, the reset and fault handlers boards/common/cortexm_startup.c; the memory map is in mps2-an385.ld.
 * Every external interrupt goes to Default_Handler, which reports the exception and exits.
 */
#define BOARD_IRQ_COUNT 48
#define BOARD_IRQ_HANDLERS BOARD_IRQS_16, BOARD_IRQS_16, BOARD_IRQS_16

#include "cortexm_vectors.h"
