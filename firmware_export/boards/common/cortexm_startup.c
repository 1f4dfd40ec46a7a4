/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cortexm_startup.c
 * @brief Reset handler, fault handlers, semihosting and stack painting shared by edgernn's QEMU
 *        Cortex-M boards (ARMv6-M, ARMv7-M, ARMv8-M and ARMv8.1-M).
 *
 * Part of edgernn's firmware_export/boards (hand-written, model-independent). Link with
 * newlib's semihosting C library (--specs=nano.specs --specs=rdimon.specs -nostartfiles),
 * one boards/<board>/startup.c (the vector table) and boards/<board>/<board>.ld.
 *
 * Reset sequence: enable the FPU / MVE (before any library code may use it), set the stack
 * limit (ARMv8-M), copy .data, zero .bss, paint the stack, open the semihosting console,
 * run constructors, read the command line from the host (SYS_GET_CMDLINE) into argv, call
 * main and pass its return value to exit(), which flushes stdio and ends QEMU with that status.
 *
 * Define EDGERNN_BOARD_NO_STACK_REPORT to suppress the "board: stack high-water" line that is
 * printed at exit.
 */
#include "edgernn_board.h"

#include <errno.h>
#include <stdlib.h>

/* Linker script symbols (boards/common/cortexm_sections.ld). */
extern uint32_t __data_load;
extern uint32_t __data_start;
extern uint32_t __data_end;
extern uint32_t __bss_start;
extern uint32_t __bss_end;
extern uint32_t __heap_start;
extern uint32_t __stack_limit;

/* newlib / librdimon. */
extern void initialise_monitor_handles(void);
extern void __libc_init_array(void);
extern int main(int argc, char **argv);

/* Semihosting operations (ARM "Semihosting for AArch32 and AArch64", version 2.0). */
enum {
    SYS_WRITE0 = 0x04,
    SYS_GET_CMDLINE = 0x15,
    SYS_EXIT = 0x18,
    SYS_EXIT_EXTENDED = 0x20,
};
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u
#define ADP_STOPPED_RUNTIME_ERROR 0x20023u

#define BOARD_CMDLINE_BYTES 512
#define BOARD_MAX_ARGS 16

/* System control block registers. */
#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)
#define SCB_ICSR (*(volatile uint32_t *)0xE000ED04u)

static int semihost_call(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return (int)r0;
}

void board_puts(const char *text)
{
    (void)semihost_call(SYS_WRITE0, text);
}

void board_exit(int status)
{
    /* SYS_EXIT_EXTENDED carries the status on AArch32 too; plain SYS_EXIT is the fallback for
     * hosts without it (it can only say success or failure). */
    const uint32_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, (uint32_t)status};
    (void)semihost_call(SYS_EXIT_EXTENDED, block);
    (void)semihost_call(SYS_EXIT, (const void *)(uintptr_t)(status == 0 ? ADP_STOPPED_APPLICATION_EXIT
                                                                         : ADP_STOPPED_RUNTIME_ERROR));
    for (;;) {
        __asm__ volatile("wfi");
    }
}

/* Decimal or hexadecimal text of @p value, without the C library (used in faults and at exit). */
static const char *format_unsigned(uint32_t value, unsigned base, char buffer[12])
{
    char *p = buffer + 11;
    *p = '\0';
    do {
        const uint32_t digit = value % base;
        *--p = (char)(digit < 10u ? '0' + digit : 'a' + (digit - 10u));
        value /= base;
    } while (value != 0u);
    return p;
}

/* ---- stack painting ------------------------------------------------------------------------ */

static uintptr_t current_sp(void)
{
    uintptr_t sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    return sp;
}

/* Paint [__stack_limit, end) word by word; volatile so that it cannot become a memset call whose
 * own frame would sit in the region being painted. */
static void paint_stack_below(uintptr_t end)
{
    volatile uint32_t *word = &__stack_limit;
    while ((uintptr_t)word < end) {
        *word++ = BOARD_STACK_PAINT;
    }
}

void board_stack_repaint(void)
{
    /* Leave 16 bytes under the stack pointer alone: nothing lives there, but keep clear of it. */
    paint_stack_below((current_sp() - 16u) & ~(uintptr_t)3u);
}

size_t board_stack_size(void)
{
    return (size_t)((uintptr_t)&__stack_top - (uintptr_t)&__stack_limit);
}

size_t board_stack_high_water(void)
{
    const volatile uint32_t *word = &__stack_limit;
    while (word < &__stack_top && *word == BOARD_STACK_PAINT) {
        ++word;
    }
    return (size_t)((uintptr_t)&__stack_top - (uintptr_t)word);
}

#ifndef EDGERNN_BOARD_NO_STACK_REPORT
static void report_stack(void)
{
    char used[12];
    char size[12];
    const char *used_text = format_unsigned((uint32_t)board_stack_high_water(), 10u, used);
    const char *size_text = format_unsigned((uint32_t)board_stack_size(), 10u, size);
    board_puts("board: stack high-water ");
    board_puts(used_text);
    board_puts(" of ");
    board_puts(size_text);
    board_puts(" bytes\n");
}
#endif

/* ---- heap ---------------------------------------------------------------------------------- */

/* newlib's allocator grows the heap from the end of .bss up to the stack region, never into it
 * (librdimon's own _sbrk, which this replaces, only compares against the current stack pointer
 * and would eat into the painted region). */
void *_sbrk(ptrdiff_t increment);
void *_sbrk(ptrdiff_t increment)
{
    static uintptr_t heap_end;
    if (heap_end == 0u) {
        heap_end = (uintptr_t)&__heap_start;
    }
    const uintptr_t previous = heap_end;
    if (increment > 0 && (uintptr_t)increment > (uintptr_t)&__stack_limit - previous) {
        errno = ENOMEM;
        return (void *)-1;
    }
    heap_end = (uintptr_t)((intptr_t)previous + increment);
    return (void *)previous;
}

/* -nostartfiles leaves out crti/crtn; __libc_init_array and exit call these. */
void _init(void);
void _fini(void);
void _init(void) {}
void _fini(void) {}

/* ---- command line -------------------------------------------------------------------------- */

/* Split the semihosting command line (QEMU: the -semihosting-config arg= values joined by
 * spaces) into argv. Arguments therefore cannot contain spaces. */
static int read_command_line(char **argv)
{
    static char cmdline[BOARD_CMDLINE_BYTES];
    static char program_name[] = "edgernn";
    struct {
        char *buffer;
        int length;
    } block = {cmdline, BOARD_CMDLINE_BYTES - 1};
    int argc = 0;

    if (semihost_call(SYS_GET_CMDLINE, &block) == 0 && block.length > 0) {
        cmdline[block.length < BOARD_CMDLINE_BYTES ? block.length : BOARD_CMDLINE_BYTES - 1] = '\0';
        char *p = cmdline;
        while (*p != '\0' && argc < BOARD_MAX_ARGS) {
            while (*p == ' ') {
                *p++ = '\0';
            }
            if (*p == '\0') {
                break;
            }
            argv[argc++] = p;
            while (*p != '\0' && *p != ' ') {
                ++p;
            }
        }
    }
    if (argc == 0) {
        argv[argc++] = program_name;
    }
    argv[argc] = NULL;
    return argc;
}

/* ---- reset --------------------------------------------------------------------------------- */

static void enable_fpu(void)
{
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
    /* Full access to coprocessors 10 and 11 (the FPU, and MVE on ARMv8.1-M). */
    SCB_CPACR |= (0xFu << 20);
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
}

void Reset_Handler(void)
{
    static char *argv[BOARD_MAX_ARGS + 1];

    enable_fpu();
#if defined(__ARM_ARCH_8M_MAIN__) || defined(__ARM_ARCH_8M_BASE__) || defined(__ARM_ARCH_8_1M_MAIN__)
    /* A stack overflow faults instead of overwriting the heap and .bss. */
    __asm__ volatile("msr msplim, %0" : : "r"(&__stack_limit));
#endif

    const uint32_t *source = &__data_load;
    for (uint32_t *word = &__data_start; word < &__data_end; ++word) {
        *word = *source++;
    }
    for (uint32_t *word = &__bss_start; word < &__bss_end; ++word) {
        *word = 0u;
    }
    paint_stack_below((current_sp() - 64u) & ~(uintptr_t)3u);

    initialise_monitor_handles();
    __libc_init_array();
    const int argc = read_command_line(argv);
#ifndef EDGERNN_BOARD_NO_STACK_REPORT
    (void)atexit(report_stack);
#endif
    exit(main(argc, argv));
}

/* ---- faults -------------------------------------------------------------------------------- */

/* Called with the exception stack frame (r0-r3, r12, lr, pc, xpsr). */
void board_fault_report(const uint32_t *frame) __attribute__((noreturn, used));
void board_fault_report(const uint32_t *frame)
{
    char number[12];
    const uint32_t exception = SCB_ICSR & 0x1FFu;
    board_puts("board: fault, exception ");
    board_puts(format_unsigned(exception, 10u, number));
    board_puts(" at pc=0x");
    board_puts(format_unsigned(frame[6], 16u, number));
    board_puts(" lr=0x");
    board_puts(format_unsigned(frame[5], 16u, number));
    board_puts("\n");
    board_exit(BOARD_FAULT_STATUS);
}

/* Naked so that the frame pointer handed on is the stacked frame itself (main stack only:
 * nothing here switches to the process stack). */
__attribute__((naked)) void HardFault_Handler(void)
{
    __asm__ volatile("mrs r0, msp\n\t"
                     "bl board_fault_report\n\t");
}

__attribute__((naked)) void Default_Handler(void)
{
    __asm__ volatile("mrs r0, msp\n\t"
                     "bl board_fault_report\n\t");
}

#define BOARD_WEAK_HANDLER(name) void name(void) __attribute__((weak, alias("Default_Handler")))
BOARD_WEAK_HANDLER(NMI_Handler);
BOARD_WEAK_HANDLER(MemManage_Handler);
BOARD_WEAK_HANDLER(BusFault_Handler);
BOARD_WEAK_HANDLER(UsageFault_Handler);
BOARD_WEAK_HANDLER(SecureFault_Handler);
BOARD_WEAK_HANDLER(SVC_Handler);
BOARD_WEAK_HANDLER(DebugMon_Handler);
BOARD_WEAK_HANDLER(PendSV_Handler);
BOARD_WEAK_HANDLER(SysTick_Handler);
