import CRFSPythonShim
import Foundation
import RFSProtocol
import RFSWire

/// Proof that the code holding it runs on Python's owner thread with the GIL held.
///
/// Only the owner thread creates one, around each job, and lends it to the job's closure as a
/// `borrowing` parameter. Being `~Copyable`, it cannot be stored or copied out of that closure,
/// so nothing that needs the GIL can be called once the job is over. Internal C-API helpers are
/// methods on it for the same reason: no token, no Python.
public struct PythonGIL: ~Copyable {
    /// Borrowed: the `remote_file_source.worker` module. The owner thread holds the reference for
    /// the interpreter's whole life; nil only while that module is being imported.
    let worker: UnsafeMutablePointer<PyObject>?

    init(worker: UnsafeMutablePointer<PyObject>?) {
        self.worker = worker
    }

    /// Runs Python statements in a fresh namespace (with `__builtins__`).
    public func exec(_ source: String) throws {
        _ = try runString(source, start: Py_file_input, context: "exec")
    }

    /// Evaluates a Python expression in a fresh namespace and returns `str()` of the result.
    public func eval(_ expression: String) throws -> String {
        let value = try runString(expression, start: Py_eval_input, context: "eval")
        // PyObject_Str: argument borrowed; new reference or NULL.
        let text = try owned(PyObject_Str(value.pointer), context: "str() of eval result")
        return try string(from: text, context: "str() of eval result")
    }

    /// Compiles and runs `source` with PyRun_StringFlags in a new globals dict.
    private func runString(_ source: String, start: Int32, context: String) throws -> PyRef {
        let globals = try owned(PyDict_New(), context: context)
        // PyRun_StringFlags: new reference or NULL; globals/locals borrowed.
        return try owned(
            source.withCString { PyRun_StringFlags($0, start, globals.pointer, globals.pointer, nil) },
            context: context
        )
    }
}

/// An owned (strong) reference to a Python object, released exactly once when it goes away.
///
/// `~Copyable` makes the single release automatic and double releases impossible. A `PyRef` is
/// only made through a `PythonGIL` and must not outlive the job that made it (debug builds check
/// the GIL in `deinit`).
struct PyRef: ~Copyable {
    let pointer: UnsafeMutablePointer<PyObject>

    /// Takes over `pointer`, which must be a new reference.
    init(owning pointer: UnsafeMutablePointer<PyObject>) {
        self.pointer = pointer
    }

    /// Adds a reference to a borrowed `pointer`.
    init(borrowing pointer: UnsafeMutablePointer<PyObject>) {
        rfs_py_incref(pointer)
        self.pointer = pointer
    }

    /// Hands the reference to the caller (for C APIs that steal it, e.g. PyTuple_SetItem).
    consuming func consume() -> UnsafeMutablePointer<PyObject> {
        let pointer = self.pointer
        discard self
        return pointer
    }

    var isNone: Bool { rfs_py_is_none(pointer) != 0 }

    deinit {
        assert(PyGILState_Check() == 1, "a PyRef outlived its PythonGIL scope")
        rfs_py_decref(pointer)
    }
}

/// An argument for a call into Python, converted to an object with the GIL held.
enum PyArgument {
    case string(String)
    case optionalString(String?)
    case strings([String])
    case double(Double)
    /// A borrowed object; the call takes its own reference.
    case object(UnsafeMutablePointer<PyObject>)
    case none
}

extension PythonGIL {
    /// Wraps a C-API result that is a new reference, or converts the pending Python exception.
    func owned(_ pointer: UnsafeMutablePointer<PyObject>?, context: @autoclosure () -> String) throws -> PyRef {
        guard let pointer else { throw takeError(context: context()) }
        return PyRef(owning: pointer)
    }

    /// New reference to a `str` holding `text`.
    func makeString(_ text: String) throws -> PyRef {
        var text = text
        // rfs_unicode_from_utf8 (PyUnicode_DecodeUTF8): new reference or NULL.
        return try owned(
            text.withUTF8 { buffer in
                buffer.withMemoryRebound(to: CChar.self) { rfs_unicode_from_utf8($0.baseAddress, buffer.count) }
            },
            context: "str from Swift string"
        )
    }

    /// The UTF-8 contents of a `str` (borrowed object).
    func string(from object: borrowing PyRef, context: @autoclosure () -> String) throws -> String {
        var size: Py_ssize_t = 0
        // The buffer is borrowed from `object` and stays valid while it is alive.
        guard let bytes = PyUnicode_AsUTF8AndSize(object.pointer, &size) else {
            throw takeError(context: context())
        }
        return bytes.withMemoryRebound(to: UInt8.self, capacity: size) {
            String(decoding: UnsafeBufferPointer(start: $0, count: size), as: UTF8.self)
        }
    }

    /// New reference for one call argument.
    func makeObject(_ argument: PyArgument) throws -> PyRef {
        switch argument {
        case .string(let text):
            return try makeString(text)
        case .optionalString(let text):
            return try text.map { try makeString($0) } ?? PyRef(owning: rfs_py_new_none())
        case .strings(let texts):
            // PyList_New: new reference or NULL.
            let list = try owned(PyList_New(texts.count), context: "list of str")
            for (index, text) in texts.enumerated() {
                // PyList_SetItem steals the item's reference (even on failure).
                PyList_SetItem(list.pointer, index, try makeString(text).consume())
            }
            return list
        case .double(let value):
            // PyFloat_FromDouble: new reference or NULL.
            return try owned(PyFloat_FromDouble(value), context: "float")
        case .object(let pointer):
            return PyRef(borrowing: pointer)
        case .none:
            // rfs_py_new_none: a new reference to None.
            return PyRef(owning: rfs_py_new_none())
        }
    }

    /// Borrowed `object.name` as a new reference.
    func attribute(_ object: UnsafeMutablePointer<PyObject>, _ name: String) throws -> PyRef {
        // PyObject_GetAttrString: object borrowed; new reference or NULL.
        try owned(PyObject_GetAttrString(object, name), context: "getattr \(name)")
    }

    /// Calls `remote_file_source.worker.<name>(*arguments)`; new reference to the result.
    func callWorker(_ name: String, _ arguments: [PyArgument]) throws -> PyRef {
        guard worker != nil else {
            throw PythonError.unexpectedResult("remote_file_source.worker is not loaded (calling \(name))")
        }
        guard let result = try rawCallWorker(name, arguments) else {
            throw takeError(context: "remote_file_source.worker.\(name)")
        }
        return PyRef(owning: result)
    }

    /// Like `callWorker` but leaves a Python failure as the pending exception (returns nil), so
    /// the error path itself can use it without recursing into `takeError`.
    func rawCallWorker(_ name: String, _ arguments: [PyArgument]) throws -> UnsafeMutablePointer<PyObject>? {
        guard let worker else { return nil }
        // PyObject_GetAttrString / PyTuple_New: new references or NULL.
        guard let function = PyObject_GetAttrString(worker, name) else { return nil }
        let callable = PyRef(owning: function)
        guard let rawTuple = PyTuple_New(arguments.count) else { return nil }
        let tuple = PyRef(owning: rawTuple)
        for (index, argument) in arguments.enumerated() {
            // PyTuple_SetItem steals the item's reference.
            PyTuple_SetItem(tuple.pointer, index, try makeObject(argument).consume())
        }
        // PyObject_Call: callable and args borrowed; returns a new reference or NULL.
        return rfs_call(callable.pointer, tuple.pointer)
    }

    /// Calls a worker function that returns JSON text and decodes it with the wire's decoders
    /// (one JSON implementation for the whole product).
    func callWorkerJSON<T>(_ name: String, _ arguments: [PyArgument], decode: (JSONValue) throws -> T) throws -> T {
        let result = try callWorker(name, arguments)
        let text = try string(from: result, context: "result of worker.\(name)")
        do {
            return try decode(try JSONValue.parse(text))
        } catch {
            throw PythonError.unexpectedResult("worker.\(name) returned \(text.prefix(200)): \(error)")
        }
    }

    /// Takes the pending Python exception and describes it (type, message, formatted traceback).
    func takeError(context: String) -> PythonError {
        // rfs_err_take_exception: new reference (normalised, traceback attached) or NULL.
        guard let raw = rfs_err_take_exception() else {
            return .unexpectedResult("\(context): failed without setting a Python exception")
        }
        let exception = PyRef(owning: raw)
        return .exception(describe(exception: exception), context: context)
    }

    /// Describes an exception object; never throws (falls back to repr when formatting fails).
    func describe(exception: borrowing PyRef) -> PythonException {
        // rawCallWorker: new reference, or nil with a pending exception (cleared below).
        if let raw = try? rawCallWorker("describe_exception", [.object(exception.pointer)]) {
            let result = PyRef(owning: raw)
            var size: Py_ssize_t = 0
            if let bytes = PyUnicode_AsUTF8AndSize(result.pointer, &size) {
                let text = bytes.withMemoryRebound(to: UInt8.self, capacity: size) {
                    String(decoding: UnsafeBufferPointer(start: $0, count: size), as: UTF8.self)
                }
                if let json = try? JSONValue.parse(text), let described = try? PythonException(json: json) {
                    return described
                }
            }
        }
        PyErr_Clear()
        // PyObject_Repr: new reference or NULL.
        if let raw = PyObject_Repr(exception.pointer) {
            let repr = PyRef(owning: raw)
            var size: Py_ssize_t = 0
            if let bytes = PyUnicode_AsUTF8AndSize(repr.pointer, &size) {
                let text = String(decoding: Data(bytes: bytes, count: size), as: UTF8.self)
                return PythonException(type: "BaseException", message: text, traceback: text + "\n")
            }
        }
        PyErr_Clear()
        return PythonException(type: "BaseException", message: "<unprintable exception>", traceback: "")
    }
}
