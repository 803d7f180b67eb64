#ifndef RFS_PYTHON_SHIM_H
#define RFS_PYTHON_SHIM_H

// Plain C wrappers for the parts of the CPython C API that Swift cannot import: macros
// (Py_None, Py*_Check, Py_BEGIN_ALLOW_THREADS, PyModuleDef_HEAD_INIT), the PyExc_* globals
// (rejected by Swift 6 as unsafe shared mutable state), variadic argument parsing and the
// PyConfig dance. Swift code imports only this module (not CPython directly): Python.h comes in
// here, after the glibc headers, so Swift does not see fd_set twice (DESIGN.md §5).
//
// Reference ownership is spelled out on every declaration: "new" means the caller owns the
// returned reference and must release it, "borrowed" means it must not.

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>

// MARK: - Singletons and reference counting

/// Borrowed reference to None / True / False (immortal in practice; never release).
PyObject *rfs_py_none(void);
PyObject *rfs_py_true(void);
PyObject *rfs_py_false(void);
/// New reference to None / False, for returning from a C function.
PyObject *rfs_py_new_none(void);
PyObject *rfs_py_new_false(void);
void rfs_py_incref(PyObject *object);
void rfs_py_decref(PyObject *object);
void rfs_py_xdecref(PyObject *object);

// MARK: - Type checks (macros in Python.h)

int rfs_py_is_none(PyObject *object);
int rfs_py_unicode_check(PyObject *object);
int rfs_py_long_check(PyObject *object);
int rfs_py_tuple_check(PyObject *object);
int rfs_py_list_check(PyObject *object);

// MARK: - Exceptions

/// Borrowed references to built-in exception types.
PyObject *rfs_exc_keyboard_interrupt(void);
PyObject *rfs_exc_timeout_error(void);
PyObject *rfs_exc_connection_error(void);
PyObject *rfs_exc_runtime_error(void);
PyObject *rfs_exc_type_error(void);
PyObject *rfs_exc_value_error(void);
PyObject *rfs_exc_permission_error(void);

/// Raises `exception_type` (borrowed) without arguments. Always returns NULL.
PyObject *rfs_err_set_none(PyObject *exception_type);

/// Takes the current exception (if any) off the thread state, normalises it and attaches its
/// traceback (`__traceback__`), so one object carries everything. New reference or NULL when no
/// exception was set. Needs the GIL.
PyObject *rfs_err_take_exception(void);

/// Raises `exception_type` (borrowed) with a UTF-8 message. Always returns NULL, so a C
/// function can `return rfs_err_set_string(...)`.
PyObject *rfs_err_set_string(PyObject *exception_type, const char *message);

/// Schedules a KeyboardInterrupt check on Python's main thread with Py_AddPendingCall. Callable
/// from any thread without the GIL; never blocks on Python. Returns 0 on success, -1 when
/// CPython's pending-call queue is full.
int rfs_schedule_interrupt_check(void);

/// Raises an exception in another Python thread (PyThreadState_SetAsyncExc); needs the GIL.
/// Returns the number of thread states modified.
int rfs_set_async_exception(unsigned long thread_id, PyObject *exception_type);

// MARK: - Interpreter life cycle

/// How `rfs_python_initialize` sets up PyConfig. Strings may be NULL for "CPython default".
typedef struct {
    /// 1: isolated config (ignores PYTHON* environment variables, no user site); 0: inherit env.
    int isolated;
    int write_bytecode;
    int site_import;
    /// 1 in a run host: CPython's own SIGINT (KeyboardInterrupt) and SIGPIPE (ignored) handling,
    /// as in `python job.py`; 0 when the embedding process owns its signals.
    int install_signal_handlers;
    const char *home;
    const char *program_name;
    /// Where bytecode is read and written instead of `__pycache__` next to sources
    /// (PyConfig.pycache_prefix); NULL for CPython's default.
    const char *pycache_prefix;
} rfs_python_options;

/// The installation prefix of the libpython this process uses (e.g. `/usr` for Debian's
/// `/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0`), found from the library's own path and
/// checked against the landmark `<prefix>/lib/pythonX.Y/os.py`; written to `buffer`. Returns 0,
/// or -1 when it cannot be determined (then CPython's own search applies). Without it, an
/// embedded interpreter searches PATH for `python3` and may take the standard library of a
/// different Python (a pyenv one, say) than the one it was built with.
int rfs_python_library_prefix(char *buffer, size_t size);

/// Registers `_rfs_bridge` with PyImport_AppendInittab and initialises CPython on the calling
/// thread (which becomes Python's main thread, holding the GIL on success). Signal handlers are
/// installed only when the options say so; argv is not parsed. On failure returns -1 and writes a message to `error`.
int rfs_python_initialize(const rfs_python_options *options, char *error, size_t error_size);

// MARK: - The _rfs_bridge builtin module

/// Implements `_rfs_bridge.request`. Called with the GIL held and the arguments already
/// converted to UTF-8 (valid only during the call). `has_timeout` is 0 for `timeout=None`.
/// Returns a new reference (the response string) or NULL with a Python exception set.
typedef PyObject *(*rfs_bridge_request_fn)(
    const char *connection_id, Py_ssize_t connection_id_length,
    const char *method, Py_ssize_t method_length,
    const char *params_json, Py_ssize_t params_json_length,
    int has_timeout, double timeout);

/// Implements `_rfs_bridge.write`. Called with the GIL held. Returns 0, or -1 with an exception.
typedef int (*rfs_bridge_write_fn)(
    const char *stream, Py_ssize_t stream_length,
    const char *text, Py_ssize_t text_length);

/// Runs on Python's main thread with the GIL from a pending call. Returns 1 when a
/// KeyboardInterrupt should be raised in the running code, 0 otherwise.
typedef int (*rfs_interrupt_check_fn)(void);

/// Implements `_rfs_bridge.take_interrupt()` for the run host's SIGINT handler: a new reference
/// to None (no interrupt was requested), False (one is pending but cannot be delivered now) or a
/// str (deliver KeyboardInterrupt with this message; "" for none).
typedef PyObject *(*rfs_take_interrupt_fn)(void);

typedef struct {
    rfs_bridge_request_fn request;
    rfs_bridge_write_fn write;
    rfs_interrupt_check_fn interrupt_check;
    rfs_take_interrupt_fn take_interrupt;
} rfs_bridge_callbacks;

/// Installs the Swift implementations; must be called before `rfs_python_initialize`.
void rfs_bridge_set_callbacks(rfs_bridge_callbacks callbacks);

// MARK: - Small conveniences

/// New reference: `str` from UTF-8 bytes (errors: "surrogateescape" never; invalid UTF-8
/// raises). NULL with an exception set on failure.
PyObject *rfs_unicode_from_utf8(const char *bytes, Py_ssize_t length);

/// Calls `callable` (borrowed) with `args` (borrowed tuple). New reference or NULL.
PyObject *rfs_call(PyObject *callable, PyObject *args);

#endif
