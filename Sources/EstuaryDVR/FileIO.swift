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

    /// `O_DIRECT` (not exported by Glibc's module): I/O that bypasses the page cache.
    #if os(Linux) && arch(arm64)
        static let directFlag: Int32 = 0o200000
    #elseif os(Linux)
        static let directFlag: Int32 = 0o40000
    #else
        static let directFlag: Int32 = 0
    #endif

    /// Writes `chunks` to `path` so that it appears whole or not at all, and survives a power cut once this
    /// returns.
    ///
    /// With `direct`, the bytes go to the disk through `O_DIRECT`, bypassing the page cache: for segments,
    /// written once and read rarely, the kernel's copy into the cache is most of a buffered write's cost
    /// (measured here: a buffered write of 2 GB costs 3.4 CPU-s of system time, a direct one 0.2). Where the
    /// filesystem refuses `O_DIRECT` (tmpfs, some network filesystems), the write is buffered instead.
    static func writeAtomically(_ chunks: [ByteBuffer], to path: String, direct: Bool = false) throws(DVRError) {
        // A name of its own per writer: two writers of the same path never share a temporary file.
        let temporary = "\(path).\(String(UInt32.random(in: .min ... .max), radix: 16)).tmp"
        let flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC
        var fd = direct && directFlag != 0 ? open(temporary, flags | directFlag, 0o644) : -1
        var isDirect = fd >= 0
        if fd < 0 { fd = open(temporary, flags, 0o644) }
        guard fd >= 0 else { throw error(temporary, "create") }
        do throws(DVRError) {
            if isDirect {
                isDirect = try writeDirect(fd, chunks, path: temporary)
                if !isDirect {
                    // Refused after all: start again through the page cache.
                    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~directFlag)
                    guard ftruncate(fd, 0) == 0, lseek(fd, 0, SEEK_SET) == 0 else { throw error(temporary, "truncate") }
                }
            }
            if !isDirect {
                for chunk in chunks { try writeAll(fd, chunk, path: temporary) }
            }
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

    /// Writes `chunks` through an `O_DIRECT` descriptor, a page-aligned MiB at a time (the last piece padded
    /// with zeros, then the file cut to its true length). Returns false, having written nothing that counts,
    /// when the filesystem refuses direct writes (`EINVAL`).
    private static func writeDirect(_ fd: Int32, _ chunks: [ByteBuffer], path: String) throws(DVRError) -> Bool {
        let total = chunks.reduce(0) { $0 + $1.readableBytes }
        let done = try DirectIOBuffers.withBuffer { buffer throws(DVRError) -> Bool in
            var filled = 0
            var refused = false
            var failure: DVRError?
            /// Writes the buffer's first `filled` bytes, padded to the alignment.
            func flush() -> Bool {
                let length = (filled + DirectIOBuffers.alignment - 1) / DirectIOBuffers.alignment * DirectIOBuffers.alignment
                if length > filled { memset(buffer + filled, 0, length - filled) }
                var offset = 0
                while offset < length {
                    let written = write(fd, buffer + offset, length - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        if errno == EINVAL { refused = true } else { failure = error(path, "write") }
                        return false
                    }
                    offset += written
                }
                filled = 0
                return true
            }
            copying: for chunk in chunks {
                let ok = chunk.withUnsafeReadableBytes { raw -> Bool in
                    var consumed = 0
                    while consumed < raw.count {
                        let count = min(raw.count - consumed, DirectIOBuffers.size - filled)
                        memcpy(buffer + filled, raw.baseAddress! + consumed, count)
                        filled += count
                        consumed += count
                        if filled == DirectIOBuffers.size && !flush() { return false }
                    }
                    return true
                }
                if !ok { break copying }
            }
            if let failure { throw failure }
            if refused || (filled > 0 && !flush()) {
                if let failure { throw failure }
                return false
            }
            guard ftruncate(fd, off_t(total)) == 0 else { throw error(path, "truncate") }
            return true
        }
        return done ?? false
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
    ///
    /// With `direct`, read through `O_DIRECT` (bypassing the page cache) into a page-aligned part of the
    /// buffer: for a file read once, as replication reads each segment, that saves the kernel's copy into the
    /// cache. Where the filesystem refuses it, the read is buffered.
    static func readFile(_ path: String, direct: Bool = false) throws(DVRError) -> ByteBuffer? {
        guard let (fd, size, isDirect) = try openForReading(path, direct: direct) else { return nil }
        defer { close(fd) }
        let alignment = DirectIOBuffers.alignment
        // A direct read needs an aligned address and length: room for both around the file's bytes.
        let length = isDirect ? (size + alignment - 1) / alignment * alignment : size
        var buffer = ByteBufferAllocator().buffer(capacity: length + (isDirect ? alignment : 0))
        var failure: DVRError?
        var skip = 0
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: length + (isDirect ? alignment : 0)) { raw in
            let base = raw.baseAddress!
            if isDirect { skip = (alignment - Int(bitPattern: base) % alignment) % alignment }
            var offset = 0
            while offset < length {
                let count = read(fd, base + skip + offset, length - offset)
                if count < 0 {
                    if errno == EINTR { continue }
                    failure = error(path, "read")
                    return skip + offset
                }
                if count == 0 { break }
                offset += count
                // A direct read at an unaligned offset (after the file's last block) would fail: stop at the size.
                if offset >= size { break }
            }
            return skip + min(offset, size)
        }
        if let failure { throw failure }
        buffer.moveReaderIndex(forwardBy: skip)
        return buffer
    }

    /// Opens `path` read-only with its size; with `direct`, through `O_DIRECT` where the filesystem allows it.
    /// Nil if the file does not exist. The caller closes the descriptor.
    private static func openForReading(_ path: String, direct: Bool = false) throws(DVRError) -> (Int32, Int, Bool)? {
        var fd = direct && directFlag != 0 ? open(path, O_RDONLY | O_CLOEXEC | directFlag) : -1
        let isDirect = fd >= 0
        if fd < 0 { fd = open(path, O_RDONLY | O_CLOEXEC) }
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw error(path, "open")
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let failure = error(path, "stat")
            close(fd)
            throw failure
        }
        return (fd, Int(info.st_size), isDirect)
    }

    /// The file as ``SegmentPart``s: top-level boxes read into memory except `mdat` payloads of at least
    /// `minimumPayload` bytes, which stay ranges of the file. Nil if the file does not exist. The file is read
    /// through a window of at least `readAhead` bytes, so a run of small boxes costs one `pread`.
    static func readBoxLayout(
        _ path: String, minimumPayload: Int = 4096, readAhead: Int = 4096
    ) throws(DVRError) -> [SegmentPart]? {
        guard let (fd, size, _) = try openForReading(path) else { return nil }
        defer { close(fd) }
        var window = ByteBuffer()
        var windowStart = 0
        // The file's bytes [offset, offset + count) as a slice of the window, read if they are not in it.
        func bytes(_ count: Int, at offset: Int) throws(DVRError) -> ByteBuffer {
            if offset >= windowStart, offset + count <= windowStart + window.readableBytes {
                return window.getSlice(at: window.readerIndex + offset - windowStart, length: count)!
            }
            let length = min(size - offset, max(count, readAhead))
            var buffer = ByteBufferAllocator().buffer(capacity: length)
            var failure: DVRError?
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { raw in
                var done = 0
                while done < length {
                    let got = pread(fd, raw.baseAddress! + done, length - done, off_t(offset + done))
                    if got < 0 {
                        if errno == EINTR { continue }
                        failure = error(path, "read")
                        break
                    }
                    if got == 0 {
                        failure = .io(path: path, operation: "read", reason: "the file shrank while it was read", diskFull: false)
                        break
                    }
                    done += got
                }
                return done
            }
            if let failure { throw failure }
            window = buffer
            windowStart = offset
            return window.getSlice(at: window.readerIndex, length: count)!
        }
        var parts: [SegmentPart] = []
        var pending = ByteBuffer()
        var position = 0
        while position < size {
            // A tail that is not a whole box header is sent as stored.
            guard size - position >= 8 else {
                var tail = try bytes(size - position, at: position)
                pending.writeBuffer(&tail)
                break
            }
            var header = try bytes(8, at: position)
            var boxSize = Int(header.getInteger(at: header.readerIndex, as: UInt32.self)!)
            let isMedia = header.getString(at: header.readerIndex + 4, length: 4) == "mdat"
            var headerLength = 8
            if boxSize == 1, size - position >= 16 {
                header = try bytes(16, at: position)
                boxSize = Int(truncatingIfNeeded: header.getInteger(at: header.readerIndex + 8, as: UInt64.self)!)
                headerLength = 16
            } else if boxSize == 0 {
                boxSize = size - position
            }
            if boxSize < headerLength || boxSize > size - position { boxSize = size - position }
            if isMedia && boxSize - headerLength >= minimumPayload {
                pending.writeBuffer(&header)
                parts.append(.boxes(pending))
                pending = ByteBuffer()
                parts.append(.file(offset: position + headerLength, length: boxSize - headerLength))
            } else {
                var box = try bytes(boxSize, at: position)
                pending.writeBuffer(&box)
            }
            position += boxSize
        }
        if pending.readableBytes > 0 { parts.append(.boxes(pending)) }
        return parts
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
