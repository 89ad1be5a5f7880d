import NIOCore

/// One AMF0 value (the encoding of RTMP commands and metadata), decoded strictly: a truncated or
/// unknown value is an ``RTMPError/malformedAMF(_:)``, never a guess.
public enum AMF0Value: Sendable, Equatable {
    case number(Double)
    case boolean(Bool)
    case string(String)
    /// An anonymous object, properties in wire order.
    case object([Property])
    case null
    case undefined
    /// An associative array (`onMetaData`), properties in wire order.
    case ecmaArray([Property])
    case strictArray([AMF0Value])
    /// Milliseconds since 1970 (the time-zone field is ignored, as the specification asks).
    case date(Double)

    /// One named member of an object or associative array.
    public struct Property: Sendable, Equatable {
        public var name: String
        public var value: AMF0Value

        public init(_ name: String, _ value: AMF0Value) {
            self.name = name
            self.value = value
        }
    }

    /// The string, for `.string`.
    public var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    /// The number, for `.number`.
    public var numberValue: Double? {
        if case .number(let value) = self { return value }
        return nil
    }

    /// A member of an object or associative array.
    public subscript(name: String) -> AMF0Value? {
        switch self {
        case .object(let properties), .ecmaArray(let properties): properties.first { $0.name == name }?.value
        default: nil
        }
    }

    static let maximumDepth = 32

    /// Decodes every value in `buffer` (a command: name, transaction id, arguments).
    public static func decodeAll(_ buffer: ByteBuffer) throws(RTMPError) -> [AMF0Value] {
        var buffer = buffer
        var values: [AMF0Value] = []
        while buffer.readableBytes > 0 { values.append(try decode(from: &buffer)) }
        return values
    }

    /// Decodes one value.
    public static func decode(from buffer: inout ByteBuffer, depth: Int = 0) throws(RTMPError) -> AMF0Value {
        guard depth < maximumDepth else { throw .malformedAMF("nested deeper than \(maximumDepth) levels") }
        guard let marker = buffer.readInteger(as: UInt8.self) else { throw .malformedAMF("missing type marker") }
        switch marker {
        case 0x00:
            guard let bits = buffer.readInteger(as: UInt64.self) else { throw .malformedAMF("truncated number") }
            return .number(Double(bitPattern: bits))
        case 0x01:
            guard let byte = buffer.readInteger(as: UInt8.self) else { throw .malformedAMF("truncated boolean") }
            return .boolean(byte != 0)
        case 0x02:
            return .string(try readString(&buffer, longLength: false))
        case 0x03:
            return .object(try readProperties(&buffer, depth: depth))
        case 0x05:
            return .null
        case 0x06:
            return .undefined
        case 0x08:
            guard buffer.readInteger(as: UInt32.self) != nil else { throw .malformedAMF("truncated associative array") }
            return .ecmaArray(try readProperties(&buffer, depth: depth))
        case 0x0A:
            guard let count = buffer.readInteger(as: UInt32.self), Int(count) <= buffer.readableBytes else {
                throw .malformedAMF("strict array count beyond the message")
            }
            var values: [AMF0Value] = []
            for _ in 0..<count { values.append(try decode(from: &buffer, depth: depth + 1)) }
            return .strictArray(values)
        case 0x0B:
            guard let bits = buffer.readInteger(as: UInt64.self), buffer.readInteger(as: Int16.self) != nil else {
                throw .malformedAMF("truncated date")
            }
            return .date(Double(bitPattern: bits))
        case 0x0C:
            return .string(try readString(&buffer, longLength: true))
        default:
            throw .malformedAMF("unsupported type marker 0x\(String(marker, radix: 16))")
        }
    }

    private static func readString(_ buffer: inout ByteBuffer, longLength: Bool) throws(RTMPError) -> String {
        let length: Int? =
            longLength ? buffer.readInteger(as: UInt32.self).map(Int.init) : buffer.readInteger(as: UInt16.self).map(Int.init)
        guard let length, let text = buffer.readString(length: length) else { throw .malformedAMF("truncated string") }
        return text
    }

    private static func readProperties(_ buffer: inout ByteBuffer, depth: Int) throws(RTMPError) -> [Property] {
        var properties: [Property] = []
        while true {
            let name = try readString(&buffer, longLength: false)
            if name.isEmpty {
                guard buffer.readInteger(as: UInt8.self) == 0x09 else { throw .malformedAMF("object without its end marker") }
                return properties
            }
            properties.append(Property(name, try decode(from: &buffer, depth: depth + 1)))
        }
    }

    /// Appends the value's encoding.
    public func encode(into buffer: inout ByteBuffer) {
        switch self {
        case .number(let value):
            buffer.writeInteger(UInt8(0x00))
            buffer.writeInteger(value.bitPattern)
        case .boolean(let value):
            buffer.writeInteger(UInt8(0x01))
            buffer.writeInteger(UInt8(value ? 1 : 0))
        case .string(let text):
            let bytes = Array(text.utf8)
            if bytes.count <= Int(UInt16.max) {
                buffer.writeInteger(UInt8(0x02))
                buffer.writeInteger(UInt16(bytes.count))
            } else {
                buffer.writeInteger(UInt8(0x0C))
                buffer.writeInteger(UInt32(bytes.count))
            }
            buffer.writeBytes(bytes)
        case .object(let properties), .ecmaArray(let properties):
            if case .ecmaArray = self {
                buffer.writeInteger(UInt8(0x08))
                buffer.writeInteger(UInt32(properties.count))
            } else {
                buffer.writeInteger(UInt8(0x03))
            }
            for property in properties {
                let name = Array(property.name.utf8.prefix(Int(UInt16.max)))
                buffer.writeInteger(UInt16(name.count))
                buffer.writeBytes(name)
                property.value.encode(into: &buffer)
            }
            buffer.writeBytes([0, 0, 0x09])
        case .null:
            buffer.writeInteger(UInt8(0x05))
        case .undefined:
            buffer.writeInteger(UInt8(0x06))
        case .strictArray(let values):
            buffer.writeInteger(UInt8(0x0A))
            buffer.writeInteger(UInt32(values.count))
            for value in values { value.encode(into: &buffer) }
        case .date(let millis):
            buffer.writeInteger(UInt8(0x0B))
            buffer.writeInteger(millis.bitPattern)
            buffer.writeInteger(Int16(0))
        }
    }
}
