#define _GNU_SOURCE  // dladdr
#include "rfs_python_shim.h"

#include <dlfcn.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

// MARK: - Singletons and reference counting

PyObject *rfs_py_none(void) { return Py_None; }
PyObject *rfs_py_true(void) { return Py_True; }
PyObject *rfs_py_false(void) { return Py_False; }
PyObject *rfs_py_new_none(void) { Py_RETURN_NONE; }
PyObject *rfs_py_new_false(void) { Py_RETURN_FALSE; }
void rfs_py_incref(PyObject *object) { Py_INCREF(object); }
void rfs_py_decref(PyObject *object) { Py_DECREF(object); }
void rfs_py_xdecref(PyObject *object) { Py_XDECREF(object); }

// MARK: - Type checks

int rfs_py_is_none(PyObject *object) { return object == Py_None; }
int rfs_py_unicode_check(PyObject *object) { return PyUnicode_Check(object); }
int rfs_py_long_check(PyObject *object) { return PyLong_Check(object); }
int rfs_py_tuple_check(PyObject *object) { return PyTuple_Check(object); }
int rfs_py_list_check(PyObject *object) { return PyList_Check(object); }

// MARK: - Exceptions

PyObject *rfs_exc_keyboard_interrupt(void) { return PyExc_KeyboardInterrupt; }
PyObject *rfs_exc_timeout_error(void) { return PyExc_TimeoutError; }
PyObject *rfs_exc_connection_error(void) { return PyExc_ConnectionError; }
PyObject *rfs_exc_runtime_error(void) { return PyExc_RuntimeError; }
PyObject *rfs_exc_type_error(void) { return PyExc_TypeError; }
PyObject *rfs_exc_value_error(void) { return PyExc_ValueError; }
PyObject *rfs_exc_permission_error(void) { return PyExc_PermissionError; }

PyObject *rfs_err_take_exception(void) {
    PyObject *type = NULL, *value = NULL, *traceback = NULL;
    PyErr_Fetch(&type, &value, &traceback);  // all three: new references (or NULL)
    if (type == NULL) {
        return NULL;
    }
    PyErr_NormalizeException(&type, &value, &traceback);  // replaces the references in place
    if (traceback != NULL && value != NULL) {
        PyException_SetTraceback(value, traceback);  // does not steal `traceback`
    }
    Py_XDECREF(type);
    Py_XDECREF(traceback);
    if (value == NULL) {  // cannot happen after normalisation, but never return a NULL "exception"
        Py_RETURN_NONE;
    }
    return value;  // the new reference from PyErr_Fetch / normalisation goes to the caller
}

PyObject *rfs_err_set_none(PyObject *exception_type) {
    PyErr_SetNone(exception_type);
    return NULL;
}

PyObject *rfs_err_set_string(PyObject *exception_type, const char *message) {
    PyErr_SetString(exception_type, message);
    return NULL;
}

static rfs_bridge_callbacks bridge_callbacks;

/// Runs on the main thread between bytecodes with the GIL (Py_AddPendingCall). Returning -1 with
/// an exception set makes the interpreter raise it in the running frame.
static int interrupt_trampoline(void *unused) {
    (void)unused;
    if (bridge_callbacks.interrupt_check != NULL && bridge_callbacks.interrupt_check()) {
        PyErr_SetNone(PyExc_KeyboardInterrupt);
        return -1;
    }
    return 0;
}

int rfs_schedule_interrupt_check(void) { return Py_AddPendingCall(interrupt_trampoline, NULL); }

int rfs_set_async_exception(unsigned long thread_id, PyObject *exception_type) {
    return PyThreadState_SetAsyncExc(thread_id, exception_type);
}

// MARK: - The _rfs_bridge builtin module

static PyObject *bridge_request(PyObject *self, PyObject *args, PyObject *kwargs) {
    (void)self;
    static char *keywords[] = {"connection_id", "method", "params_json", "timeout", NULL};
    const char *connection_id = NULL, *method = NULL, *params_json = NULL;
    Py_ssize_t connection_id_length = 0, method_length = 0, params_json_length = 0;
    PyObject *timeout_object = Py_None;  // borrowed from args/kwargs
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "s#s#s#|O:request", keywords,
                                     &connection_id, &connection_id_length, &method,
                                     &method_length, &params_json, &params_json_length,
                                     &timeout_object)) {
        return NULL;
    }
    int has_timeout = 0;
    double timeout = 0;
    if (timeout_object != Py_None) {
        timeout = PyFloat_AsDouble(timeout_object);
        if (timeout == -1.0 && PyErr_Occurred()) {
            return NULL;
        }
        if (!(timeout >= 0)) {  // also rejects NaN
            PyErr_SetString(PyExc_ValueError, "timeout must be a non-negative number or None");
            return NULL;
        }
        has_timeout = 1;
    }
    if (bridge_callbacks.request == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_rfs_bridge is not connected to the Swift worker");
        return NULL;
    }
    return bridge_callbacks.request(connection_id, connection_id_length, method, method_length,
                                    params_json, params_json_length, has_timeout, timeout);
}

static PyObject *bridge_write(PyObject *self, PyObject *args, PyObject *kwargs) {
    (void)self;
    static char *keywords[] = {"stream", "text", NULL};
    const char *stream = NULL, *text = NULL;
    Py_ssize_t stream_length = 0, text_length = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "s#s#:write", keywords, &stream,
                                     &stream_length, &text, &text_length)) {
        return NULL;
    }
    if (bridge_callbacks.write != NULL &&
        bridge_callbacks.write(stream, stream_length, text, text_length) != 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *bridge_take_interrupt(PyObject *self, PyObject *unused) {
    (void)self;
    (void)unused;
    if (bridge_callbacks.take_interrupt == NULL) {
        Py_RETURN_NONE;
    }
    return bridge_callbacks.take_interrupt();
}

/// `_rfs_bridge.sigint_handler(signum, frame)`: the run host's SIGINT handler. In C, so the
/// KeyboardInterrupt it raises shows no frame of ours in the script's traceback, exactly as
/// CPython's own default handler does.
static PyObject *bridge_sigint_handler(PyObject *self, PyObject *args) {
    (void)self;
    (void)args;
    PyObject *verdict = bridge_callbacks.take_interrupt != NULL ? bridge_callbacks.take_interrupt() : Py_NewRef(Py_None);
    if (verdict == NULL) {
        return NULL;
    }
    if (verdict == Py_False) {  // pending, but not for this moment: ignore the signal
        Py_DECREF(verdict);
        Py_RETURN_NONE;
    }
    if (PyUnicode_Check(verdict) && PyUnicode_GetLength(verdict) > 0) {
        PyErr_SetObject(PyExc_KeyboardInterrupt, verdict);
    } else {
        PyErr_SetNone(PyExc_KeyboardInterrupt);
    }
    Py_DECREF(verdict);
    return NULL;
}

// Static storage: CPython keeps pointers to the method table and module definition forever.
static PyMethodDef bridge_methods[] = {
    {"request", (PyCFunction)(void (*)(void))bridge_request, METH_VARARGS | METH_KEYWORDS,
     "request(connection_id, method, params_json, timeout=None) -> str\n\n"
     "Send a JSON-RPC request to the client of `connection_id` through the Swift worker and\n"
     "return the JSON text of the whole response object. Releases the GIL while waiting.\n"
     "Raises TimeoutError, ConnectionError or RuntimeError."},
    {"write", (PyCFunction)(void (*)(void))bridge_write, METH_VARARGS | METH_KEYWORDS,
     "write(stream, text) -> None\n\nDeliver output of the current run ('stdout' or 'stderr')."},
    {"sigint_handler", bridge_sigint_handler, METH_VARARGS,
     "sigint_handler(signum, frame)\n\n"
     "The run host's SIGINT handler: raises KeyboardInterrupt (with the worker's message, if\n"
     "any) unless an interrupt the worker asked for must wait for the script's own code."},
    {"take_interrupt", bridge_take_interrupt, METH_NOARGS,
     "take_interrupt() -> None | False | str\n\n"
     "For the run host's SIGINT handler: None when the worker asked for no interrupt, False when\n"
     "one is pending but must wait (the run's own code is not executing), else the message of\n"
     "the KeyboardInterrupt to raise now."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef bridge_module = {
    PyModuleDef_HEAD_INIT,
    "_rfs_bridge",
    "Calls from Python into the Swift worker that embeds this interpreter.",
    -1,
    bridge_methods,
    NULL, NULL, NULL, NULL,
};

static PyObject *init_rfs_bridge(void) { return PyModule_Create(&bridge_module); }

void rfs_bridge_set_callbacks(rfs_bridge_callbacks callbacks) { bridge_callbacks = callbacks; }

// MARK: - Interpreter life cycle

static void copy_error(char *error, size_t error_size, const char *what, PyStatus status) {
    if (error == NULL || error_size == 0) {
        return;
    }
    snprintf(error, error_size, "%s: %s%s%s", what,
             status.func != NULL ? status.func : "",
             status.func != NULL ? ": " : "",
             status.err_msg != NULL ? status.err_msg : "unknown error");
}

int rfs_python_initialize(const rfs_python_options *options, char *error, size_t error_size) {
    if (Py_IsInitialized()) {
        snprintf(error, error_size, "CPython is already initialised in this process");
        return -1;
    }
    static int inittab_added = 0;
    if (!inittab_added) {
        // The name must outlive the interpreter: a string literal does (DESIGN.md §5).
        if (PyImport_AppendInittab("_rfs_bridge", init_rfs_bridge) != 0) {
            snprintf(error, error_size, "PyImport_AppendInittab(_rfs_bridge) failed");
            return -1;
        }
        inittab_added = 1;
    }

    PyConfig config;
    if (options->isolated) {
        PyConfig_InitIsolatedConfig(&config);
    } else {
        PyConfig_InitPythonConfig(&config);
        config.user_site_directory = 0;
    }
    config.install_signal_handlers = options->install_signal_handlers ? 1 : 0;
    config.parse_argv = 0;
    config.write_bytecode = options->write_bytecode ? 1 : 0;
    config.site_import = options->site_import ? 1 : 0;

    PyStatus status;
    if (options->home != NULL) {
        status = PyConfig_SetBytesString(&config, &config.home, options->home);
        if (PyStatus_Exception(status)) {
            copy_error(error, error_size, "PyConfig home", status);
            PyConfig_Clear(&config);
            return -1;
        }
    }
    if (options->pycache_prefix != NULL) {
        status = PyConfig_SetBytesString(&config, &config.pycache_prefix, options->pycache_prefix);
        if (PyStatus_Exception(status)) {
            copy_error(error, error_size, "PyConfig pycache_prefix", status);
            PyConfig_Clear(&config);
            return -1;
        }
    }
    if (options->program_name != NULL) {
        status = PyConfig_SetBytesString(&config, &config.program_name, options->program_name);
        if (PyStatus_Exception(status)) {
            copy_error(error, error_size, "PyConfig program_name", status);
            PyConfig_Clear(&config);
            return -1;
        }
    }
    // CPython 3.11's _signal module installs its own C-level SIGINT handler when it is first
    // imported and finds SIGINT at SIG_DFL, even with install_signal_handlers = 0. Import it now
    // and put back what the embedding process had, so SIGINT stays the Swift side's.
    struct sigaction sigint_before;
    int have_sigint = !options->install_signal_handlers && sigaction(SIGINT, NULL, &sigint_before) == 0;

    status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status)) {
        copy_error(error, error_size, "Py_InitializeFromConfig", status);
        return -1;
    }
    PyObject *signal_module = PyImport_ImportModule("_signal");  // new reference or NULL
    if (signal_module == NULL) {
        PyErr_Clear();  // without _signal nothing can have touched SIGINT
    }
    Py_XDECREF(signal_module);
    if (have_sigint) {
        sigaction(SIGINT, &sigint_before, NULL);
    }
    return 0;
}

int rfs_python_library_prefix(char *buffer, size_t size) {
    Dl_info info;
    if (dladdr((void *)&Py_InitializeFromConfig, &info) == 0 || info.dli_fname == NULL) {
        return -1;
    }
    char resolved[PATH_MAX];
    if (realpath(info.dli_fname, resolved) == NULL) {
        return -1;
    }
    // .../lib/x86_64-linux-gnu/libpython3.11.so.1.0 or .../lib/libpython3.11.so: the prefix is
    // what comes before the last "/lib/".
    char *lib = NULL;
    for (char *found = strstr(resolved, "/lib/"); found != NULL; found = strstr(found + 1, "/lib/")) {
        lib = found;
    }
    if (lib == NULL) {
        return -1;
    }
    *lib = '\0';
    char landmark[PATH_MAX];
    snprintf(landmark, sizeof landmark, "%s/lib/python%d.%d/os.py", resolved, PY_MAJOR_VERSION, PY_MINOR_VERSION);
    struct stat status;
    if (stat(landmark, &status) != 0 || strlen(resolved) + 1 > size) {
        return -1;
    }
    memcpy(buffer, resolved, strlen(resolved) + 1);
    return 0;
}

// MARK: - Small conveniences

PyObject *rfs_unicode_from_utf8(const char *bytes, Py_ssize_t length) {
    return PyUnicode_DecodeUTF8(bytes, length, "strict");
}

PyObject *rfs_call(PyObject *callable, PyObject *args) { return PyObject_Call(callable, args, NULL); }
