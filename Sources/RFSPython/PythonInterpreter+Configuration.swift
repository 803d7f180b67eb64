import CRFSPythonShim
import Foundation

extension PythonInterpreter {
    /// How the embedded interpreter is set up. The defaults isolate it from the environment of
    /// whoever started the worker: `PYTHONPATH`, `PYTHONHOME` and friends are ignored, there is
    /// no user site directory, no bytecode is written next to anyone's sources, and CPython
    /// installs no signal handlers (the Swift process owns SIGINT/SIGTERM).
    public struct Configuration: Sendable {
        /// Added to the front of `sys.path` (after the worker's own package directory), in order,
        /// like `PYTHONPATH` entries.
        public var extraSysPath: [String]
        /// Whether imports of local modules may write bytecode (to ``pycachePrefix`` when set,
        /// else to `__pycache__` next to the sources).
        public var writeBytecode: Bool
        /// A directory that holds all bytecode, mirroring the sources' paths, instead of
        /// `__pycache__` folders next to them (`PYTHONPYCACHEPREFIX`): a run host reads and
        /// writes its bytecode there, so nothing is ever written beside anyone's sources and each
        /// module compiles once per machine, not once per host start.
        public var pycachePrefix: String?
        /// Honour `PYTHONPATH`, `PYTHONHOME` and the other `PYTHON*` variables (non-isolated
        /// config). Argument parsing and signal handlers stay off either way.
        public var inheritEnvironment: Bool
        /// Run `site` at start-up (adds the system's dist-packages; never the user site).
        public var importSite: Bool
        /// Let CPython install its signal handlers (SIGINT → KeyboardInterrupt, SIGPIPE ignored),
        /// as `python` does, and interrupt runs with SIGINT to Python's main thread. For a run
        /// host, which is a process of its own; an interpreter embedded in a program that owns
        /// its signals leaves this off and is interrupted through pending calls.
        public var installSignalHandlers: Bool
        /// `PyConfig.home`; nil uses the prefix of the linked libpython (`/usr` on Debian, hence
        /// `/usr/lib/python3.11`), so the standard library always matches the interpreter.
        public var pythonHome: String?
        /// `PyConfig.program_name`; nil keeps CPython's default.
        public var programName: String?
        /// The directory that contains the `remote_file_source` package; nil uses the copy
        /// bundled as a resource of this module.
        public var packageDirectory: String?
        /// Seconds a `fetch_module` round trip of a registered connection may take before the
        /// import fails with ImportError (nil: no limit, the request handler decides).
        public var fetchTimeout: Double?
        /// Stack size of Python's owner thread; deep recursion in scripts needs room.
        public var ownerThreadStackSize: Int

        public init(
            extraSysPath: [String] = [],
            writeBytecode: Bool = false,
            inheritEnvironment: Bool = false,
            importSite: Bool = true,
            installSignalHandlers: Bool = false,
            pycachePrefix: String? = nil,
            pythonHome: String? = nil,
            programName: String? = nil,
            packageDirectory: String? = nil,
            fetchTimeout: Double? = 30,
            ownerThreadStackSize: Int = 16 << 20
        ) {
            self.extraSysPath = extraSysPath
            self.writeBytecode = writeBytecode
            self.inheritEnvironment = inheritEnvironment
            self.importSite = importSite
            self.installSignalHandlers = installSignalHandlers
            self.pycachePrefix = pycachePrefix
            self.pythonHome = pythonHome
            self.programName = programName
            self.packageDirectory = packageDirectory
            self.fetchTimeout = fetchTimeout
            self.ownerThreadStackSize = ownerThreadStackSize
        }
    }

    /// The directory holding the bundled `remote_file_source` package (the resource copied by
    /// `.copy("remote_file_source")`), i.e. the entry `sys.path` needs to import it.
    public static func bundledPackageDirectory() throws -> String {
        guard let url = Bundle.module.url(forResource: "remote_file_source", withExtension: nil) else {
            throw PythonError.initializationFailed(
                "the remote_file_source package is missing from \(Bundle.module.bundlePath)"
            )
        }
        return url.deletingLastPathComponent().path
    }
}

extension PythonInterpreter {
    /// The version of the linked CPython (`sys.version`'s first word, e.g. `3.11.2`), read
    /// without starting an interpreter: `Py_GetVersion` only formats constants of the build.
    public static var linkedVersion: String {
        String(cString: Py_GetVersion()).split(separator: " ").first.map(String.init) ?? "unknown"
    }
}
