import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Page-aligned buffers for `O_DIRECT` file I/O, reused from call to call.
///
/// Guarantees: a buffer lent by ``withBuffer(_:)`` is ``size`` bytes, aligned to ``alignment``, and used by
/// that caller alone until its body returns; at most ``keptIdle`` idle buffers stay allocated (one per I/O
/// thread at a time), so the pool never holds more than 16 MiB. Reusing them avoids faulting in fresh
/// pages for every segment.
enum DirectIOBuffers {
    /// Bytes per buffer (1 MiB): a segment is written in pieces of this size.
    static let size = 1 << 20
    /// The alignment `O_DIRECT` needs of addresses, lengths and offsets (4 KiB covers 512-byte devices too).
    static let alignment = 4096
    static let keptIdle = 16
    /// Idle buffers, as addresses (`UInt` so that the pool is plainly `Sendable`).
    private static let idle = Mutex<[UInt]>([])

    /// Runs `body` with a buffer; nil when no aligned memory could be had.
    static func withBuffer<T>(_ body: (UnsafeMutableRawPointer) throws(DVRError) -> T) throws(DVRError) -> T? {
        var address = idle.withLock { $0.popLast() }.flatMap { UnsafeMutableRawPointer(bitPattern: $0) }
        if address == nil {
            var allocated: UnsafeMutableRawPointer?
            guard posix_memalign(&allocated, alignment, size) == 0, let allocated else { return nil }
            address = allocated
        }
        let buffer = address!
        defer {
            let kept = idle.withLock { idle -> Bool in
                guard idle.count < keptIdle else { return false }
                idle.append(UInt(bitPattern: buffer))
                return true
            }
            if !kept { free(buffer) }
        }
        return try body(buffer)
    }
}
