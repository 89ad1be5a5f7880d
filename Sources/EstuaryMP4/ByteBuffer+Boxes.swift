import NIOCore

extension ByteBuffer {
    /// Writes an ISO-BMFF box: a 32-bit size placeholder, the four-character type, the body
    /// written by `body`, then patches the size. Returns the box's total size.
    @discardableResult
    @inlinable
    public mutating func writeBox(_ type: FourCC, _ body: (inout ByteBuffer) throws -> Void) rethrows -> Int {
        let start = writerIndex
        writeInteger(UInt32(0))
        writeInteger(type.rawValue)
        try body(&self)
        let size = writerIndex - start
        setInteger(UInt32(size), at: start)
        return size
    }

    /// Writes a "full box" (a box whose body begins with a version byte and 24-bit flags).
    @discardableResult
    @inlinable
    public mutating func writeFullBox(
        _ type: FourCC, version: UInt8, flags: UInt32, _ body: (inout ByteBuffer) throws -> Void
    ) rethrows -> Int {
        try writeBox(type) { buffer in
            buffer.writeInteger(UInt32(version) << 24 | (flags & 0x00FF_FFFF))
            try body(&buffer)
        }
    }

    /// Writes `count` zero bytes.
    @inlinable
    public mutating func writeZeros(_ count: Int) {
        writeRepeatingByte(0, count: count)
    }
}
