/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file insncount.c
 * @brief QEMU TCG plugin: exact counts of executed guest instructions (edgernn's MCU cost measure).
 *
 * Part of edgernn's firmware_export/tools (hand-written). Written against QEMU's plugin API
 * version 1 (QEMU 7.x). Debian ships no qemu-plugin.h, so the few API functions used are
 * declared below; they are resolved against the QEMU binary when the plugin is loaded.
 *
 * Build:  gcc -std=c99 -O2 -shared -fPIC -o libinsncount.so insncount.c
 * Use:    qemu-system-arm ... -plugin ./libinsncount.so,range=0x1000-0x1400,start=0x2000,stop=0x2010 -d plugin
 *
 * Arguments (addresses in hex with 0x or decimal; the Thumb bit of a symbol address is ignored):
 *   range=LO-HI   count instructions whose address is in [LO, HI); repeatable (up to 16 ranges)
 *   start=ADDR    open a counting window each time the instruction at ADDR executes
 *   stop=ADDR     close it each time the instruction at ADDR executes
 *   pcs=LO-HI     also count executions of each instruction whose address is in [LO, HI) (one range;
 *                 for instruction-mix profiles, e.g. benchmarks/m4_cycles.py)
 * start= and stop= are repeatable (up to 16 each), e.g. one stop per call site of a function.
 * The window counts every instruction executed from the start marker (included) to the stop
 * marker (excluded), wherever it is (callees too), summed over all the times it was opened.
 *
 * Output (through the QEMU log, i.e. with -d plugin, at exit), one line each:
 *   insncount: total N
 *   insncount: range LO-HI N
 *   insncount: window N opened K
 *   insncount: pc ADDR N          (with pcs=, one line per executed instruction address)
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- QEMU plugin API, version 1 (the subset used here) ------------------------------------ */
typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op, void *ptr,
                                              uint64_t imm);
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *insn, enum qemu_plugin_op op, void *ptr,
                                                uint64_t imm);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
void qemu_plugin_outs(const char *string);

__attribute__((visibility("default"))) extern int qemu_plugin_version;
__attribute__((visibility("default"))) int qemu_plugin_version = 1;
__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                                               int argc, char **argv);

/* ---- counters ----------------------------------------------------------------------------- */
#define MAX_RANGES 16
#define MAX_MARKERS 16

typedef struct {
    uint64_t lo, hi, count;
} range_t;

static range_t ranges[MAX_RANGES];
static size_t n_ranges;
/* Every executed instruction. Added when a translation block starts, so inside a block a callback
 * sees the block's instructions already counted; the callbacks subtract the ones not yet run. */
static uint64_t total;
static uint64_t start_addresses[MAX_MARKERS], stop_addresses[MAX_MARKERS];
static size_t n_starts, n_stops;
static uint64_t window, window_opened_at, windows_opened;
static int window_open;
#define MAX_PCS 65536 /* halfword slots: 128 KiB of code */
static uint64_t pcs_lo, pcs_hi;
static uint64_t *pc_counts;

/* userdata: how many instructions of the block, from the marker on, are not executed yet. */
static uint64_t executed_before(void *userdata)
{
    return total - (uint64_t)(uintptr_t)userdata;
}

static void on_start(unsigned int vcpu_index, void *userdata)
{
    (void)vcpu_index;
    if (!window_open) {
        window_open = 1;
        window_opened_at = executed_before(userdata);
        ++windows_opened;
    }
}

static void on_stop(unsigned int vcpu_index, void *userdata)
{
    (void)vcpu_index;
    if (window_open) {
        window_open = 0;
        window += executed_before(userdata) - window_opened_at;
    }
}

static int is_marker(uint64_t address, const uint64_t *markers, size_t n)
{
    for (size_t i = 0; i < n; ++i) {
        if (markers[i] == address) {
            return 1;
        }
    }
    return 0;
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    const size_t n = qemu_plugin_tb_n_insns(tb);
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &total, (uint64_t)n);
    for (size_t i = 0; i < n; ++i) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        const uint64_t address = qemu_plugin_insn_vaddr(insn);
        for (size_t r = 0; r < n_ranges; ++r) {
            if (address >= ranges[r].lo && address < ranges[r].hi) {
                qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &ranges[r].count, 1);
            }
        }
        if (pc_counts != NULL && address >= pcs_lo && address < pcs_hi) {
            qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64,
                                                       &pc_counts[(address - pcs_lo) / 2], 1);
        }
        void *not_yet_run = (void *)(uintptr_t)(n - i);
        if (is_marker(address, start_addresses, n_starts)) {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_start, QEMU_PLUGIN_CB_NO_REGS, not_yet_run);
        }
        if (is_marker(address, stop_addresses, n_stops)) {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_stop, QEMU_PLUGIN_CB_NO_REGS, not_yet_run);
        }
    }
}

static void on_exit(qemu_plugin_id_t id, void *userdata)
{
    (void)id;
    (void)userdata;
    char line[128];
    snprintf(line, sizeof line, "insncount: total %" PRIu64 "\n", total);
    qemu_plugin_outs(line);
    for (size_t r = 0; r < n_ranges; ++r) {
        snprintf(line, sizeof line, "insncount: range 0x%" PRIx64 "-0x%" PRIx64 " %" PRIu64 "\n", ranges[r].lo,
                 ranges[r].hi, ranges[r].count);
        qemu_plugin_outs(line);
    }
    if (n_starts > 0) {
        snprintf(line, sizeof line, "insncount: window %" PRIu64 " opened %" PRIu64 "\n", window, windows_opened);
        qemu_plugin_outs(line);
    }
    for (uint64_t i = 0; pc_counts != NULL && i < (pcs_hi - pcs_lo) / 2; ++i) {
        if (pc_counts[i] != 0) {
            snprintf(line, sizeof line, "insncount: pc 0x%" PRIx64 " %" PRIu64 "\n", pcs_lo + 2 * i, pc_counts[i]);
            qemu_plugin_outs(line);
        }
    }
}

/* Parse an address (0x-prefixed hex or decimal); clears the Thumb bit. Returns 0 on error. */
static int parse_address(const char *text, const char **end, uint64_t *address)
{
    char *after;
    const unsigned long long value = strtoull(text, &after, 0);
    if (after == text) {
        return 0;
    }
    *address = (uint64_t)value & ~(uint64_t)1;
    *end = after;
    return 1;
}

static int parse_argument(const char *arg)
{
    const char *end;
    if (strncmp(arg, "range=", 6) == 0 && n_ranges < MAX_RANGES) {
        range_t *r = &ranges[n_ranges];
        if (!parse_address(arg + 6, &end, &r->lo) || *end != '-' || !parse_address(end + 1, &end, &r->hi) ||
            *end != '\0' || r->hi <= r->lo) {
            return 0;
        }
        ++n_ranges;
        return 1;
    }
    if (strncmp(arg, "pcs=", 4) == 0 && pc_counts == NULL) {
        if (!parse_address(arg + 4, &end, &pcs_lo) || *end != '-' || !parse_address(end + 1, &end, &pcs_hi) ||
            *end != '\0' || pcs_hi <= pcs_lo || (pcs_hi - pcs_lo) / 2 > MAX_PCS) {
            return 0;
        }
        pc_counts = calloc((size_t)((pcs_hi - pcs_lo) / 2), sizeof *pc_counts);
        return pc_counts != NULL;
    }
    if (strncmp(arg, "start=", 6) == 0 && n_starts < MAX_MARKERS) {
        return parse_address(arg + 6, &end, &start_addresses[n_starts++]) && *end == '\0';
    }
    if (strncmp(arg, "stop=", 5) == 0 && n_stops < MAX_MARKERS) {
        return parse_address(arg + 5, &end, &stop_addresses[n_stops++]) && *end == '\0';
    }
    return 0;
}

int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
    (void)info;
    for (int i = 0; i < argc; ++i) {
        if (!parse_argument(argv[i])) {
            fprintf(stderr, "insncount: bad argument '%s' (expected range=LO-HI, start=ADDR, stop=ADDR, pcs=LO-HI)\n", argv[i]);
            return -1;
        }
    }
    if ((n_starts == 0) != (n_stops == 0)) {
        fprintf(stderr, "insncount: start= and stop= go together\n");
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, on_exit, NULL);
    return 0;
}
