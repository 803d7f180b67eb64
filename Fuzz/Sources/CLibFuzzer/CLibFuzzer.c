#include "CLibFuzzer.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

// From the fuzzer runtime that -sanitize=fuzzer links.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

// Defined by each fuzz target (Swift, @_cdecl).
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

void RFSFuzzMain(int argc, char **argv) {
    exit(LLVMFuzzerRunDriver(&argc, &argv, LLVMFuzzerTestOneInput));
}
