#if canImport(Glibc)
import Glibc
#endif

/// Removes a directory and everything below it through descriptors (`openat` with
/// `O_NOFOLLOW`, `unlinkat`): a symbolic link anywhere inside is unlinked, never followed, so
/// nothing outside the directory can be touched, whatever a script put in its tree. Read-only
/// files go (unlinking needs only the directory's write permission); a directory without write
/// or search permission is given it back (it is ours) before its entries go.
///
/// One descriptor is open per level being removed: depth is capped at ``maxDepth`` (a run host
/// makes paths of at most PATH_MAX, far below the cap in practice).
enum TreeRemoval {
    static let maxDepth = 256

    /// Removes `name` (a directory) in the directory `parent`; `path` names it in errors.
    static func remove(_ name: String, in parent: Int32, path: String) throws(StoreError) {
        try removeDirectory(name, in: parent, path: path, depth: 0)
    }

    private static func removeDirectory(_ name: String, in parent: Int32, path: String, depth: Int) throws(StoreError) {
        guard depth < maxDepth else {
            throw StoreError("remove", path: path, detail: "the tree is more than \(maxDepth) directories deep")
        }
        var descriptor = FileSystem.openDirectory(at: parent, name)
        if descriptor < 0, errno == EACCES {
            // A directory made unreadable: it is ours, so make it ours to empty again.
            _ = fchmodat(parent, name, 0o700, 0)
            descriptor = FileSystem.openDirectory(at: parent, name)
        }
        guard descriptor >= 0 else {
            if errno == ENOENT { return }
            throw .system("open", path: path)
        }
        guard let entries = DirectoryEntries(adopting: descriptor) else { throw .system("list", path: path) }
        var madeWritable = false
        while let entry = entries.next() {
            let entryPath = path + "/" + entry
            guard let info = FileSystem.status(at: entries.descriptor, entry) else {
                if errno == ENOENT { continue }
                throw .system("inspect", path: entryPath)
            }
            if info.isDirectory {
                if !madeWritable {
                    // Entries of a read-only directory cannot be unlinked: give it back u+rwx.
                    _ = fchmod(entries.descriptor, 0o700)
                    madeWritable = true
                }
                try removeDirectory(entry, in: entries.descriptor, path: entryPath, depth: depth + 1)
                continue
            }
            if unlinkat(entries.descriptor, entry, 0) == 0 || errno == ENOENT { continue }
            if (errno == EACCES || errno == EPERM), !madeWritable {
                madeWritable = true
                if fchmod(entries.descriptor, 0o700) == 0, unlinkat(entries.descriptor, entry, 0) == 0 { continue }
            }
            throw .system("remove", path: entryPath)
        }
        if unlinkat(parent, name, AT_REMOVEDIR) != 0, errno != ENOENT {
            throw .system("remove the directory", path: path)
        }
    }
}
