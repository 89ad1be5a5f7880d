import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The few POSIX file operations the archive needs, with durability spelled out: write to a temporary
/// name, `fsync`, `rename`, `fsync` the directory.
enum FileIO {
    static func error(_ path: String, _ operation: String) -> DVRError {
        let code = errno
        let reason = String(cString: strerror(code))
        return .io(path: path, operation: operation, reason: reason, diskFull: code == ENOSPC || code == EDQUOT)
    }

    /// Creates a directory and its parents (0755).
    static func makeDirectories(_ path: String) throws(DVRError) {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/\(component)"
            if mkdir(current, 0o755) != 0 && errno != EEXIST { throw error(current, "mkdir") }
        }
    }

    /// Writes `chunks` to `path` so that it appears whole or not at all, and survives a power cut once this
    /// returns.
    static func writeAtomically(_ chunks: [ByteBuffer], to path: String) throws(DVRError) {
        let temporary = "\(path).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw error(temporary, "create") }
        do throws(DVRError) {
            for chunk in chunks { try writeAll(fd, chunk, path: temporary) }
            guard fsync(fd) == 0 else { throw error(temporary, "fsync") }
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let failure = self.error(path, "rename")
            unlink(temporary)
            throw failure
        }
        try syncDirectory(of: path)
    }

    /// Appends `bytes` to `path` (created if missing) and fsyncs it.
    static func append(_ bytes: ByteBuffer, to path: String) throws(DVRError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw error(path, "open") }
        defer { close(fd) }
        try writeAll(fd, bytes, path: path)
        guard fsync(fd) == 0 else { throw error(path, "fsync") }
    }

    static func syncDirectory(of path: String) throws(DVRError) {
        let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let fd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw error(directory, "open directory") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw error(directory, "fsync directory") }
    }

    private static func writeAll(_ fd: Int32, _ buffer: ByteBuffer, path: String) throws(DVRError) {
        var failure: DVRError?
        buffer.withUnsafeReadableBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = error(path, "write")
                    return
                }
                offset += written
            }
        }
        if let failure { throw failure }
    }

    /// The whole file, or nil if it does not exist.
    static func readFile(_ path: String) throws(DVRError) -> ByteBuffer? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw error(path, "open")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw error(path, "stat") }
        var buffer = ByteBufferAllocator().buffer(capacity: Int(info.st_size))
        var failure: DVRError?
        let size = Int(info.st_size)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { raw in
            var offset = 0
            while offset < size {
                let count = read(fd, raw.baseAddress! + offset, size - offset)
                if count < 0 {
                    if errno == EINTR { continue }
                    failure = error(path, "read")
                    return offset
                }
                if count == 0 { break }
                offset += count
            }
            return offset
        }
        if let failure { throw failure }
        return buffer
    }

    /// The size of a file, or nil if it does not exist.
    static func size(_ path: String) -> Int? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int(info.st_size)
    }

    /// The names in a directory (not `.`/`..`), or empty if it does not exist.
    static func list(_ path: String) -> [String] {
        guard let directory = opendir(path) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    static func remove(_ path: String) {
        unlink(path)
    }

    /// Removes a directory and everything in it (one level of files: the archive's day directories).
    static func removeTree(_ path: String) {
        for name in list(path) {
            let child = "\(path)/\(name)"
            var info = stat()
            if lstat(child, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR {
                removeTree(child)
            } else {
                unlink(child)
            }
        }
        rmdir(path)
    }

    /// Total and available bytes of the filesystem holding `path`.
    static func filesystem(_ path: String) -> (total: Int, available: Int)? {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return nil }
        return (Int(info.f_blocks) * Int(info.f_frsize), Int(info.f_bavail) * Int(info.f_frsize))
    }
}
