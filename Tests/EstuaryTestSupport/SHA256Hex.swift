import Crypto

/// The lower-case hex sha256 of `bytes`: what the archive's `dvr/segments` lists.
public func sha256Hex(_ bytes: [UInt8]) -> String {
    SHA256.hash(data: bytes).map { byte in byte < 16 ? "0" + String(byte, radix: 16) : String(byte, radix: 16) }.joined()
}
