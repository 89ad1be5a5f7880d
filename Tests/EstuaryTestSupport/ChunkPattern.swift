import NIOCore

/// How a test cuts an input byte stream into the chunks it feeds an incremental parser, so
/// that every parser is checked against the same splits.
public enum ChunkPattern: Sendable, CustomStringConvertible {
    case whole
    case fixed(Int)
    /// These sizes in turn, then the rest in one chunk.
    case sizes([Int])
    case random(seed: UInt64, maxSize: Int)

    public var description: String {
        switch self {
        case .whole: "whole"
        case .fixed(let size): "\(size)-byte chunks"
        case .sizes(let sizes): "chunks \(sizes)"
        case .random(let seed, let maxSize): "random chunks <= \(maxSize) (seed \(seed))"
        }
    }

    /// `bytes` cut into chunks (slices of one buffer), in order; their concatenation is `bytes`.
    public func chunks(of bytes: [UInt8]) -> [ByteBuffer] {
        let whole = ByteBuffer(bytes: bytes)
        var generator = SeededGenerator(seed: 0)
        var sizes: [Int] = []
        switch self {
        case .random(let seed, _): generator = SeededGenerator(seed: seed)
        case .sizes(let list): sizes = list
        default: break
        }
        var chunks: [ByteBuffer] = []
        var offset = 0
        while offset < bytes.count {
            let size: Int
            switch self {
            case .whole: size = bytes.count
            case .fixed(let fixed): size = fixed
            case .sizes: size = sizes.isEmpty ? bytes.count : sizes.removeFirst()
            case .random(_, let maxSize): size = Int.random(in: 1...maxSize, using: &generator)
            }
            let length = min(max(size, 1), bytes.count - offset)
            if let chunk = whole.getSlice(at: offset, length: length) { chunks.append(chunk) }
            offset += length
        }
        return chunks
    }
}
