import EstuaryMedia
import EstuaryTestSupport
import Testing

/// Truncated and random bytes must make every parser throw a ``MediaFormatError`` or return
/// something sane; none may trap.
@Suite struct MalformedInputTests {
    /// Checks that every prefix of `full` either throws `.truncated` (all prefixes shorter than
    /// some length) or parses to the same value as `full` (all prefixes from that length on).
    private func checkPrefixes<T: Equatable>(of full: [UInt8], _ parse: ([UInt8]) throws -> T) throws {
        let expected = try parse(full)
        var firstSuccess: Int?
        for length in 0...full.count {
            do {
                let value = try parse(Array(full.prefix(length)))
                #expect(value == expected, "prefix of \(length) bytes")
                if firstSuccess == nil { firstSuccess = length }
            } catch let error as MediaFormatError {
                guard case .truncated = error else {
                    Issue.record("prefix of \(length) bytes threw \(error), not a truncation")
                    continue
                }
                #expect(firstSuccess == nil, "prefix of \(length) bytes failed after a shorter one parsed")
            }
        }
        // At least the NAL header and the fixed-length fields must be there.
        #expect((firstSuccess ?? 0) > 4)
    }

    @Test(arguments: [
        Fixtures.h264BaselineSPS, Fixtures.h264MainSPS, Fixtures.h264HighSPS, Fixtures.h264High1080SPS,
        Fixtures.h264InterlacedSPS, Fixtures.h264High422SPS, Fixtures.h264High10SPS,
    ])
    func everyPrefixOfAnH264SPS(_ sps: [UInt8]) throws {
        // The SPS is read up to frame cropping; libx264's VUI follows, so the shortest prefix
        // that parses ends before the SPS does.
        try checkPrefixes(of: sps) { try VideoInfo(h264SPS: $0) }
    }

    @Test(arguments: [Fixtures.h265SPS720, Fixtures.h265SPS1080, Fixtures.h265SPS854, Fixtures.h265SPSMain10])
    func everyPrefixOfAnH265SPS(_ sps: [UInt8]) throws {
        try checkPrefixes(of: sps) { try VideoInfo(h265SPS: $0) }
    }

    @Test func everyPrefixOfARecordOrAudioSpecificConfig() throws {
        try checkPrefixes(of: Fixtures.h264HighAvcC) { try H264Config(decoderConfigurationRecord: $0) }
        let h265 = try H265Config(vps: [Fixtures.h265VPS720], sps: [Fixtures.h265SPS720], pps: [Fixtures.h265PPS])
        try checkPrefixes(of: h265.decoderConfigurationRecord()) { try H265Config(decoderConfigurationRecord: $0) }
        try checkPrefixes(of: [0x17, 0x80, 0x49, 0xD4, 0x10]) { try AACConfig(audioSpecificConfig: $0) }
    }

    /// Runs `parse` on `input`: it must return or throw a ``MediaFormatError``.
    private func survive<T>(_ input: [UInt8], _ parse: ([UInt8]) throws -> T) -> T? {
        do {
            return try parse(input)
        } catch is MediaFormatError {
            return nil
        } catch {
            Issue.record("unexpected error \(error)")
            return nil
        }
    }

    @Test func garbageAfterAValidHeaderThrows() {
        // Runs of zeros are exp-Golomb prefixes longer than any valid code.
        #expect(throws: MediaFormatError.self) { try VideoInfo(h264SPS: [0x67, 0x64, 0x00, 0x1E] + Array(repeating: 0, count: 32)) }
        #expect(throws: MediaFormatError.self) { try VideoInfo(h265SPS: [0x42, 0x01] + Array(repeating: 0, count: 32)) }
        // All ones: a High profile SPS whose scaling lists never end.
        #expect(throws: MediaFormatError.self) { try VideoInfo(h264SPS: [0x67, 0x64, 0x00, 0x1E] + Array(repeating: 0xFF, count: 16)) }
        // All ones in H.265: seven sub-layers whose profiles run past the end.
        #expect(throws: MediaFormatError.self) { try VideoInfo(h265SPS: [0x42, 0x01] + Array(repeating: 0xFF, count: 32)) }
        // A NAL header of another type.
        #expect(throws: MediaFormatError.self) { try VideoInfo(h264SPS: [0x65] + Fixtures.h264HighSPS.dropFirst()) }
        #expect(throws: MediaFormatError.self) { try VideoInfo(h265SPS: [0x26, 0x01] + Fixtures.h265SPS720.dropFirst(2)) }
    }

    @Test func thousandRandomInputsNeverTrap() {
        var generator = SeededGenerator(seed: 0x5EED_E57A_A4E7)
        for iteration in 0..<1000 {
            let count = Int.random(in: 0...64, using: &generator)
            var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            // Give half of the inputs valid NAL headers so the parsers get past the first check.
            let h264 = bytes.isEmpty || iteration % 2 == 1 ? bytes : [0x67] + bytes.dropFirst()
            let h265 = bytes.count < 2 || iteration % 2 == 1 ? bytes : [0x42, 0x01] + bytes.dropFirst(2)
            for info in [survive(h264) { try VideoInfo(h264SPS: $0) }, survive(h265) { try VideoInfo(h265SPS: $0) }] {
                guard let info else { continue }
                #expect(info.width >= 1)
                #expect(info.height >= 1)
            }
            _ = survive(bytes) { try H264Config(decoderConfigurationRecord: $0) }
            _ = survive(bytes) { try H265Config(decoderConfigurationRecord: $0) }
            _ = survive(bytes) { try AACConfig(audioSpecificConfig: $0) }
            _ = survive(bytes) { RBSP.unescape($0) }
            if !bytes.isEmpty {
                bytes[0] = 0x01  // avcC/hvcC configurationVersion
                _ = survive(bytes) { try H264Config(decoderConfigurationRecord: $0) }
                _ = survive(bytes) { try H265Config(decoderConfigurationRecord: $0) }
            }
            var reader = BitReader(bytes)
            while (try? reader.readUE()) != nil {}
        }
    }

    @Test func mutatedRealParameterSetsNeverTrap() throws {
        var generator = SeededGenerator(seed: 42)
        let sources: [([UInt8], Bool)] = [
            (Fixtures.h264HighSPS, true), (Fixtures.h264InterlacedSPS, true), (Fixtures.h264BaselineSPS, true),
            (Fixtures.h265SPS854, false), (Fixtures.h265SPSMain10, false),
        ]
        for _ in 0..<1000 {
            let (source, isH264) = sources[Int.random(in: 0..<sources.count, using: &generator)]
            var bytes = source
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let index = Int.random(in: (isH264 ? 1 : 2)..<bytes.count, using: &generator)
                bytes[index] ^= UInt8(1) << UInt8.random(in: 0...7, using: &generator)
            }
            let info = isH264 ? survive(bytes) { try VideoInfo(h264SPS: $0) } : survive(bytes) { try VideoInfo(h265SPS: $0) }
            if let info {
                #expect(info.width >= 1 && info.height >= 1)
            }
        }
    }
}
