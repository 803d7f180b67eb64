#include <sys/select.h>
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "rfs_python_shim.h"
int rfs_shim_placeholder(void) { return Py_IsInitialized(); }
