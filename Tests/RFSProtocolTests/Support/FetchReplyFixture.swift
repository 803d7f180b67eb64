import RFSProtocol

/// A `fetch_module` reply as importing a package with prefetching produces it: the package's
/// spec with its modules' specs in `"prefetched"`, about `totalBytes` of Python-like source in
/// all, with what JSON escapes (quotes, backslashes, newlines, tabs) and non-ASCII text.
///
/// Shared by the tests and by `scripts/bench-envelope`, which compiles this file in.
enum FetchReplyFixture {
    static func reply(id: Int64 = 7, totalBytes: Int = 4_000_000, modules: Int = 200, style: Style = .typical) -> String {
        let perModule = totalBytes / modules
        var prefetched: [JSONValue] = []
        for number in 1..<modules {
            prefetched.append(spec(name: "pkg.mod\(number)", isPackage: false, source: source(number, bytes: perModule, style: style)))
        }
        var package = spec(name: "pkg", isPackage: true, source: source(0, bytes: perModule, style: style))
        if case .object(var members) = package {
            members["prefetched"] = .array(prefetched)
            package = .object(members)
        }
        return JSONRPCResponse(id: .number(id), result: package).serialized()
    }

    private static func spec(name: String, isPackage: Bool, source: String) -> JSONValue {
        let path = "/home/dev/src/" + name.split(separator: ".").joined(separator: "/") + (isPackage ? "/__init__.py" : ".py")
        return [
            "name": .string(name), "origin": .string(path), "is_package": .bool(isPackage),
            "submodule_search_locations": isPackage ? ["/home/dev/src/pkg"] : nil,
            "source": .string(source),
        ]
    }

    /// What the sources look like, as far as JSON is concerned.
    enum Style {
        /// Like real Python code: CPython 3.11's standard library has one byte that JSON must
        /// escape (`"`, `\`, a newline, a tab) per 27 bytes of source; this has one per 25 or so.
        case typical
        /// Every fourth byte escaped: quotes, backslashes and short lines everywhere.
        case escapeDense
    }

    private static func source(_ module: Int, bytes: Int, style: Style) -> String {
        var text = "\"\"\"Module \(module): généré pour les tests — ünïcødé 😀.\"\"\"\nimport os\nimport re\n\n"
        var block = 0
        while text.utf8.count < bytes {
            block += 1
            switch style {
            case .typical:
                text += """
                    class Widget\(block)(Base):
                        \"\"\"A widget that renders itself; see the package docs for the details.\"\"\"

                        def __init__(self, name: str, size: int = \(block)) -> None:
                            self.name = name
                            self.size = size
                            self._cache: dict[str, object] = {}

                        def render(self, path: str = "out/widget_\(block).txt", *, sep: str = "\\t") -> str:
                            if not path:
                                raise ValueError(f"no path for {self.name!r}")
                            parts = [self.name, str(self.size), "naïve café ✓"]
                            return sep.join(parts) + "\\n"

                        # Renderings are cached per size, and the cache is cleared whenever the widget is
                        # resized, so a caller that changed the size in between never gets a stale one.
                        def resize(self, size: int) -> None:
                            self._cache.clear()
                            self.size = max(0, min(size, self.MAX_SIZE))

                        @property
                        def area(self) -> int:
                            return self.size * self.size if self.size > 0 else 0


                    """
            case .escapeDense:
                text += """
                    class Widget\(block)(Base):
                        \"\"\"A widget; see 'docs\\\\widgets.md' for the \"why\".\"\"\"

                        def render_\(block)(self, path: str = 'C:\\\\tmp\\\\out', *, sep: str = "\\t") -> dict:
                        \treturn {"key": path.replace("\\\\", "/"), "n": \(block), "pattern": re.compile(r"\\d+\\s*")}  # ok ✓

                    """
            }
        }
        return text
    }
}
