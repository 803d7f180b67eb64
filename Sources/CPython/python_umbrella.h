// Glibc's select.h must come before Python.h, or Swift sees two definitions of fd_set
// (DESIGN.md §5). PY_SSIZE_T_CLEAN is required for '#' formats in 3.10+.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>
#define PY_SSIZE_T_CLEAN
#include <Python.h>
