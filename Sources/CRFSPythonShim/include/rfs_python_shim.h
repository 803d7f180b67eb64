#ifndef RFS_PYTHON_SHIM_H
#define RFS_PYTHON_SHIM_H
// Placeholder; the embedded-CPython work fills this in.
int rfs_shim_placeholder(void);
#endif
