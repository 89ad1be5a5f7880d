import NIOCore

/// Seeded, reproducible mutations of valid inputs for parser fuzz tests: flipped bits, overwritten,
/// inserted and deleted bytes, truncation, duplicated and swapped spans, interesting values (0, 0xFF, 0x7F, 0x80).
public struct Mutator {
    public var generator: SeededGenerator

    public init(seed: UInt64) {
        generator = SeededGenerator(seed: seed)
    }

    /// Random bytes of a random length up to `maximum`.
    public mutating func randomBytes(upTo maximum: Int) -> [UInt8] {
        (0..<Int.random(in: 0...maximum, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    /// `sample` with one to eight mutations.
    public mutating func mutate(_ sample: [UInt8]) -> [UInt8] {
        var bytes = sample
        for _ in 0..<Int.random(in: 1...8, using: &generator) {
            let index = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &generator)
            switch Int.random(in: 0..<8, using: &generator) {
            case 0 where !bytes.isEmpty: bytes[index] ^= 1 << UInt8.random(in: 0...7, using: &generator)
            case 1 where !bytes.isEmpty: bytes[index] = UInt8.random(in: 0...255, using: &generator)
            case 2: bytes.insert(UInt8.random(in: 0...255, using: &generator), at: index)
            case 3 where !bytes.isEmpty: bytes.remove(at: index)
            case 4 where !bytes.isEmpty: bytes.removeLast(Int.random(in: 0...bytes.count - index, using: &generator))
            case 5 where !bytes.isEmpty:
                let end = min(bytes.count, index + Int.random(in: 1...16, using: &generator))
                bytes.insert(contentsOf: bytes[index..<end], at: index)
            case 6 where !bytes.isEmpty: bytes[index] = [0, 0xFF, 0x7F, 0x80][Int.random(in: 0..<4, using: &generator)]
            default:
                if bytes.count > 2 {
                    let other = Int.random(in: 0..<bytes.count, using: &generator)
                    bytes.swapAt(index, other)
                }
            }
        }
        return bytes
    }

    /// `bytes` cut at random places, as a network would deliver them.
    public mutating func split(_ bytes: [UInt8]) -> [ByteBuffer] {
        var pieces: [ByteBuffer] = []
        var start = 0
        while start < bytes.count {
            let end = min(bytes.count, start + Int.random(in: 1...max(1, bytes.count / 2 + 1), using: &generator))
            pieces.append(ByteBuffer(bytes: bytes[start..<end]))
            start = end
        }
        return pieces
    }
}
