import NIOCore

/// Iterates the child boxes inside a box body, bounds-checked: a child whose size runs past
/// its parent ends the iteration with an error instead of reading outside.
struct BoxCursor {
    var buffer: ByteBuffer

    init(_ buffer: ByteBuffer) { self.buffer = buffer }

    /// The next child as (type, body), nil at the end.
    mutating func next() throws(M4FError) -> (type: FourCC, body: ByteBuffer)? {
        guard buffer.readableBytes >= 8 else { return nil }
        guard let size32 = buffer.readInteger(as: UInt32.self), let rawType = buffer.readInteger(as: UInt32.self) else { return nil }
        let type = FourCC(rawValue: rawType)
        var headerSize = 8
        var size = UInt64(size32)
        if size32 == 1 {
            guard let large = buffer.readInteger(as: UInt64.self) else {
                throw .malformedBox(type: type.description, reason: "truncated 64-bit size")
            }
            size = large
            headerSize = 16
        } else if size32 == 0 {
            size = UInt64(buffer.readableBytes + 8)
        }
        guard size >= UInt64(headerSize), size - UInt64(headerSize) <= UInt64(buffer.readableBytes) else {
            throw .invalidBoxSize(type: type.description, size: size)
        }
        guard let body = buffer.readSlice(length: Int(size) - headerSize) else {
            throw .invalidBoxSize(type: type.description, size: size)
        }
        return (type, body)
    }

    /// The body of the first child of `type`, if any.
    static func find(_ type: FourCC, in buffer: ByteBuffer) throws(M4FError) -> ByteBuffer? {
        var cursor = BoxCursor(buffer)
        while let child = try cursor.next() {
            if child.type == type { return child.body }
        }
        return nil
    }
}

extension ByteBuffer {
    /// Reads a full box's version and flags.
    mutating func readVersionAndFlags(_ type: String) throws(M4FError) -> (version: UInt8, flags: UInt32) {
        guard let word = readInteger(as: UInt32.self) else { throw .malformedBox(type: type, reason: "missing version/flags") }
        return (UInt8(word >> 24), word & 0x00FF_FFFF)
    }

    /// Reads an integer or throws naming the box and field.
    mutating func readOrThrow<T: FixedWidthInteger>(_ type: String, _ field: String, as: T.Type = T.self) throws(M4FError) -> T {
        guard let value = readInteger(as: T.self) else { throw .malformedBox(type: type, reason: "truncated at \(field)") }
        return value
    }
}
