#include "CLibFuzzer.h"

#include <stdlib.h>

// From the fuzzer runtime that `-sanitize=fuzzer` links.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

void RFSFuzzMain(int argc, char **argv, RFSFuzzCallback callback) {
    exit(LLVMFuzzerRunDriver(&argc, &argv, callback));
}
