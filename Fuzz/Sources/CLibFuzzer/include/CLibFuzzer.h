#ifndef RFS_CLIBFUZZER_H
#define RFS_CLIBFUZZER_H

/// Runs libFuzzer's driver on the program's arguments, testing each input with the target's
/// `LLVMFuzzerTestOneInput` (each fuzz target defines it with `@_cdecl`), and exits with the
/// driver's status.
///
/// Our fuzz targets are SwiftPM executables, and SwiftPM gives an executable's entry point a name
/// of its own (and links `main` to it), so the `main` of libFuzzer's runtime cannot be used; the
/// runtime's `LLVMFuzzerRunDriver` (LLVM 11+) is the documented way to start it from our own.
_Noreturn void RFSFuzzMain(int argc, char **argv);

#endif
