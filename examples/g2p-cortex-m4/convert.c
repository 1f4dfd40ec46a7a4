/*
 * Grapheme-to-phoneme on a microcontroller: each word given as an argument (semihosting argv on
 * QEMU) is spelled into source token ids, encoded, and decoded greedily by the generated g2p_greedy().
 * Prints "word: PH ON EM ES" per word. No malloc; all model memory is one static g2p_state_t.
 */
#include <stdio.h>
#include <string.h>

#include "g2p_seq2seq.h"

static g2p_state_t state;

/* The source id whose name is the one character c, or -1. */
static int32_t letter_id(char c)
{
    for (int32_t id = 0; id < G2P_SOURCE_VOCAB_SIZE; ++id) {
        const char *name = g2p_source_name(id);
        if (name[0] == c && name[1] == '\0') {
            return id;
        }
    }
    return -1;
}

int main(int argc, char **argv)
{
    static int32_t letters[G2P_MAX_INPUT_LEN];
    static int32_t phonemes[G2P_MAX_OUTPUT_LEN];
    if (g2p_init(&state) != ERNN_OK) {
        printf("g2p: init failed\n");
        return 2;
    }
    int status = 0;
    for (int i = 1; i < argc; ++i) {
        const size_t n = strlen(argv[i]);
        int ok = n > 0 && n <= G2P_MAX_INPUT_LEN;
        for (size_t k = 0; ok && k < n; ++k) {
            letters[k] = letter_id(argv[i][k]);
            ok = letters[k] >= 0;
        }
        int32_t count = 0;
        if (!ok || g2p_greedy(&state, letters, (int32_t)n, phonemes, &count) != ERNN_OK) {
            printf("%s: not a word this model spells (letters a-z and ', at most %d)\n", argv[i], G2P_MAX_INPUT_LEN);
            status = 1;
            continue;
        }
        printf("%s:", argv[i]);
        for (int32_t k = 0; k < count; ++k) {
            printf(" %s", g2p_target_name(phonemes[k]));
        }
        printf("\n");
    }
    return status;
}
