#ifndef RFS_CLIBFUZZER_H
#define RFS_CLIBFUZZER_H

#include <stddef.h>
#include <stdint.h>

/// One fuzz input: libFuzzer's `LLVMFuzzerTestOneInput` signature.
typedef int (*RFSFuzzCallback)(const uint8_t *data, size_t size);

/// Runs libFuzzer's driver on the program's arguments and exits with its status.
///
/// Our fuzz targets are SwiftPM executables, and SwiftPM gives an executable's entry point a name
/// of its own (and links `main` to it), so the `main` of libFuzzer's runtime cannot be used; the
/// runtime's `LLVMFuzzerRunDriver` (LLVM 11+) is the documented way to start it from our own.
_Noreturn void RFSFuzzMain(int argc, char **argv, RFSFuzzCallback callback);

#endif
