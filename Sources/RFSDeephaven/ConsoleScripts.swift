#if Deephaven
import RFSProtocol

/// The Python `rfs` runs in a Deephaven server's console. Every value is embedded as a JSON
/// string or array literal (valid Python literals), never spliced as raw text, so a path,
/// module name or script with quotes or newlines cannot change the code around it.
///
/// Each snippet leaves nothing in the console's globals but the plugin variable it was asked for:
/// helpers are functions deleted after their call.
enum ConsoleScripts {
    /// The plugin module the server must have (the reference plugin, on PyPI as
    /// deephaven-plugin-python-remote-file-source).
    static let pluginModule = "deephaven.python_remote_file_source"

    /// Creates our own plugin object in `variable` (never VS Code's `__deephaven_vscode`); its
    /// export ticket is `s/<variable>`.
    static func createPlugin(variable: String) -> String {
        """
        from \(pluginModule) import PluginObject as _rfs_PluginObject
        \(variable) = _rfs_PluginObject()
        del _rfs_PluginObject
        """
    }

    /// Points the plugin's finder at our connection and `names` (evicting those names' cached
    /// modules, so each run imports the client's current source).
    static func setExecutionContext(variable: String, connectionID: String, names: [String]) -> String {
        "\(variable).set_execution_context(\(literal(connectionID)), set(\(literal(names))))"
    }

    /// Clears the context (evicting our modules), removes the finder the plugin left in
    /// `sys.meta_path` for our stream, and deletes the variable. Harmless if it is already gone.
    static func disposePlugin(variable: String) -> String {
        """
        def _rfs_dispose():
            import sys
            plugin = globals().pop(\(literal(variable)), None)
            if plugin is None:
                return
            plugin.set_execution_context(None, set())
            sys.meta_path[:] = [f for f in sys.meta_path if getattr(f, "_plugin", None) is not plugin]
        _rfs_dispose()
        del _rfs_dispose
        """
    }

    /// Runs `code` as `python path argv…` would: a fresh `__main__` namespace, `sys.argv` set,
    /// the script's lines in `linecache` (the server cannot read the client's file), SystemExit
    /// turned into a status, any other exception printed as Python would, without this wrapper's
    /// frame. The output is fenced by ``OutputFence`` markers; the end marker carries the status.
    static func run(code: String, path: String, argv: [String], fence: OutputFence) -> String {
        """
        def _rfs_run(code, path, argv, start, end):
            import linecache, sys, traceback
            sys.stdout.write(start)
            sys.stdout.flush()
            saved_argv = sys.argv
            sys.argv = list(argv)
            linecache.cache[path] = (len(code), None, code.splitlines(True), path)
            status = 0
            try:
                exec(compile(code, path, "exec"), {"__name__": "__main__", "__file__": path, "__builtins__": __builtins__})
            except SystemExit as exit:
                if exit.code is None:
                    status = 0
                elif isinstance(exit.code, int):
                    status = exit.code
                else:
                    print(exit.code, file=sys.stderr)
                    status = 1
            except BaseException as error:
                traceback.print_exception(type(error), error, error.__traceback__.tb_next)
                status = 1
            finally:
                sys.argv = saved_argv
                linecache.cache.pop(path, None)
                sys.stderr.flush()
                sys.stdout.flush()
                sys.stdout.write(end % status)
                sys.stdout.flush()
        _rfs_run(\(literal(code)), \(literal(path)), \(literal(argv)), \(literal(fence.start)), \(literal(fence.endFormat)))
        del _rfs_run
        """
    }

    /// Prints, between the fence's markers, one JSON object: whether the plugin is importable,
    /// its version, and every plugin object in the console's globals with its connection id and
    /// names (VS Code's `__deephaven_vscode` included).
    static func info(fence: OutputFence) -> String {
        """
        def _rfs_info(start, end):
            import json, sys
            report = {"plugin": False, "plugin_version": None, "objects": [], "error": None}
            try:
                from \(pluginModule) import PluginObject
                report["plugin"] = True
                try:
                    import importlib.metadata
                    report["plugin_version"] = importlib.metadata.version("deephaven-plugin-python-remote-file-source")
                except Exception:
                    pass
                for name, value in sorted(globals().items()):
                    if isinstance(value, PluginObject):
                        report["objects"].append({
                            "variable": name,
                            "connection_id": value._execution_context_connection_id,
                            "names": sorted(value._top_level_module_fullnames),
                        })
            except ImportError as error:
                report["error"] = str(error)
            sys.stdout.write(start + json.dumps(report) + "\\n")
            sys.stdout.write(end % 0)
            sys.stdout.flush()
        _rfs_info(\(literal(fence.start)), \(literal(fence.endFormat)))
        del _rfs_info
        """
    }

    static func literal(_ text: String) -> String { JSONValue.string(text).serialized() }
    static func literal(_ texts: [String]) -> String { JSONValue.array(texts.map(JSONValue.string)).serialized() }
}
#endif  // Deephaven
